/**
 * pksctl against the PKS simulator: every test runs the real script as the command provider runs it (a child
 * process, inputs in PKSCTL_* variables) and asserts the simulator's state after each step.
 */
import { expect } from "chai";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { PKSCTL_INTERPRETER } from "../../components/pks/connection";
import { SimSettings, invocations, snapshot, writeSettings } from "../pks-simulator/state";

const ROOT = path.resolve(__dirname, "..", "..");
const SIMULATOR = path.join(ROOT, "test", "pks-simulator", "bin");
const PASSWORD = "s3cret-Pa55word!";

interface Run {
    code: number | null;
    stdout: string;
    stderr: string;
    seconds: number;
}

/** A scratch simulator (state dir, HOME, TMPDIR) and a runner of pksctl operations against it. */
class Sandbox {
    readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "pksctl-test-"));
    readonly state = path.join(this.dir, "sim");
    readonly home = path.join(this.dir, "home");
    readonly tmp = path.join(this.dir, "tmp");
    readonly runs: Run[] = [];

    constructor(settings: Partial<SimSettings> = {}) {
        fs.mkdirSync(this.home);
        fs.mkdirSync(this.tmp);
        writeSettings(this.state, {
            users: { admin: { secret: PASSWORD, admin: true }, dev: { secret: "dev-password", admin: false } },
            durations: { create: 1.5, update: 1, delete: 1 },
            ...settings,
        });
    }

    env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
        return {
            PATH: process.env.PATH,
            HOME: this.home,
            TMPDIR: this.tmp,
            PKS_SIM_STATE: this.state,
            PKSCTL_CLI: path.join(SIMULATOR, "pks"),
            PKSCTL_API: "api.pks.local",
            PKSCTL_USERNAME: "admin",
            PKSCTL_PASSWORD: PASSWORD,
            PKSCTL_SKIP_TLS_VALIDATION: "true",
            PKSCTL_POLL_SECONDS: "0.25",
            PKSCTL_TIMEOUT_SECONDS: "60",
            PKSCTL_NETWORK_PROFILE: JSON.stringify(profile()),
            PKSCTL_CLUSTER: JSON.stringify(cluster()),
            ...extra,
        };
    }

    /** Runs `pksctl <operation>` exactly as the command provider does (same interpreter, no shell). */
    run(operation: string, extra: Record<string, string> = {}): Promise<Run> {
        const started = Date.now();
        return new Promise((resolve, reject) => {
            const [program, ...args] = PKSCTL_INTERPRETER;
            const child = spawn(program, [...args, operation], { cwd: ROOT, env: this.env(extra) });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
            child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
            child.on("error", reject);
            child.on("close", (code) => {
                const run = { code, stdout, stderr, seconds: (Date.now() - started) / 1000 };
                this.runs.push(run);
                resolve(run);
            });
        });
    }

    snapshot() {
        return snapshot(this.state);
    }

    settings(patch: Partial<SimSettings>): void {
        writeSettings(this.state, patch);
    }

    cleanup(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

function profile(overrides: Partial<{ name: string; description: string; parameters: Record<string, unknown> }> = {}) {
    return { name: "network-profile-medium", description: "network profile with medium size LB", parameters: { lb_size: "medium" }, ...overrides };
}

function cluster(overrides: Record<string, unknown> = {}) {
    return { name: "medium-lb-cluster", externalHostname: "mediumlb", plan: "large", numNodes: 4, networkProfile: "network-profile-medium", ...overrides };
}

function expectOk(run: Run): void {
    expect(run.code, `pksctl failed:\n${run.stderr}`).to.equal(0);
}

describe("pksctl against the PKS simulator", function () {
    this.timeout(120_000);
    let box: Sandbox;
    beforeEach(() => { box = new Sandbox(); });
    afterEach(() => box.cleanup());

    it("runs the whole lifecycle: profile, cluster with progress, credentials, resize in place, delete", async () => {
        // Long enough for several polls in each wait, even on a loaded machine.
        box.settings({ durations: { create: 4, update: 2, delete: 4 } });
        expectOk(await box.run("create-network-profile"));
        let state = await box.snapshot();
        expect(state.profiles["network-profile-medium"].parameters).to.deep.equal({ lb_size: "medium" });
        expect(state.profiles["network-profile-medium"].description).to.equal("network profile with medium size LB");

        const created = await box.run("create-cluster");
        expectOk(created);
        expect(created.stderr).to.match(/cluster medium-lb-cluster: CREATE in progress: .* \(\d+s elapsed\)/);
        expect(created.stderr).to.match(/CREATE succeeded: Instance provisioning completed/);
        const summary = JSON.parse(created.stdout) as { uuid: string; workerNodes: number; masterIps: string[]; masterHost: string; masterPort: number };
        state = await box.snapshot();
        const c = state.clusters["medium-lb-cluster"];
        expect(c).to.include({ plan_name: "large", external_hostname: "mediumlb", worker_instances: 4, network_profile_name: "network-profile-medium", last_action_state: "succeeded" });
        expect(summary).to.include({ uuid: c.uuid, workerNodes: 4, masterHost: "mediumlb", masterPort: 8443 });
        expect(summary.masterIps).to.deep.equal(c.master_ips).and.not.include("In Progress");

        const creds = await box.run("get-credentials");
        expectOk(creds);
        const kubeconfig = YAML.parse(creds.stdout) as { "current-context": string; clusters: Array<{ name: string; cluster: { server: string } }>; users: Array<{ user: { token: string } }> };
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
        expect(deleted.stderr).to.include("cluster medium-lb-cluster: deleted");
        expect((await box.snapshot()).clusters).to.deep.equal({});
        expect(invocations(box.state).filter((a) => a[0] === "delete-cluster")).to.deep.equal([["delete-cluster", "medium-lb-cluster", "--non-interactive"]]);

        expectOk(await box.run("delete-network-profile"));
        expect((await box.snapshot()).profiles).to.deep.equal({});
    });

    it("fails a create with PKS's description, and a re-run replaces the failed remains and converges", async () => {
        expectOk(await box.run("create-network-profile"));
        box.settings({ failCreate: { "medium-lb-cluster": "BOSH task 42: timed out waiting for master VM" } });
        const failed = await box.run("create-cluster");
        expect(failed.code).to.equal(1);
        expect(failed.stdout).to.equal("");
        expect(failed.stderr).to.match(/pksctl: create of cluster medium-lb-cluster: PKS reports 'failed': Instance provisioning failed: .*BOSH task 42: timed out waiting for master VM/);
        const broken = (await box.snapshot()).clusters["medium-lb-cluster"];
        expect(broken.last_action_state).to.equal("failed");

        box.settings({ failCreate: {} });
        const rerun = await box.run("create-cluster");
        expectOk(rerun);
        expect(rerun.stderr).to.include("an earlier create failed");
        const fixed = (await box.snapshot()).clusters["medium-lb-cluster"];
        expect(fixed.last_action_state).to.equal("succeeded");
        expect(fixed.uuid).to.not.equal(broken.uuid);
    });

    it("gives up at the timeout naming the state, and a re-run adopts the cluster and resumes waiting", async () => {
        box.settings({ durations: { create: 4, update: 1, delete: 1 } });
        expectOk(await box.run("create-network-profile"));
        const timedOut = await box.run("create-cluster", { PKSCTL_TIMEOUT_SECONDS: "1" });
        expect(timedOut.code).to.equal(1);
        expect(timedOut.stderr).to.match(/waiting for cluster medium-lb-cluster: timed out after 1s with CREATE in progress .*run `pulumi up` again to resume/);
        expect(timedOut.seconds, "gives up instead of waiting for the 4 s create").to.be.lessThan(20);
        const resumed = await box.run("create-cluster");
        expectOk(resumed);
        expect(resumed.stderr).to.include("already exists with the same settings; adopting it");
        expect(invocations(box.state).filter((a) => a[0] === "create-cluster")).to.have.length(1);
        expect((await box.snapshot()).clusters["medium-lb-cluster"].last_action_state).to.equal("succeeded");
    });

    it("adopts identical existing resources and refuses different ones, naming the differences", async () => {
        expectOk(await box.run("create-network-profile"));
        const again = await box.run("create-network-profile");
        expectOk(again);
        expect(again.stderr).to.include("network profile network-profile-medium already exists with the same settings; adopting it");

        const conflict = await box.run("create-network-profile", { PKSCTL_NETWORK_PROFILE: JSON.stringify(profile({ parameters: { lb_size: "large" } })) });
        expect(conflict.code).to.equal(1);
        expect(conflict.stderr).to.include('parameters.lb_size: existing "medium", desired "large"');
        expect(conflict.stderr).to.include("give the changed profile a new name");

        expectOk(await box.run("create-cluster"));
        const adopted = await box.run("create-cluster");
        expectOk(adopted);
        expect(adopted.stderr).to.include("cluster medium-lb-cluster already exists with the same settings; adopting it");

        const other = await box.run("create-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ plan: "small", numNodes: 3 })) });
        expect(other.code).to.equal(1);
        expect(other.stderr).to.include('plan: existing "large", desired "small"');
        expect(other.stderr).to.include("worker nodes: existing 4, desired 3");
        expect(Object.keys((await box.snapshot()).clusters)).to.deep.equal(["medium-lb-cluster"]);
    });

    it("counts resources that are already gone as deleted", async () => {
        const cluster = await box.run("delete-cluster");
        expectOk(cluster);
        expect(cluster.stderr).to.include("cluster medium-lb-cluster is already gone");
        const profile = await box.run("delete-network-profile");
        expectOk(profile);
        expect(profile.stderr).to.include("network profile network-profile-medium is already gone");
    });

    it("refuses to delete a profile in use, naming the clusters that use it", async () => {
        expectOk(await box.run("create-network-profile"));
        expectOk(await box.run("create-cluster"));
        const refused = await box.run("delete-network-profile");
        expect(refused.code).to.equal(1);
        expect(refused.stderr).to.match(/deleting network profile network-profile-medium: .*still used by cluster\(s\) medium-lb-cluster/);
        expect(Object.keys((await box.snapshot()).profiles)).to.deep.equal(["network-profile-medium"]);
    });

    it("moves a cluster onto another profile in place with update-cluster --network-profile", async () => {
        expectOk(await box.run("create-network-profile"));
        const next = profile({ name: "network-profile-medium-v2", parameters: { lb_size: "medium", nodes_dns: ["10.0.0.2"] } });
        expectOk(await box.run("create-network-profile", { PKSCTL_NETWORK_PROFILE: JSON.stringify(next) }));
        expectOk(await box.run("create-cluster"));
        const moved = await box.run("update-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ networkProfile: "network-profile-medium-v2" })) });
        expectOk(moved);
        expect((await box.snapshot()).clusters["medium-lb-cluster"].network_profile_name).to.equal("network-profile-medium-v2");
        expectOk(await box.run("delete-network-profile"));
        expect(Object.keys((await box.snapshot()).profiles)).to.deep.equal(["network-profile-medium-v2"]);
    });

    it("recreates a cluster that vanished outside Pulumi when asked to update it", async () => {
        const recreated = await box.run("update-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ networkProfile: undefined })) });
        expectOk(recreated);
        expect(recreated.stderr).to.include("no longer exists in PKS; creating it again");
        expect((await box.snapshot()).clusters["medium-lb-cluster"].last_action_state).to.equal("succeeded");
    });

    it("reports a rejected login naming the API and user, and the CLI's plan limit", async () => {
        const rejected = await box.run("create-network-profile", { PKSCTL_PASSWORD: "wrong-password" });
        expect(rejected.code).to.equal(1);
        expect(rejected.stderr).to.include("pksctl: logging in to api.pks.local as user admin: Credentials were rejected, please try again.");
        expect(rejected.stderr).to.not.include("wrong-password");

        const tooMany = await box.run("create-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ networkProfile: undefined, numNodes: 51 })) });
        expect(tooMany.code).to.equal(1);
        expect(tooMany.stderr).to.include("creating cluster medium-lb-cluster: Invalid number of worker nodes 51: plan large allows 1 to 50 worker nodes");
    });

    it("logs in again when the session expires during a long wait", async () => {
        // Sessions live 3 s (a CLI call can take over a second on a loaded machine); the create takes 8 s.
        box.settings({ accessTokenTtlSeconds: 3, refreshTokenTtlSeconds: 3, durations: { create: 8, update: 1, delete: 1 } });
        const run = await box.run("create-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ networkProfile: undefined })) });
        expectOk(run);
        expect(run.stderr).to.include("session expired; logging in to api.pks.local again");
        expect(invocations(box.state).filter((a) => a[0] === "login").length).to.be.greaterThan(1);
    });

    it("needs an administrator for network profiles", async () => {
        const run = await box.run("create-network-profile", { PKSCTL_USERNAME: "dev", PKSCTL_PASSWORD: "dev-password" });
        expect(run.code).to.equal(1);
        expect(run.stderr).to.include("You do not have enough privileges to perform this action. Please contact the PKS administrator.");
    });

    it("drives tkgi and client-credential logins the same way", async () => {
        box.settings({ clients: { automation: { secret: "client-Secret-123", admin: true } } });
        const run = await box.run("create-network-profile", {
            PKSCTL_CLI: path.join(SIMULATOR, "tkgi"),
            PKSCTL_USERNAME: "", PKSCTL_PASSWORD: "",
            PKSCTL_CLIENT_NAME: "automation", PKSCTL_CLIENT_SECRET: "client-Secret-123",
        });
        expectOk(run);
        expect(Object.keys((await box.snapshot()).profiles)).to.deep.equal(["network-profile-medium"]);
        const logins = invocations(box.state).filter((a) => a[0] === "login");
        expect(logins).to.deep.equal([["login", "-a", "api.pks.local", "--client-name", "automation", "-k"]]);
    });

    it("logs in with --ca-cert when a CA certificate is given", async () => {
        const pem = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUZmFrZQ==\n-----END CERTIFICATE-----\n";
        expectOk(await box.run("create-network-profile", { PKSCTL_SKIP_TLS_VALIDATION: "false", PKSCTL_CA_CERT: pem }));
        const [login] = invocations(box.state).filter((a) => a[0] === "login");
        expect(login.slice(0, 5)).to.deep.equal(["login", "-a", "api.pks.local", "-u", "admin"]);
        expect(login[5]).to.equal("--ca-cert");
        expect(login).to.not.include("-k");
    });

    it("says which CLI is missing", async () => {
        const run = await box.run("create-network-profile", { PKSCTL_CLI: "/nonexistent/tkgi" });
        expect(run.code).to.equal(1);
        expect(run.stderr).to.include("'/nonexistent/tkgi' was not found; install the pks or tkgi CLI, or set pksCli to its path");
    });

    it("never puts a secret on an argv or a logged line, and never touches the user's own PKS or kube config", async () => {
        fs.mkdirSync(path.join(box.home, ".pks"));
        fs.mkdirSync(path.join(box.home, ".kube"));
        fs.writeFileSync(path.join(box.home, ".pks", "creds.yml"), "user: someone-else\n");
        fs.writeFileSync(path.join(box.home, ".kube", "config"), "current-context: production\n");

        expectOk(await box.run("create-network-profile"));
        expectOk(await box.run("create-cluster"));
        const creds = await box.run("get-credentials");
        expectOk(creds);
        const token = (YAML.parse(creds.stdout) as { users: Array<{ user: { token: string } }> }).users[0].user.token;
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
    });

    it("keeps parallel runs in separate sessions", async () => {
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
    });
});
