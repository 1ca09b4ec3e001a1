/**
 * The stack adopts, updates and deletes only the profiles and clusters it created, unless the user opts in
 * (pksAdoptExisting, PKSCTL_OWNERSHIP.adopt). It recognises its own by what survives an interrupted `pulumi up`:
 * the claim it recorded before the first create (a marker, and whether the name was free), the ownership tag sent
 * with create-cluster, and the uuid it recorded once the create succeeded.
 */
import { expect } from "chai";
import { MARKER, OWNED, Sandbox, cluster, concurrentTests, expectFailure, expectOk, isAlive, ownership, profile, waitFor, withBox } from "../support/sandbox";

const NAME = "medium-lb-cluster";

/** The events of a successful run's document. */
function events(stdout: string): string[] {
    return (JSON.parse(stdout) as { events: string[] }).events;
}

/** Kills `pksctl create-cluster` with SIGKILL while it waits on PKS's create, as the command provider does on cancel. */
async function interruptedCreate(box: Sandbox, extra: Record<string, string>): Promise<void> {
    box.settings({ durations: { create: 8, update: 2, delete: 2 } });
    const { child, done } = box.start("create-cluster", extra);
    expect(await waitFor(() => box.calls("create-cluster").length === 1 && box.calls("cluster").length >= 2, 20_000), "the create is waited on").to.equal(true);
    child.kill("SIGKILL");
    await done;
    await waitFor(() => box.homes().length === 0 && box.liveCli().every((p) => !isAlive(p.pid)), 5000);
}

describe("pksctl and what the stack did not create", function () {
    this.timeout(60_000);
    concurrentTests(6, [
        ["claims a free name with a random marker, and records a name PKS already has", withBox(async (box) => {
            const free = JSON.parse((await box.run("claim-cluster")).stdout) as Record<string, unknown>;
            expect(free).to.include({ name: NAME }).and.not.have.property("existingUuid");
            expect(free.marker).to.match(/^[0-9a-f]{16}$/);
            expect((JSON.parse((await box.run("claim-cluster")).stdout) as { marker: string }).marker, "a new marker each time").to.not.equal(free.marker);
            const taken = await box.seedCluster({ tags: [] });
            const claim = await box.run("claim-cluster");
            expect(JSON.parse(claim.stdout)).to.include({ existingUuid: taken.uuid });
            expect(events(claim.stdout)[0]).to.include("will not adopt it unless pksAdoptExisting is true");
            await box.seedProfile();
            expect(JSON.parse((await box.run("claim-network-profile")).stdout)).to.include({ existingUuid: "uuid-of-network-profile-medium" });
        })],
        ["creates the cluster with the claim's ownership tag, and the user's tags beside it", withBox(async (box) => {
            await box.seedProfile();
            expectOk(await box.run("create-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ tags: { team: "platform" } })) }));
            expect(box.calls("create-cluster")[0]).to.include.members(["--tags", `team:platform,pks-istio-mesh-owner:${MARKER}`]);
            const resized = await box.run("update-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ tags: { team: "mesh" } })) });
            expectOk(resized);
            expect(box.calls("update-cluster")[0], "--tags replaces all tags: the ownership tag is kept").to.include(`team:mesh,pks-istio-mesh-owner:${MARKER}`);
        })],
        ["refuses to adopt a cluster with the same settings that the stack did not create, unless the user opts in", withBox(async (box) => {
            await box.seedCluster({ tags: [] });
            const refused = await box.run("create-cluster");
            expectFailure(refused, `pksctl: creating cluster ${NAME}: PKS already has a cluster of this name that this stack did not create (it has no pks-istio-mesh-owner tag). ` +
                "Choose another name, or set pksAdoptExisting to true to adopt it (pulumi destroy then deletes it)");
            const adopted = await box.run("create-cluster", { PKSCTL_OWNERSHIP: ownership({ adopt: true }) });
            expectOk(adopted);
            expect(events(adopted.stdout)[0]).to.equal("warning: cluster: adopting one this stack did not create, as pksAdoptExisting allows (it has no pks-istio-mesh-owner tag); pulumi destroy will delete it");
            expect(box.calls("create-cluster")).to.deep.equal([]);
        })],
        ["refuses a cluster that carries another stack's ownership tag", withBox(async (box) => {
            await box.seedCluster({ tags: [{ ...OWNED, value: "fedcba9876543210" }] });
            expectFailure(await box.run("create-cluster"), "(its pks-istio-mesh-owner tag is another stack's (fedcba9876543210))");
        })],
        ["adopts its own cluster after an interrupted create by the ownership tag", withBox(async (box) => {
            await box.seedProfile();
            await interruptedCreate(box, {});
            const resumed = await box.run("create-cluster");
            expectOk(resumed);
            expect(resumed.stderr).to.include(`cluster ${NAME} already exists with the same settings; adopting it (CREATE in progress)`);
            expect(box.calls("create-cluster"), "never created twice").to.have.length(1);
        })],
        ["where the platform takes no tags, adopts its own cluster after an interrupted create by the claim, and refuses one PKS had before", withBox(async (box) => {
            await box.seedProfile();
            const tagless = { PKSCTL_OWNERSHIP: ownership({ tag: false }) };
            await interruptedCreate(box, tagless);
            expect((await box.snapshot()).clusters[NAME].tags, "no ownership tag sent").to.deep.equal([]);
            const resumed = await box.run("create-cluster", tagless);
            expectOk(resumed);
            expect(box.calls("create-cluster")).to.have.length(1);
            const { uuid } = (await box.snapshot()).clusters[NAME];
            const before = await box.run("create-cluster", { PKSCTL_OWNERSHIP: ownership({ tag: false, claim: { marker: MARKER, existingUuid: uuid } }) });
            expectFailure(before, `(PKS already had it (uuid ${uuid}) when this stack claimed the name)`);
        })],
        ["falls back on the claim when PKS shows no tags at all", withBox(async (box) => {
            const seeded = await box.seedCluster({ tags: [] });
            // A cluster document without parameters.cluster_tags (its shape is not documented).
            const document = {
                name: NAME, uuid: seeded.uuid, plan_name: "large", last_action: "CREATE", last_action_state: "succeeded", last_action_description: "",
                network_profile_name: "network-profile-medium", parameters: { kubernetes_master_host: "mediumlb", kubernetes_worker_instances: 4 },
            };
            box.faults({ command: "cluster", times: 10, kind: "output", stdout: JSON.stringify(document) });
            const run = await box.run("create-cluster");
            expectOk(run);
            expect(run.stderr).to.include("adopting it (CREATE succeeded)");
        })],
        ["updates, deletes and fetches credentials only of the cluster whose uuid the stack recorded", withBox(async (box) => {
            await box.seedCluster();
            const recorded = { PULUMI_COMMAND_STDOUT: JSON.stringify({ name: NAME, uuid: "00000000-0000-4000-8000-0000000000ff" }) };
            const why = "(PKS has uuid 00000000-0000-4000-8000-000000000001, the stack recorded 00000000-0000-4000-8000-0000000000ff: it was deleted and created again outside this stack)";
            expectFailure(await box.run("update-cluster", { ...recorded, PKSCTL_CLUSTER: JSON.stringify(cluster({ numNodes: 6 })) }), `the cluster in PKS is not the one this stack created ${why}`);
            expectFailure(await box.run("delete-cluster", recorded), `pksctl: deleting cluster ${NAME}: the cluster in PKS is not the one this stack created ${why}`);
            expectFailure(await box.run("get-credentials", { PKSCTL_OWNERSHIP: ownership({ uuid: "00000000-0000-4000-8000-0000000000ff" }) }), why);
            expect(box.calls("update-cluster").length + box.calls("delete-cluster").length + box.calls("get-credentials").length).to.equal(0);
            const managed = await box.run("delete-cluster", { ...recorded, PKSCTL_OWNERSHIP: ownership({ adopt: true }) });
            expectOk(managed);
            expect(events(managed.stdout)[0]).to.match(/^warning: cluster: managing one this stack did not create, as pksAdoptExisting allows/);
            expect((await box.snapshot()).clusters).to.deep.equal({});
        })],
        ["adopts a profile only if it appeared after the claim, and deletes only the one whose uuid it recorded", withBox(async (box) => {
            await box.seedProfile();
            const own = await box.run("create-network-profile");
            expectOk(own);
            expect(own.stderr, "appeared after the claim (the stack's interrupted create)").to.include("adopting it");
            const before = { PKSCTL_OWNERSHIP: ownership({ claim: { marker: MARKER, existingUuid: "uuid-of-network-profile-medium" } }) };
            expectFailure(await box.run("create-network-profile", before), "PKS already has a network profile of this name that this stack did not create");
            expectFailure(await box.run("delete-network-profile", { PULUMI_COMMAND_STDOUT: JSON.stringify({ ...profile(), uuid: "uuid-of-another" }) }),
                "the network profile in PKS is not the one this stack created (PKS has uuid uuid-of-network-profile-medium, the stack recorded uuid-of-another");
            expectOk(await box.run("delete-network-profile", { PULUMI_COMMAND_STDOUT: own.stdout }));
            expect((await box.snapshot()).profiles).to.deep.equal({});
        })],
    ]);
});
