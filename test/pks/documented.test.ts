/**
 * pksctl rests only on what TKGI documents. With the simulator's `wording: "altered"`, every error text the
 * documents do not show is worded differently, and so is the documented `Cluster NAME not found`: pksctl must
 * still run the whole lifecycle, since it decides what exists and in which state from the documented JSON
 * documents and listings alone. And it logs in with documented flags only: a user's password on the CLI's
 * prompt, a client's secret as `--client-secret`.
 */
import { expect } from "chai";
import * as path from "path";
import { runToEnd } from "../support/process";
import { PASSWORD, SIMULATOR, Sandbox, cluster, concurrentTests, expectFailure, expectOk, profile, withBox } from "../support/sandbox";

const NAME = "medium-lb-cluster";

/** What the simulator answers, under the box's settings, for `args` (logged in as the administrator first). */
async function simulator(box: Sandbox, args: string[]): Promise<string> {
    const env = { PATH: process.env.PATH, HOME: box.home, PKS_SIM_STATE: box.state, PKS_HOME: path.join(box.dir, "direct") };
    await runToEnd(path.join(SIMULATOR, "pks"), ["login", "-a", "api.pks.local", "-u", "admin", "-k"], { env, stdin: `${PASSWORD}\n` });
    return (await runToEnd(path.join(SIMULATOR, "pks"), args, { env })).stderr;
}

describe("pksctl on the documented output only", function () {
    this.timeout(60_000);
    concurrentTests(4, [
        ["runs the whole lifecycle with every undocumented error text (and 'Cluster NAME not found') worded differently", withBox(async (box) => {
            box.settings({ wording: "altered", durations: { create: 2, update: 1, delete: 2 } });
            // The texts pksctl meets on the way really are altered.
            expect(await simulator(box, ["cluster", NAME, "--json"])).to.match(/^Error: the request did not succeed \(altered wording [0-9a-f]{8}\)\n$/);
            expect(await simulator(box, ["network-profile", "network-profile-medium", "--json"])).to.match(/altered wording/);

            expectOk(await box.run("claim-network-profile"));
            expectOk(await box.run("create-network-profile"));
            expect((await box.run("create-network-profile")).stderr, "a re-run adopts its own profile").to.include("already exists with the same settings; adopting it");
            const claim = await box.run("claim-cluster");
            expectOk(claim);
            expect(JSON.parse(claim.stdout)).to.not.have.property("existingUuid");
            const created = await box.run("create-cluster");
            expectOk(created);
            expect(created.stderr).to.match(/CREATE succeeded: Instance provisioning completed/);
            const { uuid } = JSON.parse(created.stdout) as { uuid: string };
            expectOk(await box.run("get-credentials", { PKSCTL_OWNERSHIP: JSON.stringify({ uuid, adopt: false, tag: true }) }));
            const recorded = { PULUMI_COMMAND_STDOUT: created.stdout };
            expectOk(await box.run("update-cluster", { ...recorded, PKSCTL_CLUSTER: JSON.stringify(cluster({ numNodes: 5 })) }));
            expect((await box.snapshot()).clusters[NAME]).to.include({ worker_instances: 5, last_action_state: "succeeded" });

            const deleted = await box.run("delete-cluster", recorded);
            expectOk(deleted);
            expect(deleted.stderr).to.include(`cluster ${NAME}: deleted: PKS no longer lists it`);
            expect((await box.run("delete-cluster", recorded)).stderr).to.include(`cluster ${NAME} is already gone: PKS does not list it`);
            expectOk(await box.run("delete-network-profile"));
            expect((await box.run("delete-network-profile")).stderr).to.include("network profile network-profile-medium is already gone");
            expect((await box.snapshot())).to.deep.include({ clusters: {}, profiles: {} });
            for (const run of box.runs) {
                expect(run.stderr, "no decision quoted a not-found text").to.not.match(/not found/i);
            }
        })],
        ["still reports a failure with PKS's (altered) text, and a failed create with its BOSH deployment", withBox(async (box) => {
            box.settings({ wording: "altered", failCreate: { [NAME]: "no capacity" } });
            const unknownPlan = await box.run("create-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ plan: "huge", networkProfile: undefined })) });
            expectFailure(unknownPlan, /^pksctl: creating cluster medium-lb-cluster: the request did not succeed \(altered wording [0-9a-f]{8}\)$/);
            const failed = await box.run("create-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ networkProfile: undefined })) });
            const { uuid } = (await box.snapshot()).clusters[NAME];
            expectFailure(failed, `bosh -e <environment> delete-deployment -d service-instance_${uuid}`);
        })],
        ["logs a user in with -u and the password on the CLI's prompt, never as an argument", withBox(async (box) => {
            expectOk(await box.run("create-network-profile"));
            const logins = box.calls("login");
            expect(logins).to.deep.equal([["login", "-a", "api.pks.local", "-u", "admin", "-k"]]);
            for (const argv of box.calls("login")) {
                expect(argv).to.not.include("-p").and.not.include(PASSWORD);
            }
        })],
        ["logs a client in with --client-name and --client-secret (the simulator, like the documents, offers no secret prompt)", withBox(async (box) => {
            box.settings({ clients: { automation: { secret: "client-Secret-123", admin: true } } });
            const env = { PATH: process.env.PATH, HOME: box.home, PKS_SIM_STATE: box.state, PKS_HOME: path.join(box.dir, "direct") };
            const prompted = await runToEnd(path.join(SIMULATOR, "tkgi"), ["login", "-a", "api.pks.local", "--client-name", "automation", "-k"], { env, stdin: "client-Secret-123\n" });
            expect(prompted.code, "no undocumented prompt to fall back on").to.equal(1);
            const run = await box.run("create-network-profile", { PKSCTL_USERNAME: "", PKSCTL_PASSWORD: "", PKSCTL_CLIENT_NAME: "automation", PKSCTL_CLIENT_SECRET: "client-Secret-123" });
            expectOk(run);
            expect(box.calls("login").slice(-1)).to.deep.equal([["login", "-a", "api.pks.local", "--client-name", "automation", "--client-secret", "client-Secret-123", "-k"]]);
            expect(Object.keys((await box.snapshot()).profiles)).to.deep.equal([profile().name]);
        })],
    ]);
});
