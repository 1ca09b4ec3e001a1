/**
 * The PKS simulator itself, driven like a user drives the CLI: the behaviours pksctl does not exercise (prompts,
 * text output, kubeconfig merging, the error texts the reference documents), its virtual clock and its fault
 * injection.
 */
import { expect } from "chai";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { vmTags } from "../../local/pks-simulator/lifecycle";
import { boshDeleteDeployment, runUpgradeErrand } from "../../local/pks-simulator/operator";
import { DEFAULT_SETTINGS, advanceClock, processes, snapshot, writeSettings } from "../../local/pks-simulator/state";
import { ProcessResult, runToEnd } from "../support/process";

const BIN = path.resolve(__dirname, "..", "..", "local", "pks-simulator", "bin");


describe("the pks simulator", function () {
    this.timeout(60_000);
    let dir: string;
    let env: NodeJS.ProcessEnv;

    function pks(args: string[], stdin = "", cli = "pks"): Promise<ProcessResult> {
        return runToEnd(path.join(BIN, cli), args, { env, stdin });
    }

    beforeEach(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pks-sim-"));
        env = { PATH: process.env.PATH, HOME: path.join(dir, "home"), PKS_SIM_STATE: path.join(dir, "state"), PKS_HOME: path.join(dir, "pks-home") };
        writeSettings(env.PKS_SIM_STATE!, { durations: { create: 1, update: 1, delete: 1 }, clock: { mode: "virtual", stepSeconds: 0.5 } });
        expect((await pks(["login", "-a", "api.pks.local", "-u", "admin", "-k"], "admin-password\n")).code).to.equal(0);
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("asks for the password on its prompt and keeps the session in PKS_HOME", async () => {
        const login = await pks(["login", "-a", "api.pks.local", "-u", "admin", "-k"], "admin-password\n");
        expect(login.stdout).to.include("Password: ").and.include("API Endpoint: api.pks.local\nUser: admin\nLogin successful.");
        expect(fs.existsSync(path.join(dir, "pks-home", "creds.yml"))).to.equal(true);
        expect((await pks(["logout"])).code).to.equal(0);
        const after = await pks(["clusters"]);
        expect(after.code).to.equal(1);
        expect(after.stderr).to.equal("Error: You are not currently authenticated. Please log in to continue\n");
    });

    it("asks before deleting, and only deletes on yes", async () => {
        await pks(["create-cluster", "c1", "-e", "c1.example.com", "-p", "small", "--non-interactive", "--wait"]);
        const no = await pks(["delete-cluster", "c1"], "n\n");
        expect(no.stdout).to.include("Are you sure you want to delete cluster c1? (y/n): ");
        expect(no.code).to.equal(1);
        expect(Object.keys((await snapshot(env.PKS_SIM_STATE!)).clusters)).to.deep.equal(["c1"]);
        const eof = await pks(["delete-cluster", "c1"]);
        expect(eof.code, "no answer at all is no yes").to.equal(1);
        const yes = await pks(["delete-cluster", "c1", "--wait"], "y\n");
        expect(yes.code).to.equal(0);
        expect((await pks(["cluster", "c1"])).stderr).to.equal("Error: Cluster c1 not found\n");
    });

    it("prints the documented cluster fields as text and as JSON, moving from in progress to succeeded", async () => {
        const created = await pks(["create-cluster", "c2", "--external-hostname", "c2.example.com", "--plan", "large", "--num-nodes", "3", "--json"]);
        const json = JSON.parse(created.stdout) as Record<string, unknown>;
        expect(json).to.include({ name: "c2", plan_name: "large", last_action: "CREATE", last_action_state: "in progress", last_action_description: "Creating cluster" });
        expect(json.kubernetes_master_ips).to.deep.equal(["In Progress"]);
        expect(json.parameters).to.include({ kubernetes_master_host: "c2.example.com", kubernetes_master_port: 8443, kubernetes_worker_instances: 3 });
        await advanceClock(env.PKS_SIM_STATE!, 1);
        const text = await pks(["cluster", "c2"]);
        expect(text.stdout).to.match(/^Name: +c2\nPlan Name: +large\nUUID: +[0-9a-f-]{36}\nLast Action: +CREATE\nLast Action State: +succeeded\nLast Action Description: +Instance provisioning completed\n/);
        const list = JSON.parse((await pks(["clusters", "--json"])).stdout) as unknown[];
        expect(list).to.have.length(1);
        const plans = JSON.parse((await pks(["plans", "--json"])).stdout) as Array<Record<string, unknown>>;
        expect(Object.keys(plans[0]).sort()).to.deep.equal(["allow_privileged_containers", "description", "id", "master_instances", "name", "worker_instances"]);
    });

    it("validates profiles and refuses duplicates", async () => {
        const file = path.join(dir, "np.json");
        fs.writeFileSync(file, JSON.stringify({ name: "np", description: "d", parameters: { lb_size: "huge" } }));
        expect((await pks(["create-network-profile", file])).stderr).to.include("Invalid lb_size huge");
        fs.writeFileSync(file, JSON.stringify({ name: "np", parameters: { nodes_dns: ["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4"] } }));
        expect((await pks(["create-network-profile", file])).stderr).to.include("at most 3 DNS servers");
        fs.writeFileSync(file, JSON.stringify({ name: "np", parameters: { lb_size: "medium" } }));
        expect((await pks(["create-network-profile", file])).stdout).to.equal("Network profile np successfully created\n");
        expect((await pks(["create-network-profile", file])).stderr).to.equal("Error: Network profile np already exists\n");
    });

    it("merges get-credentials into $KUBECONFIG and switches the current context", async () => {
        await pks(["create-cluster", "c3", "-e", "c3.example.com", "-p", "small", "--wait"]);
        const kubeconfig = path.join(dir, "kubeconfig");
        fs.writeFileSync(kubeconfig, YAML.stringify({
            apiVersion: "v1", kind: "Config", "current-context": "other",
            clusters: [{ name: "other", cluster: { server: "https://other:6443" } }],
            contexts: [{ name: "other", context: { cluster: "other", user: "me" } }],
            users: [{ name: "me", user: { token: "t" } }],
        }));
        env.KUBECONFIG = kubeconfig;
        const creds = await pks(["get-credentials", "c3"]);
        expect(creds.stdout).to.include("Fetching credentials for cluster c3.\nContext set for cluster c3.");
        const merged = YAML.parse(fs.readFileSync(kubeconfig, "utf8")) as { "current-context": string; contexts: Array<{ name: string }>; clusters: Array<{ name: string; cluster: { server: string } }> };
        expect(merged["current-context"]).to.equal("c3");
        expect(merged.contexts.map((c) => c.name)).to.have.members(["other", "c3"]);
        expect(merged.clusters.find((c) => c.name === "c3")?.cluster.server).to.equal("https://c3.example.com:8443");
    });

    it("asks for the password again in get-credentials when OIDC is on, taking it from either documented variable", async () => {
        await pks(["create-cluster", "c7", "-e", "c7", "-p", "small", "--wait"]);
        writeSettings(env.PKS_SIM_STATE!, { oidc: true });
        const asked = await pks(["get-credentials", "c7"]);
        expect(asked.stdout).to.equal("Password: ");
        expect(asked.code).to.equal(1);
        env.PKS_USER_PASSWORD = "admin-password";
        expect((await pks(["get-credentials", "c7"])).code).to.equal(0);
        delete env.PKS_USER_PASSWORD;
        env.TKGI_USER_PASSWORD = "wrong";
        expect((await pks(["get-credentials", "c7"])).stderr).to.equal("Error: Credentials were rejected, please try again.\n");
    });

    it("refuses a network profile change that conflicts with the cluster's, like PKS", async () => {
        for (const [name, parameters] of [["np1", { lb_size: "small" }], ["np2", { lb_size: "medium" }]] as const) {
            fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ name, parameters }));
            await pks(["create-network-profile", path.join(dir, `${name}.json`)]);
        }
        await pks(["create-cluster", "c4", "-e", "c4", "-p", "small", "--network-profile", "np1", "--wait"]);
        const update = await pks(["update-cluster", "c4", "--network-profile", "np2", "--non-interactive"]);
        expect(update.stderr).to.equal("Error: Error processing update parameters: field lb_size has conflict\n");
    });

    it("answers as tkgi under that name, with TKGI's wording", async () => {
        env.PKS_HOME = path.join(dir, "other-home");
        writeSettings(env.PKS_SIM_STATE!, { users: { dev: { secret: "dev-pw", admin: false } } });
        await pks(["login", "-a", "api.tkgi.local", "-u", "dev", "-k"], "dev-pw\n", "tkgi");
        fs.writeFileSync(path.join(dir, "np.json"), JSON.stringify({ name: "np", parameters: {} }));
        const denied = await pks(["create-network-profile", path.join(dir, "np.json")], "", "tkgi");
        expect(denied.stderr).to.equal("Error: You do not have enough privileges to perform this action. Please contact the TKGI administrator.\n");
    });

    it("runs on a virtual clock that only CLI calls and the tests move", async () => {
        writeSettings(env.PKS_SIM_STATE!, { durations: { create: 600, update: 1, delete: 1 }, clock: { mode: "virtual", stepSeconds: 1 } });
        await pks(["create-cluster", "c5", "-e", "c5", "-p", "small"]);
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect((await snapshot(env.PKS_SIM_STATE!)).clusters.c5.last_action_state, "wall time does not count").to.equal("in progress");
        await advanceClock(env.PKS_SIM_STATE!, 599);
        expect((await snapshot(env.PKS_SIM_STATE!)).clusters.c5.last_action_state).to.equal("in progress");
        const json = JSON.parse((await pks(["cluster", "c5", "--json"])).stdout) as { last_action_state: string };
        expect(json.last_action_state, "the call is the last second of the ten minutes").to.equal("succeeded");
        // Sessions expire on the same clock.
        writeSettings(env.PKS_SIM_STATE!, { accessTokenTtlSeconds: 600, refreshTokenTtlSeconds: 600 });
        expect((await pks(["login", "-a", "api.pks.local", "-u", "admin", "-k"], "admin-password\n")).code).to.equal(0);
        await advanceClock(env.PKS_SIM_STATE!, 600);
        expect((await pks(["clusters"])).stderr).to.equal("Error: You are not currently authenticated. Please log in to continue\n");
    });

    it("injects faults per subcommand: failures, malformed output, failures after the side effect, hangs", async () => {
        writeSettings(env.PKS_SIM_STATE!, {
            faults: [
                { command: "clusters", kind: "fail", times: 2, message: "Error: 503 Service Unavailable" },
                { command: "cluster", name: "c6", after: 1, kind: "output", stdout: "<html><title>502 Bad Gateway</title></html>\n" },
                { command: "create-cluster", kind: "fail-after-effect", message: "Error: 504 Gateway Time-out" },
                { command: "plans", kind: "hang" },
            ],
        });
        for (const expected of ["Error: 503 Service Unavailable\n", "Error: 503 Service Unavailable\n", ""]) {
            const list = await pks(["clusters", "--json"]);
            expect(list.stderr).to.equal(expected);
            expect(list.code).to.equal(expected === "" ? 0 : 1);
        }
        const created = await pks(["create-cluster", "c6", "-e", "c6", "-p", "small", "--json"]);
        expect(created).to.include({ code: 1, stdout: "", stderr: "Error: 504 Gateway Time-out\n" });
        expect(Object.keys((await snapshot(env.PKS_SIM_STATE!)).clusters), "the create went through").to.deep.equal(["c6"]);
        expect((await pks(["cluster", "c6", "--json"])).code, "the first read is spared").to.equal(0);
        expect(await pks(["cluster", "c6", "--json"])).to.include({ code: 0, stdout: "<html><title>502 Bad Gateway</title></html>\n" });
        expect((await pks(["cluster", "c6", "--json"])).stdout).to.include('"name": "c6"');

        const hung = spawn(path.join(BIN, "pks"), ["plans"], { env });
        // Started (it records itself) however slow the machine is, and then never answers.
        for (let waited = 0; waited < 10_000 && !processes(env.PKS_SIM_STATE!).some((p) => p.argv[0] === "plans"); waited += 100) {
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
        await new Promise((resolve) => setTimeout(resolve, 400));
        expect(hung.exitCode, "a hung call never answers").to.equal(null);
        hung.kill("SIGTERM");
        await new Promise((resolve) => hung.on("close", resolve));
        expect(processes(env.PKS_SIM_STATE!).map((p) => p.argv[0])).to.include("plans");
    });

    it("upgrades a cluster that lags the control plane, queued behind the errand's others, and says so in its output", async () => {
        const state = env.PKS_SIM_STATE!;
        for (const name of ["u1", "u2"]) {
            await pks(["create-cluster", name, "-e", name, "-p", "small", "--wait"]);
        }
        writeSettings(state, { tkgiVersion: "1.20.0-build.5", kubernetesVersion: "1.29.7", durations: { create: 1, update: 1, delete: 1, upgrade: 2 } });
        const list = await pks(["clusters"]);
        expect(list.stdout).to.match(/^Upgrade is available to TKGI Version: 1\.20\.0-build\.5\nTKGI Version +Name +k8s Version +Plan Name +UUID +Status +Action\n1\.19\.2-build\.10 +u1 +1\.28\.11 /);
        const json = JSON.parse((await pks(["cluster", "u1", "--json"])).stdout) as Record<string, unknown>;
        expect(json).to.deep.include({ pks_version: "1.19.2-build.10", k8s_version: "1.28.11", available_upgrades: [{ component: "tkgi", version: "1.20.0-build.5" }] });
        expect((await pks(["cluster", "u1", "--details"])).stdout).to.match(/^TKGI Version: +1\.19\.2-build\.10\nName: +u1\nK8s Version: +1\.28\.11\n/);
        // What a lagging cluster may not do (understanding-upgrades): no profile or tags, nothing at all once tagged.
        expect((await pks(["update-cluster", "u1", "--tags", "a:b", "--non-interactive"])).stderr).to.include("--tags is not supported");
        await runUpgradeErrand(state, ["u1", "u2"]);
        const queued = JSON.parse((await pks(["cluster", "u2", "--json"])).stdout) as { last_action: string; last_action_state: string };
        expect(queued).to.include({ last_action: "UPGRADE", last_action_state: "queued" });
        expect((await pks(["update-cluster", "u2", "--num-nodes", "2", "--non-interactive"])).stderr).to.include("has an operation queued");
        await advanceClock(state, 5);
        const upgraded = JSON.parse((await pks(["cluster", "u2", "--json"])).stdout) as Record<string, unknown>;
        expect(upgraded).to.deep.include({ last_action_state: "succeeded", pks_version: "1.20.0-build.5", available_upgrades: [] });
        const again = await pks(["upgrade-cluster", "u2"], "y\n");
        expect(again.stderr).to.include("already runs TKGI 1.20.0-build.5");
        writeSettings(state, { tkgiVersion: "1.20.1-build.2" });
        const prompted = await pks(["upgrade-cluster", "u2", "--json"], "y\n");
        expect(prompted.stdout).to.include("You are about to upgrade u2.").and.include("Continue? (y/n): ");
    });

    it("keeps a failed create's BOSH deployment: delete-cluster fails until it is removed", async () => {
        const state = env.PKS_SIM_STATE!;
        writeSettings(state, { failCreate: { f1: "no capacity" } });
        const failed = await pks(["create-cluster", "f1", "-e", "f1", "-p", "small", "--wait"]);
        expect(failed.stderr).to.match(/^Error: Instance provisioning failed: .*error-message: no capacity\n$/);
        expect((await pks(["create-cluster", "f1", "-e", "f1", "-p", "small"])).stderr, "a name clash").to.include("is already taken");
        await pks(["delete-cluster", "f1", "--non-interactive", "--wait"]);
        const { uuid, last_action: action, last_action_state: stateOf } = (await snapshot(state)).clusters.f1;
        expect([action, stateOf]).to.deep.equal(["DELETE", "failed"]);
        expect((await snapshot(state)).clusters.f1.last_action_description).to.include(`service-instance_${uuid}`);
        await boshDeleteDeployment(state, "f1");
        expect((await pks(["delete-cluster", "f1", "--non-interactive", "--wait"])).code).to.equal(0);
        expect((await snapshot(state)).clusters).to.not.have.property("f1");
    });

    it("attaches a profile with pod IP blocks to a cluster without one only if it lists the tile's block", async () => {
        for (const [name, blocks] of [["np-new", ["new-block"]], ["np-tile", [DEFAULT_SETTINGS.tilePodIpBlockId, "new-block"]]] as const) {
            fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ name, parameters: { pod_ip_block_ids: blocks } }));
            await pks(["create-network-profile", path.join(dir, `${name}.json`)]);
        }
        await pks(["create-cluster", "p1", "-e", "p1", "-p", "small", "--wait"]);
        expect((await pks(["update-cluster", "p1", "--network-profile", "np-new", "--non-interactive"])).stderr)
            .to.equal("Error: Error processing update parameters: field pod_ip_block_ids has conflict\n");
        expect((await pks(["update-cluster", "p1", "--network-profile", "np-tile", "--non-interactive"])).code).to.equal(0);
    });

    it("shows tags with BOSH's reserved names, which BOSH overrides on the VMs", async () => {
        await pks(["create-cluster", "t1", "-e", "t1", "-p", "small", "--tags", "name:web,team:a", "--wait"]);
        expect((await pks(["cluster", "t1"])).stdout).to.match(/\nTags: +name:web,team:a\n/);
        const cluster = (await snapshot(env.PKS_SIM_STATE!)).clusters.t1;
        expect(vmTags(cluster)).to.include({ team: "a", name: `master/${cluster.uuid}` });
    });

    it("words every undocumented error differently under wording: altered, and keeps the documented ones", async () => {
        writeSettings(env.PKS_SIM_STATE!, { wording: "altered" });
        expect((await pks(["network-profile", "nope"])).stderr).to.match(/^Error: the request did not succeed \(altered wording [0-9a-f]{8}\)\n$/);
        expect((await pks(["cluster", "nope"])).stderr, "the documented not-found answer is altered too").to.match(/altered wording/);
        await pks(["logout"]);
        expect((await pks(["clusters"])).stderr).to.equal("Error: You are not currently authenticated. Please log in to continue\n");
    });
});
