/**
 * pksctl against the PKS simulator: every test runs the real script as the command provider runs it (a child
 * process, inputs in PKSCTL_* variables) and asserts the simulator's state after each step. The simulator runs on
 * a virtual clock (each CLI call is a second), so a 30-minute create costs a few polls, not 30 minutes.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { invocations } from "../../local/pks-simulator/state";
import { boshDeleteDeployment } from "../../local/pks-simulator/operator";
import { PASSWORD, SIMULATOR, cluster, concurrentTests, expectFailure, expectOk, profile, withBox } from "../support/sandbox";

describe("pksctl against the PKS simulator", function () {
    this.timeout(60_000);
    concurrentTests(6, [
        ["runs the whole lifecycle: profile, cluster with progress, credentials, resize in place, delete", withBox(async (box) => {
            // Polls that see the operation in progress (on the virtual clock every CLI call takes a second).
            box.settings({ durations: { create: 2, update: 1, delete: 2 } });
            expectOk(await box.run("create-network-profile"));
            let state = await box.snapshot();
            expect(state.profiles["network-profile-medium"].parameters).to.deep.equal({ lb_size: "medium" });
            expect(state.profiles["network-profile-medium"].description).to.equal("network profile with medium size LB");

            const created = await box.run("create-cluster");
            expectOk(created);
            expect(created.stderr).to.match(/cluster medium-lb-cluster: CREATE in progress: .* \(\d+s elapsed\)/);
            expect(created.stderr).to.match(/CREATE succeeded: Instance provisioning completed/);
            const summary = JSON.parse(created.stdout) as { uuid: string; workerNodes: number; masterIps: string[]; masterHost: string; masterPort: number; events: string[]; finishedAt: string };
            state = await box.snapshot();
            const c = state.clusters["medium-lb-cluster"];
            expect(c).to.include({ plan_name: "large", external_hostname: "mediumlb", worker_instances: 4, network_profile_name: "network-profile-medium", last_action_state: "succeeded" });
            expect(summary).to.include({ uuid: c.uuid, workerNodes: 4, masterHost: "mediumlb", masterPort: 8443 });
            expect(summary.masterIps).to.deep.equal(c.master_ips).and.not.include("In Progress");
            expect(summary.events, "why the wait ended stays visible after the run").to.have.length(1);
            expect(summary.events[0]).to.match(/^cluster medium-lb-cluster: CREATE succeeded: Instance provisioning completed \(\d+s elapsed\)$/);
            expect(Date.parse(summary.finishedAt)).to.be.closeTo(Date.now(), 60_000);

            const creds = await box.run("get-credentials");
            expectOk(creds);
            const document = JSON.parse(creds.stdout) as { kubeconfig: string; events: string[] };
            expect(document.events).to.deep.equal([]);
            const kubeconfig = YAML.parse(document.kubeconfig) as { "current-context": string; clusters: Array<{ name: string; cluster: { server: string } }>; users: Array<{ user: { token: string } }> };
            expect(kubeconfig["current-context"]).to.equal("medium-lb-cluster");
            expect(kubeconfig.clusters[0].cluster.server).to.equal("https://mediumlb:8443");
            expect(kubeconfig.users[0].user.token).to.match(/^[0-9a-f]{64}$/);

            const resized = await box.run("update-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ numNodes: 6 })) });
            expectOk(resized);
            expect(resized.stderr).to.include("updating worker nodes of cluster medium-lb-cluster from 4 to 6");
            state = await box.snapshot();
            expect(state.clusters["medium-lb-cluster"]).to.include({ uuid: c.uuid, worker_instances: 6, last_action: "UPDATE", last_action_state: "succeeded" });
            const updateCalls = invocations(box.state).filter((a) => a[0] === "update-cluster");
            expect(updateCalls).to.deep.equal([["update-cluster", "medium-lb-cluster", "--num-nodes", "6", "--non-interactive", "--wait"]]);

            const unchanged = await box.run("update-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ numNodes: 6 })) });
            expectOk(unchanged);
            expect(invocations(box.state).filter((a) => a[0] === "update-cluster")).to.have.length(1);

            const deleted = await box.run("delete-cluster");
            expectOk(deleted);
            expect(deleted.stderr).to.match(/DELETE in progress: Instance deletion in progress/);
            expect(deleted.stderr).to.include("cluster medium-lb-cluster: deleted: PKS no longer lists it");
            expect((JSON.parse(deleted.stdout) as { events: string[] }).events[0]).to.match(/^cluster medium-lb-cluster: deleted/);
            expect((await box.snapshot()).clusters).to.deep.equal({});
            expect(invocations(box.state).filter((a) => a[0] === "delete-cluster")).to.deep.equal([["delete-cluster", "medium-lb-cluster", "--non-interactive"]]);

            expectOk(await box.run("delete-network-profile"));
            expect((await box.snapshot()).profiles).to.deep.equal({});
        })],
        ["fails a create with PKS's description and the BOSH deployment to remove; a re-run after its removal deletes the remains and converges", withBox(async (box) => {
            await box.seedProfile();
            box.settings({ failCreate: { "medium-lb-cluster": "BOSH task 42: timed out waiting for master VM" } });
            const failed = await box.run("create-cluster");
            const broken = (await box.snapshot()).clusters["medium-lb-cluster"];
            expect(broken.last_action_state).to.equal("failed");
            const remove = `\`bosh -e <environment> delete-deployment -d service-instance_${broken.uuid}\``;
            expectFailure(failed, new RegExp("^pksctl: create of cluster medium-lb-cluster: PKS reports 'failed': Instance provisioning failed: .*BOSH task 42: timed out waiting for master VM\\. " +
                "TKGI does not remove a failed create's BOSH deployment"));
            expect(failed.stderr).to.include(`remove it with ${remove}, then run \`pulumi up\` again (pksctl then runs \`pks delete-cluster medium-lb-cluster\` and creates the cluster anew)`);

            // Run again before the BOSH deployment is gone: one delete-cluster, which fails; the same advice; no loop.
            box.settings({ failCreate: {} });
            const early = await box.run("create-cluster");
            expectFailure(early, `pksctl: deleting the remains of the failed create of cluster medium-lb-cluster: PKS reports 'failed': Instance deletion failed:`);
            expect(early.stderr).to.include(remove);
            expect(box.calls("delete-cluster")).to.have.length(1);
            expect(box.calls("create-cluster"), "no second create while the remains are there").to.have.length(1);

            // The operator removes the deployment (troubleshoot-issues): delete-cluster, then create-cluster.
            await boshDeleteDeployment(box.state, "medium-lb-cluster");
            const rerun = await box.run("create-cluster");
            expectOk(rerun);
            expect(rerun.stderr).to.include("an earlier create failed");
            expect(box.calls("delete-cluster")).to.have.length(2);
            expect(box.calls("create-cluster")).to.have.length(2);
            const fixed = (await box.snapshot()).clusters["medium-lb-cluster"];
            expect(fixed.last_action_state).to.equal("succeeded");
            expect(fixed.uuid).to.not.equal(broken.uuid);
        })],
        ["gives up at the timeout naming the state, and a re-run adopts the cluster and resumes waiting", withBox(async (box) => {
            box.settings({ durations: { create: 60, update: 1, delete: 1 } });
            await box.seedProfile();
            const timedOut = await box.run("create-cluster", { PKSCTL_TIMEOUT_SECONDS: "2" });
            expect(timedOut.code).to.equal(1);
            expect(timedOut.stderr).to.match(/waiting for cluster medium-lb-cluster: timed out after 2s with CREATE in progress .*run `pulumi up` again to resume/);
            expect(timedOut.seconds, "gives up at the deadline").to.be.lessThan(10);
            expect((await box.snapshot()).clusters["medium-lb-cluster"].last_action_state).to.equal("in progress");
            // Ten seconds a call from now on: the rest of the create takes a few polls.
            box.settings({ clock: { mode: "virtual", stepSeconds: 10 } });
            const resumed = await box.run("create-cluster");
            expectOk(resumed);
            expect(resumed.stderr).to.include("already exists with the same settings; adopting it (CREATE in progress)");
            expect(resumed.stderr).to.match(/CREATE in progress: Instance provisioning in progress/);
            expect((JSON.parse(resumed.stdout) as { events: string[] }).events[0]).to.include("adopting it (CREATE in progress)");
            expect(invocations(box.state).filter((a) => a[0] === "create-cluster")).to.have.length(1);
            expect((await box.snapshot()).clusters["medium-lb-cluster"].last_action_state).to.equal("succeeded");
        })],
        ["adopts identical existing resources and refuses different ones, naming the differences", withBox(async (box) => {
            expectOk(await box.run("create-network-profile"));
            const again = await box.run("create-network-profile");
            expectOk(again);
            expect(again.stderr).to.include("network profile network-profile-medium already exists with the same settings; adopting it");
            expect((JSON.parse(again.stdout) as { events: string[] }).events).to.deep.equal(["network profile network-profile-medium already exists with the same settings; adopting it"]);

            const conflict = await box.run("create-network-profile", { PKSCTL_NETWORK_PROFILE: JSON.stringify(profile({ parameters: { lb_size: "large" } })) });
            expect(conflict.code).to.equal(1);
            expect(conflict.stderr).to.include('parameters.lb_size: existing "medium", desired "large"');
            expect(conflict.stderr).to.include("give the changed profile a new name");

            await box.seedCluster();
            const adopted = await box.run("create-cluster");
            expectOk(adopted);
            expect(adopted.stderr).to.include("cluster medium-lb-cluster already exists with the same settings; adopting it");
            expect((JSON.parse(adopted.stdout) as { events: string[] }).events[0]).to.equal("cluster medium-lb-cluster already exists with the same settings; adopting it (CREATE succeeded)");

            const other = await box.run("create-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ plan: "small", numNodes: 3 })) });
            expect(other.code).to.equal(1);
            expect(other.stderr).to.include('plan: existing "large", desired "small"');
            expect(other.stderr).to.include("worker nodes: existing 4, desired 3");
            expect(Object.keys((await box.snapshot()).clusters)).to.deep.equal(["medium-lb-cluster"]);
        })],
        ["counts resources that are already gone as deleted", withBox(async (box) => {
            const cluster = await box.run("delete-cluster");
            expectOk(cluster);
            expect(cluster.stderr).to.include("cluster medium-lb-cluster is already gone");
            expect(JSON.parse(cluster.stdout)).to.include({}).and.have.property("events").that.deep.equals(["cluster medium-lb-cluster is already gone: PKS does not list it"]);
            const profile = await box.run("delete-network-profile");
            expectOk(profile);
            expect(profile.stderr).to.include("network profile network-profile-medium is already gone: PKS does not list it");
        })],
        ["refuses to delete a profile in use, naming the clusters that use it", withBox(async (box) => {
            await box.seedProfile();
            await box.seedCluster();
            const refused = await box.run("delete-network-profile");
            expect(refused.code).to.equal(1);
            expect(refused.stderr).to.match(/deleting network profile network-profile-medium: .*still used by cluster\(s\) medium-lb-cluster/);
            expect(Object.keys((await box.snapshot()).profiles)).to.deep.equal(["network-profile-medium"]);
        })],
        ["moves a cluster onto another profile in place with update-cluster --network-profile", withBox(async (box) => {
            await box.seedProfile();
            await box.seedProfile(profile({ name: "network-profile-medium-v2", parameters: { lb_size: "medium", nodes_dns: ["10.0.0.2"] } }));
            await box.seedCluster();
            const moved = await box.run("update-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ networkProfile: "network-profile-medium-v2" })) });
            expectOk(moved);
            expect((await box.snapshot()).clusters["medium-lb-cluster"].network_profile_name).to.equal("network-profile-medium-v2");
            expectOk(await box.run("delete-network-profile"));
            expect(Object.keys((await box.snapshot()).profiles)).to.deep.equal(["network-profile-medium-v2"]);
        })],
        ["recreates a cluster that vanished outside Pulumi when asked to update it", withBox(async (box) => {
            const recreated = await box.run("update-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ networkProfile: undefined })) });
            expectOk(recreated);
            expect(recreated.stderr).to.include("is no longer listed by PKS; creating it again");
            expect((JSON.parse(recreated.stdout) as { events: string[] }).events[0]).to.equal("warning: cluster medium-lb-cluster is no longer listed by PKS; creating it again");
            expect((await box.snapshot()).clusters["medium-lb-cluster"].last_action_state).to.equal("succeeded");
        })],
        ["reports a rejected login naming the API and user, and the CLI's plan limit", withBox(async (box) => {
            const rejected = await box.run("create-network-profile", { PKSCTL_PASSWORD: "wrong-password" });
            expect(rejected.code).to.equal(1);
            expect(rejected.stderr).to.include("pksctl: logging in to api.pks.local as user admin: Credentials were rejected, please try again.");
            expect(rejected.stderr).to.not.include("wrong-password");

            const tooMany = await box.run("create-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ networkProfile: undefined, numNodes: 51 })) });
            expect(tooMany.code).to.equal(1);
            expect(tooMany.stderr).to.include("creating cluster medium-lb-cluster: Invalid number of worker nodes 51: plan large allows 1 to 50 worker nodes");
        })],
        ["logs in again when the session expires during a long wait", withBox(async (box) => {
            // Sessions live 3 s of the simulator's clock (3 CLI calls); the create takes 8 s.
            box.settings({ accessTokenTtlSeconds: 3, refreshTokenTtlSeconds: 3, durations: { create: 8, update: 1, delete: 1 } });
            const run = await box.run("create-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ networkProfile: undefined })) });
            expectOk(run);
            expect(run.stderr).to.include("session expired; logging in to api.pks.local again (PKS: You are not currently authenticated. Please log in to continue)");
            expect((JSON.parse(run.stdout) as { events: string[] }).events).to.include("warning: session expired; logging in to api.pks.local again (PKS: You are not currently authenticated. Please log in to continue)");
            expect(invocations(box.state).filter((a) => a[0] === "login").length).to.be.greaterThan(1);
        })],
        ["needs an administrator for network profiles", withBox(async (box) => {
            const run = await box.run("create-network-profile", { PKSCTL_USERNAME: "dev", PKSCTL_PASSWORD: "dev-password" });
            expect(run.code).to.equal(1);
            expect(run.stderr).to.include("You do not have enough privileges to perform this action. Please contact the PKS administrator.");
        })],
        ["drives tkgi, and logs a client in with --client-secret on that call's argument list only", withBox(async (box) => {
            box.settings({ clients: { automation: { secret: "client-Secret-123", admin: true } } });
            const run = await box.run("create-network-profile", {
                PKSCTL_CLI: path.join(SIMULATOR, "tkgi"),
                PKSCTL_USERNAME: "", PKSCTL_PASSWORD: "",
                PKSCTL_CLIENT_NAME: "automation", PKSCTL_CLIENT_SECRET: "client-Secret-123",
            });
            expectOk(run);
            expect(Object.keys((await box.snapshot()).profiles)).to.deep.equal(["network-profile-medium"]);
            // Every documented client login passes --client-secret; no other call, line or document has the secret.
            const logins = invocations(box.state).filter((a) => a[0] === "login");
            expect(logins).to.deep.equal([["login", "-a", "api.pks.local", "--client-name", "automation", "--client-secret", "client-Secret-123", "-k"]]);
            for (const argv of invocations(box.state).filter((a) => a[0] !== "login")) {
                expect(argv.join(" ")).to.not.include("client-Secret-123");
            }
            expect(run.stderr + run.stdout).to.not.include("client-Secret-123");
            const rejected = await box.run("delete-network-profile", { PKSCTL_USERNAME: "", PKSCTL_PASSWORD: "", PKSCTL_CLIENT_NAME: "automation", PKSCTL_CLIENT_SECRET: "wrong-Secret-456" });
            expectFailure(rejected, "pksctl: logging in to api.pks.local as client automation: Credentials were rejected, please try again.");
            expect(rejected.stderr).to.not.include("wrong-Secret-456");
        })],
        ["logs in with --ca-cert when a CA certificate is given", withBox(async (box) => {
            const pem = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUZmFrZQ==\n-----END CERTIFICATE-----\n";
            expectOk(await box.run("create-network-profile", { PKSCTL_SKIP_TLS_VALIDATION: "false", PKSCTL_CA_CERT: pem }));
            const [login] = invocations(box.state).filter((a) => a[0] === "login");
            expect(login.slice(0, 5)).to.deep.equal(["login", "-a", "api.pks.local", "-u", "admin"]);
            expect(login[5]).to.equal("--ca-cert");
            expect(login).to.not.include("-k");
        })],
        ["says which CLI is missing", withBox(async (box) => {
            const run = await box.run("create-network-profile", { PKSCTL_CLI: "/nonexistent/tkgi" });
            expect(run.code).to.equal(1);
            expect(run.stderr).to.include("'/nonexistent/tkgi' was not found; install the pks or tkgi CLI, or set pksCli to its path");
        })],
        ["never puts the user's password on an argv or a logged line, and never touches the user's own PKS or kube config", withBox(async (box) => {
            fs.mkdirSync(path.join(box.home, ".pks"));
            fs.mkdirSync(path.join(box.home, ".kube"));
            fs.writeFileSync(path.join(box.home, ".pks", "creds.yml"), "user: someone-else\n");
            fs.writeFileSync(path.join(box.home, ".kube", "config"), "current-context: production\n");

            expectOk(await box.run("create-network-profile"));
            expectOk(await box.run("create-cluster"));
            const creds = await box.run("get-credentials");
            expectOk(creds);
            const token = (YAML.parse((JSON.parse(creds.stdout) as { kubeconfig: string }).kubeconfig) as { users: Array<{ user: { token: string } }> }).users[0].user.token;
            expectOk(await box.run("update-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ numNodes: 5 })) }));
            expectOk(await box.run("delete-cluster"));
            expectOk(await box.run("delete-network-profile"));
            // A failure too: its message is what Pulumi shows.
            expect((await box.run("create-network-profile", { PKSCTL_PASSWORD: `${PASSWORD}-old` })).code).to.equal(1);

            for (const argv of invocations(box.state)) {
                expect(argv.join(" ")).to.not.include(PASSWORD);
            }
            box.runs.forEach((run, i) => {
                expect(run.stderr, `stderr of run ${i}`).to.not.include(PASSWORD).and.not.include(token);
                if (run.stdout !== creds.stdout) {
                    expect(run.stdout, `stdout of run ${i}`).to.not.include(PASSWORD).and.not.include(token);
                }
            });
            expect(fs.readFileSync(path.join(box.home, ".pks", "creds.yml"), "utf8")).to.equal("user: someone-else\n");
            expect(fs.readFileSync(path.join(box.home, ".kube", "config"), "utf8")).to.equal("current-context: production\n");
            expect(fs.readdirSync(box.tmp).filter((f) => f.startsWith("pksctl-")), "private homes are removed").to.deep.equal([]);
            expect(fs.readdirSync(box.tmp), "nothing else is left in TMPDIR either (the profile file lives in the private home)").to.deep.equal([]);
        })],
        ["hands get-credentials the password in the environment when OIDC asks for it again", withBox(async (box) => {
            await box.seedCluster();
            box.settings({ oidc: true });
            const creds = await box.run("get-credentials");
            expectOk(creds);
            expect((JSON.parse(creds.stdout) as { kubeconfig: string }).kubeconfig).to.include("current-context: medium-lb-cluster");
            for (const argv of invocations(box.state)) {
                expect(argv.join(" ")).to.not.include(PASSWORD);
            }
        })],
        ["keeps parallel runs in separate sessions", withBox(async (box) => {
            const second = profile({ name: "network-profile-large", parameters: { lb_size: "large" } });
            const runs = await Promise.all([
                box.run("create-network-profile"),
                box.run("create-network-profile", { PKSCTL_NETWORK_PROFILE: JSON.stringify(second) }),
                box.run("create-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ name: "other", externalHostname: "other", networkProfile: undefined })) }),
            ]);
            runs.forEach(expectOk);
            const state = await box.snapshot();
            expect(Object.keys(state.profiles).sort()).to.deep.equal(["network-profile-large", "network-profile-medium"]);
            expect(state.clusters.other.last_action_state).to.equal("succeeded");
        })],
    ]);
});
