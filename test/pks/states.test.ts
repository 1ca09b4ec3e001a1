/**
 * The states and operations TKGI documents, through pksctl against the simulator: `queued` (an upgrade the tile
 * runs), `error`, clusters that lag the control plane's TKGI version and `upgrade-cluster`, the tile's automatic
 * retry of a failed update, and the rules of attaching and detaching network profiles and of tags.
 */
import { expect } from "chai";
import { runUpgradeErrand } from "../../local/pks-simulator/operator";
import { DEFAULT_SETTINGS } from "../../local/pks-simulator/state";
import { Sandbox, cluster, concurrentTests, expectFailure, expectOk, profile, withBox } from "../support/sandbox";

const NAME = "medium-lb-cluster";
const OLD = "1.18.5-build.10";
const CURRENT = "1.19.2-build.10";

/** The events of a successful run's document. */
function events(stdout: string): string[] {
    return (JSON.parse(stdout) as { events: string[] }).events;
}

/** A cluster the stack created, on the TKGI version before the control plane's, and its recorded document. */
async function lagging(box: Sandbox, tags = true): Promise<Record<string, string>> {
    const seeded = await box.seedCluster({ pks_version: OLD, k8s_version: "1.27.15", ...(tags ? {} : { tags: [] }) });
    return { PULUMI_COMMAND_STDOUT: JSON.stringify({ name: NAME, uuid: seeded.uuid }) };
}

describe("pksctl and the documented states and operations", function () {
    this.timeout(60_000);
    concurrentTests(6, [
        // --- queued and error ------------------------------------------------------------------------------------
        ["waits through an upgrade queued by the tile's errand before it updates, and never starts into it", withBox(async (box) => {
            await box.seedCluster({ name: "first", external_hostname: "first" });
            await box.seedCluster();
            box.settings({ durations: { create: 3, update: 2, delete: 2, upgrade: 3 } });
            await runUpgradeErrand(box.state, ["first", NAME]);
            expect((await box.snapshot()).clusters[NAME].last_action_state, "upgraded after the first cluster").to.equal("queued");
            const run = await box.run("update-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ numNodes: 6 })) });
            expectOk(run);
            expect(run.stderr).to.include(`cluster ${NAME}: UPGRADE queued; waiting for it to end before updating it`);
            expect(run.stderr).to.match(/UPGRADE in progress: Instance upgrade in progress/);
            expect(run.stderr.indexOf("UPGRADE succeeded")).to.be.lessThan(run.stderr.indexOf("updating worker nodes"));
            expect(box.calls("update-cluster"), "one update, after the upgrade (the simulator refuses one into it)").to.have.length(1);
            expect((await box.snapshot()).clusters[NAME]).to.include({ worker_instances: 6, last_action: "UPDATE", last_action_state: "succeeded" });
        })],
        ["waits through a queued upgrade before it deletes", withBox(async (box) => {
            await box.seedCluster({ name: "first", external_hostname: "first" });
            await box.seedCluster();
            box.settings({ durations: { create: 3, update: 2, delete: 2, upgrade: 5 } });
            await runUpgradeErrand(box.state, ["first", NAME]);
            const run = await box.run("delete-cluster");
            expectOk(run);
            expect(run.stderr).to.include("UPGRADE queued; waiting for it to end before deleting it");
            expect(Object.keys((await box.snapshot()).clusters)).to.deep.equal(["first"]);
        })],
        ["reports a create that ends in 'error' with PKS's description and the BOSH deployment to remove", withBox(async (box) => {
            await box.seedProfile();
            box.settings({ failState: "error", failCreate: { [NAME]: "no space left on device" } });
            const run = await box.run("create-cluster");
            const { uuid } = (await box.snapshot()).clusters[NAME];
            expectFailure(run, new RegExp(`^pksctl: create of cluster ${NAME}: PKS reports 'error': Instance provisioning failed: .*no space left on device\\. .*service-instance_${uuid}`));
        })],

        // --- Clusters behind the control plane's TKGI version, and upgrade-cluster -------------------------------
        ["refuses, before any call, every update of a lagging cluster with tags (the ownership tag counts)", withBox(async (box) => {
            const recorded = await lagging(box);
            const run = await box.run("update-cluster", { ...recorded, PKSCTL_CLUSTER: JSON.stringify(cluster({ numNodes: 6 })) });
            expectFailure(run, `pksctl: updating worker nodes of cluster ${NAME}: cluster ${NAME} runs TKGI ${OLD}, behind the control plane (upgrade available to ${CURRENT}): ` +
                "until it is upgraded, update-cluster cannot change its network profile or tags, and, as it has tags, cannot update it at all. " +
                `Upgrade it with \`upgrade-cluster ${NAME}\`, or set clusterUpgrade to true`);
            expect(box.calls("update-cluster")).to.deep.equal([]);
        })],
        ["resizes a lagging cluster without tags with a warning, but refuses its network profile before any call", withBox(async (box) => {
            const recorded = await lagging(box, false);
            await box.seedProfile(profile({ name: "network-profile-medium-v2", parameters: { lb_size: "medium", nodes_dns: ["10.0.0.2"] } }));
            const untagged = { ...recorded, PKSCTL_OWNERSHIP: JSON.stringify({ adopt: false, tag: false }) };
            const resized = await box.run("update-cluster", { ...untagged, PKSCTL_CLUSTER: JSON.stringify(cluster({ numNodes: 6 })) });
            expectOk(resized);
            expect(events(resized.stdout)[0]).to.match(new RegExp(`^warning: cluster ${NAME} runs TKGI ${OLD}, behind the control plane`));
            const moved = await box.run("update-cluster", { ...untagged, PKSCTL_CLUSTER: JSON.stringify(cluster({ numNodes: 6, networkProfile: "network-profile-medium-v2" })) });
            expectFailure(moved, `pksctl: updating network profile of cluster ${NAME}: cluster ${NAME} runs TKGI ${OLD}`);
            expect(box.calls("update-cluster")).to.have.length(1);
            const creds = await box.run("get-credentials", untagged);
            expectOk(creds);
            expect(events(creds.stdout)[0], "every run that reads the cluster says so").to.match(/^warning: cluster medium-lb-cluster runs TKGI 1\.18\.5-build\.10/);
        })],
        ["with clusterUpgrade, upgrades a lagging cluster first (waited on through queued, like a create), then updates it", withBox(async (box) => {
            const recorded = await lagging(box);
            box.settings({ durations: { create: 3, update: 2, delete: 2, upgrade: 4, queue: 2 } });
            const status = await box.run("cluster-status");
            expectOk(status);
            expect(JSON.parse(status.stdout)).to.include({ exists: true, tkgiVersion: OLD, upgradeTo: CURRENT });
            const run = await box.run("update-cluster", { ...recorded, PKSCTL_CLUSTER: JSON.stringify(cluster({ numNodes: 6, upgradeTo: CURRENT })) });
            expectOk(run);
            expect(box.calls("upgrade-cluster")).to.deep.equal([["upgrade-cluster", NAME, "--non-interactive"]]);
            expect(run.stderr).to.match(/UPGRADE queued: Instance upgrade queued/);
            expect(run.stderr).to.match(/UPGRADE in progress: Instance upgrade in progress/);
            expect(events(run.stdout)).to.include(`cluster ${NAME}: upgraded to TKGI ${CURRENT}`);
            expect(JSON.parse(run.stdout)).to.include({ tkgiVersion: CURRENT, workerNodes: 6 });
            expect((await box.snapshot()).clusters[NAME]).to.include({ pks_version: CURRENT, worker_instances: 6 });
            const after = JSON.parse((await box.run("cluster-status")).stdout) as Record<string, unknown>;
            expect(after).to.include({ exists: true, tkgiVersion: CURRENT }).and.not.have.property("upgradeTo");
            expect(JSON.parse((await box.run("cluster-status", { PKSCTL_CLUSTER: JSON.stringify(cluster({ name: "absent" })) })).stdout)).to.include({ exists: false });
        })],
        ["gives an upgrade its own time limit, and reports a failed one with PKS's description", withBox(async (box) => {
            const recorded = await lagging(box);
            box.settings({ durations: { create: 3, update: 2, delete: 2, upgrade: 100 } });
            const slow = await box.run("update-cluster", { ...recorded, PKSCTL_UPGRADE_TIMEOUT_SECONDS: "3", PKSCTL_CLUSTER: JSON.stringify(cluster({ upgradeTo: CURRENT })) });
            expectFailure(slow, new RegExp(`^pksctl: waiting for cluster ${NAME}: timed out after 3s with UPGRADE in progress .* or raise clusterUpgradeTimeoutMinutes$`));
            const other = await box.seedCluster({ name: "other", external_hostname: "other", pks_version: OLD });
            box.settings({ durations: { create: 3, update: 2, delete: 2, upgrade: 2 }, failUpgrade: { other: "canary failed" } });
            const failed = await box.run("update-cluster", {
                PULUMI_COMMAND_STDOUT: JSON.stringify({ uuid: other.uuid }), PKSCTL_CLUSTER: JSON.stringify(cluster({ name: "other", externalHostname: "other", upgradeTo: CURRENT })),
            });
            expectFailure(failed, /^pksctl: upgrade of cluster other: PKS reports 'failed': Instance upgrade failed: .*canary failed$/);
        })],

        // --- The tile's automatic retry of a failed update (cli/index.html.md.erb, update-cluster) -------------
        ["accepts an update that the tile retried until it succeeded, with one update-cluster call", withBox(async (box) => {
            await box.seedCluster();
            box.settings({ updateRetries: 3, failUpdate: { [NAME]: "drain timed out" }, failUpdateAttempts: { [NAME]: 2 } });
            const run = await box.run("update-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ numNodes: 6 })) });
            expectOk(run);
            expect(box.calls("update-cluster")).to.have.length(1);
            expect((await box.snapshot()).clusters[NAME]).to.include({ worker_instances: 6, last_action_state: "succeeded" });
        })],
        ["reports an update that failed after the tile's retries, with PKS's description, without repeating it", withBox(async (box) => {
            await box.seedCluster();
            box.settings({ updateRetries: 3, failUpdate: { [NAME]: "drain timed out" } });
            const run = await box.run("update-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ numNodes: 6 })) });
            expectFailure(run, /^pksctl: updating worker nodes of cluster medium-lb-cluster from 4 to 6: PKS reports 'failed': Instance update failed: .*drain timed out$/);
            expect(box.calls("update-cluster")).to.have.length(1);
        })],

        // --- Network profiles: attach and detach (network-profiles-define.html.md.erb) ------------------------
        ["refuses, before any call, to attach a profile with pod IP blocks to a cluster without one unless it lists the tile's block", withBox(async (box) => {
            await box.seedCluster({ network_profile_name: "" });
            await box.seedProfile(profile({ name: "more-pod-ips", parameters: { pod_ip_block_ids: ["new-block"] } }));
            const attach = (extra: Record<string, unknown>) => box.run("update-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ networkProfile: "more-pod-ips", ...extra })) });
            const unknown = await attach({});
            expectFailure(unknown, "PKS attaches such a profile only when its pod_ip_block_ids also lists the tile's Pods IP Block");
            expect(unknown.stderr).to.include("set networkProfileTilePodIpBlockId to it");
            const tile = DEFAULT_SETTINGS.tilePodIpBlockId;
            expectFailure(await attach({ tilePodIpBlockId: tile }), `Add ${tile} (networkProfileTilePodIpBlockId) to networkProfileParameters.pod_ip_block_ids under a new networkProfileName`);
            expect(box.calls("update-cluster"), "refused before any update-cluster").to.deep.equal([]);

            await box.seedProfile(profile({ name: "more-pod-ips-v2", parameters: { pod_ip_block_ids: [tile, "new-block"] } }));
            expectOk(await box.run("update-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ networkProfile: "more-pod-ips-v2", tilePodIpBlockId: tile })) }));
            expect((await box.snapshot()).clusters[NAME].network_profile_name).to.equal("more-pod-ips-v2");
        })],
        ["refuses, before any call, to detach a cluster's network profile (not documented)", withBox(async (box) => {
            await box.seedCluster();
            const run = await box.run("update-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ networkProfile: undefined })) });
            expectFailure(run, "the cluster uses network profile network-profile-medium, and TKGI documents no way to detach one");
            expect(box.calls("update-cluster")).to.deep.equal([]);
        })],
        ["refuses tags with BOSH's reserved names, and its own ownership tag, before any call", withBox(async (box) => {
            const run = await box.run("create-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ tags: { name: "mesh", "pks-istio-mesh-owner": "x" } })) });
            expectFailure(run, "pksctl: reading inputs: PKSCTL_CLUSTER: does not have the expected shape (tags.name: \"name\" is one of BOSH's reserved tag names " +
                "(deployment, director, id, index, instance_group, job, name), which TKGI ignores; tags.pks-istio-mesh-owner: pks-istio-mesh-owner is the ownership tag pksctl sets itself)");
            expect(box.calls("login")).to.deep.equal([]);
        })],
    ]);
});
