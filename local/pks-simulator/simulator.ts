/**
 * A local stand-in for the VMware Enterprise PKS CLI (`pks`) and its successor (`tkgi`), for tests and for the
 * `local` stack. It implements the commands this project drives, with the documented flags, prompts, JSON field
 * names, states and error texts; README.md beside it lists every behaviour it models with the page of TKGI's
 * documentation that backs it, or marks it a guess:
 *
 *   login, logout, plans, clusters, cluster, create-cluster, update-cluster, resize, upgrade-cluster,
 *   delete-cluster, get-credentials, network-profiles, network-profile, create-network-profile,
 *   delete-network-profile
 *
 * Login sessions live in `$PKS_HOME/creds.yml` (sessions.ts); the "server" lives in the state directory
 * described in ./state.ts, and clusters' actions run their course as ./lifecycle.ts says. Errors go to stderr as
 * `Error: …` with exit status 1, worded as ./messages.ts says. Durations and token lifetimes run on the state's
 * clock (wall or virtual), and tests can inject faults per subcommand (failures, hangs, malformed output,
 * failures after the side effect): see SimFault.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { JSON_FLAG, NON_INTERACTIVE, WAIT, cliName, confirm, flag, onlyArgument, parseArgs, print, prompt, str, table } from "./cli";
import { takeFault, underFault } from "./faults";
import { availableUpgrades, startAction } from "./lifecycle";
import { CliError, clusterNotFound, credentialsRejected, errorLine, fieldConflict, undocumented } from "./messages";
import { clusterJson, clusterText, clustersText } from "./output";
import { login, logout, principalOf, requireAdmin, requireSession } from "./sessions";
import { SimCluster, SimNetworkProfile, SimPlan, SimSettings, SimState, readSettings, stateDir, withState } from "./state";

// ---------------------------------------------------------------------------------------------------------------
// Validation shared by create and update

function requirePlan(settings: SimSettings, name: string): SimPlan {
    const plan = settings.plans.find((p) => p.name === name);
    if (!plan) {
        throw undocumented(`Plan ${name} not found. Run '${cliName()} plans' to list the available plans`);
    }
    return plan;
}

function parseNodes(value: string, plan: SimPlan): number {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < 1 || n > plan.max_worker_instances) {
        throw undocumented(`Invalid number of worker nodes ${value}: plan ${plan.name} allows 1 to ${plan.max_worker_instances} worker nodes`);
    }
    return n;
}

/**
 * `--tags "k1:v1,k2:v2"` (tag-clusters, "Tagging Rules"): non-empty keys, values of at most 80 characters, no
 * `"`, `:` or `,`. Tags with BOSH's reserved names are accepted and shown, and BOSH ignores them (see vmTags).
 */
function parseTags(value: string): Array<{ name: string; value: string }> {
    if (value === "") {
        return [];
    }
    return value.split(",").map((pair) => pair.trim()).map((pair) => {
        const [name, ...rest] = pair.split(":");
        const v = rest.join(":");
        if (!name || rest.length > 1 || v.length > 80 || /["]/.test(pair)) {
            throw undocumented(`Invalid tag "${pair}": tags are key:value pairs separated by commas, values up to 80 characters`);
        }
        return { name, value: v };
    });
}

function requireProfile(state: SimState, name: string): SimNetworkProfile {
    const profile = state.profiles[name];
    if (!profile) {
        throw undocumented(`Network profile ${name} not found`);
    }
    return profile;
}

function requireCluster(state: SimState, name: string): SimCluster {
    const cluster = state.clusters[name];
    if (!cluster) {
        throw clusterNotFound(name);
    }
    return cluster;
}

/** Refuses a new operation while another one (an upgrade included) is queued or running (guess: wording). */
function requireIdle(cluster: SimCluster): void {
    if (cluster.last_action_state === "in progress" || cluster.last_action_state === "queued") {
        throw undocumented(`Cluster ${cluster.name} has an operation ${cluster.last_action_state}: ${cluster.last_action} ${cluster.last_action_description}`);
    }
}

/** Blocks until the cluster's current action ends (`--wait`); fails like the CLI does when it fails. */
async function waitForCluster(dir: string, name: string): Promise<SimCluster | undefined> {
    for (;;) {
        // On the virtual clock each poll is a step of time.
        const { cluster, virtual } = await withState(dir, (state, settings) => ({ cluster: state.clusters[name], virtual: settings.clock.mode === "virtual" }), { tick: true });
        if (!cluster) {
            return undefined;
        }
        if (cluster.last_action_state === "failed" || cluster.last_action_state === "error") {
            throw undocumented(cluster.last_action_description);
        }
        if (cluster.last_action_state === "succeeded") {
            return cluster;
        }
        await new Promise((resolve) => setTimeout(resolve, virtual ? 10 : 250));
    }
}

/** What a cluster command prints: the cluster after `--wait`, or as it is now with where to follow it. */
async function printCluster(dir: string, name: string, parsed: ReturnType<typeof parseArgs>): Promise<void> {
    const json = parsed.flags.has("json");
    const waited = parsed.flags.has("wait") ? await waitForCluster(dir, name) : undefined;
    const { cluster, settings } = await withState(dir, (state, settings) => ({ cluster: waited ?? requireCluster(state, name), settings }));
    const follow = waited ? "" : `\nUse '${cliName()} cluster ${name}' to monitor the state of your cluster\n`;
    print(json, clusterJson(cluster, settings), () => clusterText(cluster) + follow);
}

// ---------------------------------------------------------------------------------------------------------------
// Cluster commands

async function createCluster(args: string[], dir: string): Promise<void> {
    const parsed = parseArgs(args, [
        flag("external-hostname", true, "e"), flag("plan", true, "p"), flag("num-nodes", true, "n"),
        flag("network-profile", true), flag("kubernetes-profile", true), flag("compute-profile", true),
        flag("tags", true), flag("config-file", true), JSON_FLAG, NON_INTERACTIVE, WAIT,
    ]);
    const name = onlyArgument(parsed);
    const host = str(parsed, "external-hostname");
    const planName = str(parsed, "plan");
    if (!host) {
        throw undocumented("required flag(s) \"external-hostname\" not set");
    }
    if (!planName) {
        throw undocumented("required flag(s) \"plan\" not set");
    }
    await withState(dir, (state, settings, now) => {
        requireSession(settings, now);
        if (name.length > 63 || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
            throw undocumented(`Invalid cluster name ${name}: use letters, digits, '-', '_' or '.', at most 63 characters`);
        }
        if (host.length > 64) {
            throw undocumented(`Invalid external hostname ${host}: at most 64 characters`);
        }
        if (state.clusters[name]) {
            // Also what a failed create's remains cause: a name clash (troubleshoot-issues; wording: guess).
            throw undocumented(`Cluster name ${name} is already taken`);
        }
        const plan = requirePlan(settings, planName);
        const nodesFlag = str(parsed, "num-nodes");
        const nodes = nodesFlag === undefined ? plan.worker_instances : parseNodes(nodesFlag, plan);
        const profileName = str(parsed, "network-profile") ?? "";
        if (profileName) {
            requireProfile(state, profileName);
        }
        state.serial += 1;
        const cluster: SimCluster = {
            name, uuid: crypto.randomUUID(), plan_name: plan.name, external_hostname: host, worker_instances: nodes,
            network_profile_name: profileName, tags: parseTags(str(parsed, "tags") ?? ""), master_ips: ["In Progress"],
            last_action: "CREATE", last_action_state: "in progress", last_action_description: "",
            pks_version: settings.tkgiVersion, k8s_version: settings.kubernetesVersion, action_started_at: 0, action_ends_at: 0,
        };
        startAction(cluster, "CREATE", settings, now, settings.failCreate[name]);
        state.clusters[name] = cluster;
    });
    await printCluster(dir, name, parsed);
}

/**
 * What a cluster that lags the control plane's TKGI version may not do (understanding-upgrades, "Tasks Supported
 * Following a TKGI Control Plane Only Upgrade"): no `--network-profile` or `--tags`, and no update at all when
 * it has tags. The wording is a guess.
 */
function requireCurrentVersionFor(cluster: SimCluster, settings: SimSettings, flags: string[]): void {
    if (availableUpgrades(cluster, settings).length === 0) {
        return;
    }
    const lag = `cluster ${cluster.name} runs TKGI ${cluster.pks_version}, not ${settings.tkgiVersion}: upgrade it first`;
    if (cluster.tags.length > 0) {
        throw undocumented(`update-cluster is not supported on a tagged cluster until it is upgraded: ${lag}`);
    }
    const unsupported = flags.filter((f) => f === "network-profile" || f === "tags");
    if (unsupported.length > 0) {
        throw undocumented(`--${unsupported.join(", --")} is not supported: ${lag}`);
    }
}

/**
 * PKS's rules for binding a profile to a cluster (network-profiles-define): to a cluster without one, a profile
 * that brings pod IP blocks must list the tile's Pods IP Block too; otherwise only the updatable fields may
 * differ, fields empty on either side are ignored, and a conflict fails the whole update.
 */
function checkProfileUpdate(current: SimNetworkProfile | undefined, next: SimNetworkProfile, settings: SimSettings): void {
    if (!current) {
        const blocks = next.parameters.pod_ip_block_ids;
        if (Array.isArray(blocks) && blocks.length > 0 && !blocks.includes(settings.tilePodIpBlockId)) {
            throw fieldConflict("pod_ip_block_ids");
        }
        return;
    }
    const updatable = new Set(["pod_ip_block_ids", "fip_pool_ids", "nodes_dns", "cni_configurations"]);
    const isEmpty = (v: unknown) => v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0);
    for (const key of new Set([...Object.keys(current.parameters), ...Object.keys(next.parameters)])) {
        const a = current.parameters[key];
        const b = next.parameters[key];
        if (updatable.has(key) || isEmpty(a) || isEmpty(b) || JSON.stringify(a) === JSON.stringify(b)) {
            continue;
        }
        throw fieldConflict(key);
    }
}

async function updateCluster(args: string[], dir: string, command: "update-cluster" | "resize"): Promise<void> {
    const parsed = parseArgs(args, [
        flag("num-nodes", true, command === "resize" ? "n" : undefined), flag("network-profile", true),
        flag("kubernetes-profile", true), flag("compute-profile", true), flag("tags", true),
        flag("config-file", true), flag("node-pool-instances", true), JSON_FLAG, NON_INTERACTIVE, WAIT,
    ]);
    const name = onlyArgument(parsed);
    if (command === "resize" && cliName() === "tkgi") {
        process.stderr.write("Command \"resize\" is deprecated, please use \"tkgi update-cluster --num-nodes\" instead\n");
    }
    const nodesFlag = str(parsed, "num-nodes");
    const profileFlag = str(parsed, "network-profile");
    const tagsFlag = str(parsed, "tags");
    if (nodesFlag === undefined && profileFlag === undefined && tagsFlag === undefined) {
        throw undocumented("at least one update flag is required (--num-nodes, --network-profile, --tags, ...)");
    }
    // Validate, ask (outside the state lock), then apply with the same checks.
    const apply = (dryRun: boolean) => withState(dir, (state, settings, now) => {
        requireSession(settings, now);
        const cluster = requireCluster(state, name);
        requireIdle(cluster);
        requireCurrentVersionFor(cluster, settings, [...parsed.flags.keys()]);
        const plan = requirePlan(settings, cluster.plan_name);
        const nodes = nodesFlag === undefined ? cluster.worker_instances : parseNodes(nodesFlag, plan);
        if (profileFlag !== undefined) {
            // Detaching (`--network-profile ""`) is not documented: the simulator finds no profile named "".
            const next = requireProfile(state, profileFlag);
            const current = cluster.network_profile_name ? state.profiles[cluster.network_profile_name] : undefined;
            checkProfileUpdate(current, next, settings);
        }
        const tags = tagsFlag === undefined ? cluster.tags : parseTags(tagsFlag);
        if (dryRun) {
            return nodes;
        }
        cluster.worker_instances = nodes;
        cluster.network_profile_name = profileFlag ?? cluster.network_profile_name;
        cluster.tags = tags;
        startAction(cluster, "UPDATE", settings, now, settings.failUpdate[name]);
        return nodes;
    });
    const nodes = await apply(true);
    if (!parsed.flags.has("non-interactive")) {
        process.stdout.write(`Update summary for cluster ${name}:\n`);
        if (nodesFlag !== undefined) {
            process.stdout.write(`Worker Number: ${nodes}\n`);
        }
        if (profileFlag !== undefined) {
            process.stdout.write(`Network Profile: ${profileFlag}\n`);
        }
        confirm("Are you sure you want to continue?");
    }
    await apply(false);
    await printCluster(dir, name, parsed);
}

/** `upgrade-cluster NAME` (upgrade-clusters, cli): to the control plane's TKGI version; may wait `queued` first. */
async function upgradeCluster(args: string[], dir: string): Promise<void> {
    const parsed = parseArgs(args, [flag("nodes-parallel", true), flag("pre-check", false), JSON_FLAG, NON_INTERACTIVE, WAIT]);
    const name = onlyArgument(parsed);
    const apply = (dryRun: boolean) => withState(dir, (state, settings, now) => {
        requireSession(settings, now);
        const cluster = requireCluster(state, name);
        requireIdle(cluster);
        if (availableUpgrades(cluster, settings).length === 0) {
            throw undocumented(`Cluster ${name} already runs TKGI ${settings.tkgiVersion}: there is nothing to upgrade`);
        }
        if (!dryRun) {
            startAction(cluster, "UPGRADE", settings, now, settings.failUpgrade[name], settings.durations.queue ?? 0);
        }
    });
    await apply(true);
    if (!parsed.flags.has("non-interactive")) {
        process.stdout.write(`You are about to upgrade ${name}.\nWarning: This operation might be long running and might block further operations on the cluster(s) until complete\n`);
        confirm("Continue?");
    }
    await apply(false);
    await printCluster(dir, name, parsed);
}

async function deleteCluster(args: string[], dir: string): Promise<void> {
    const parsed = parseArgs(args, [NON_INTERACTIVE, WAIT]);
    const name = onlyArgument(parsed);
    const apply = (dryRun: boolean) => withState(dir, (state, settings, now) => {
        requireSession(settings, now);
        const cluster = requireCluster(state, name);
        if (cluster.last_action === "DELETE" && cluster.last_action_state === "in progress") {
            return;
        }
        requireIdle(cluster);
        if (!dryRun) {
            startAction(cluster, "DELETE", settings, now);
        }
    });
    await apply(true);
    if (!parsed.flags.has("non-interactive")) {
        confirm(`Are you sure you want to delete cluster ${name}?`);
    }
    await apply(false);
    process.stdout.write(`Deletion of ${name} in progress - check state using '${cliName()} cluster ${name}'\n`);
    if (parsed.flags.has("wait")) {
        await waitForCluster(dir, name);
        process.stdout.write(`Deletion of ${name} completed\n`);
    }
}

async function getCredentials(args: string[], dir: string): Promise<void> {
    const parsed = parseArgs(args, [flag("sso", false), flag("sso-auto", false), flag("sso-passcode", true)]);
    const name = onlyArgument(parsed);
    const { cluster, settings, session } = await withState(dir, (state, settings, now) => {
        const session = requireSession(settings, now);
        return { cluster: requireCluster(state, name), settings, session };
    });
    if (cluster.last_action === "CREATE" && cluster.last_action_state !== "succeeded") {
        throw undocumented(`Cluster ${name} is not ready: ${cluster.last_action} ${cluster.last_action_state}`);
    }
    if (settings.oidc && session.kind === "user") {
        // With OIDC the CLI needs the password again: from the environment (both names are documented) or its prompt.
        const password = process.env.PKS_USER_PASSWORD ?? process.env.TKGI_USER_PASSWORD ?? prompt("Password: ");
        if (password !== principalOf(settings, session)?.secret) {
            throw credentialsRejected();
        }
    }
    process.stdout.write(`\nFetching credentials for cluster ${name}.\n`);
    const file = (process.env.KUBECONFIG ?? path.join(os.homedir(), ".kube", "config")).split(path.delimiter)[0];
    // Only get-credentials needs a YAML parser: loaded here, not at every start.
    const YAML = await import("yaml");
    const existing = fs.existsSync(file) ? (YAML.parse(fs.readFileSync(file, "utf8")) ?? {}) : {};
    const config = {
        apiVersion: "v1", kind: "Config", preferences: {},
        clusters: [] as Array<{ name: string }>, contexts: [] as Array<{ name: string }>, users: [] as Array<{ name: string }>,
        ...existing,
    };
    const token = settings.kubeconfig.token ?? crypto.createHash("sha256")
        .update(`${cluster.uuid}/${settings.tokenGeneration}/${session.principal}`).digest("hex");
    const upsert = <T extends { name: string }>(list: T[], entry: T): T[] => [...list.filter((e) => e.name !== entry.name), entry];
    config.clusters = upsert(config.clusters, {
        name,
        cluster: {
            server: settings.kubeconfig.server ?? `https://${cluster.external_hostname}:8443`,
            ...(settings.kubeconfig.certificateAuthorityData
                ? { "certificate-authority-data": settings.kubeconfig.certificateAuthorityData }
                : { "insecure-skip-tls-verify": true }),
        },
    });
    config.users = upsert(config.users, { name: session.principal, user: { token } });
    config.contexts = upsert(config.contexts, { name, context: { cluster: name, user: session.principal } });
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, YAML.stringify({ ...config, "current-context": name }), { mode: 0o600 });
    process.stdout.write(`Context set for cluster ${name}.\n\nYou can now switch between clusters by using:\n$kubectl config use-context <cluster-name>\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// Network profile commands

function validateProfileDocument(doc: unknown): SimNetworkProfile {
    if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
        throw undocumented("network profile file must contain a JSON object");
    }
    const { name, description, parameters } = doc as Record<string, unknown>;
    if (typeof name !== "string" || name === "") {
        throw undocumented("network profile name is required");
    }
    if (typeof parameters !== "object" || parameters === null || Array.isArray(parameters)) {
        throw undocumented("network profile parameters are required");
    }
    const p = parameters as Record<string, unknown>;
    if (p.lb_size !== undefined && !["small", "medium", "large"].includes(String(p.lb_size))) {
        throw undocumented(`Invalid lb_size ${String(p.lb_size)}: must be one of small, medium, large`);
    }
    if (p.nodes_dns !== undefined && (!Array.isArray(p.nodes_dns) || p.nodes_dns.length > 3)) {
        throw undocumented("nodes_dns accepts at most 3 DNS servers");
    }
    if (p.dns_lookup_mode !== undefined && !["API", "API_INGRESS"].includes(String(p.dns_lookup_mode))) {
        throw undocumented(`Invalid dns_lookup_mode ${String(p.dns_lookup_mode)}: must be API or API_INGRESS`);
    }
    return { name, uuid: "", description: typeof description === "string" ? description : "", parameters: p };
}

async function createNetworkProfile(args: string[], dir: string): Promise<void> {
    const file = onlyArgument(parseArgs(args, []));
    let doc: unknown;
    try {
        doc = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (e) {
        throw undocumented(`could not read network profile file ${file}: ${(e as Error).message}`);
    }
    const profile = validateProfileDocument(doc);
    await withState(dir, (state, settings, now) => {
        requireAdmin(settings, requireSession(settings, now));
        if (state.profiles[profile.name]) {
            throw undocumented(`Network profile ${profile.name} already exists`);
        }
        state.profiles[profile.name] = { ...profile, uuid: crypto.randomUUID() };
    });
    process.stdout.write(`Network profile ${profile.name} successfully created\n`);
}

async function deleteNetworkProfile(args: string[], dir: string): Promise<void> {
    const parsed = parseArgs(args, [NON_INTERACTIVE]);
    const name = onlyArgument(parsed);
    const apply = (dryRun: boolean) => withState(dir, (state, settings, now) => {
        requireAdmin(settings, requireSession(settings, now));
        requireProfile(state, name);
        const users = Object.values(state.clusters).filter((c) => c.network_profile_name === name).map((c) => c.name);
        if (users.length > 0) {
            throw undocumented(`Network profile ${name} is in use by cluster(s) ${users.join(", ")} and cannot be deleted`);
        }
        if (!dryRun) {
            delete state.profiles[name];
        }
    });
    await apply(true);
    if (!parsed.flags.has("non-interactive")) {
        confirm(`Are you sure you want to delete the network profile ${name}?`);
    }
    await apply(false);
    process.stdout.write(`Deletion of ${name} completed\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

async function readOnly(args: string[], dir: string, command: string): Promise<void> {
    const parsed = parseArgs(args, command === "cluster" ? [JSON_FLAG, flag("details", false)] : [JSON_FLAG]);
    const name = command === "cluster" || command === "network-profile" ? onlyArgument(parsed) : "";
    const json = parsed.flags.has("json");
    await withState(dir, (state, settings, now) => {
        requireSession(settings, now);
        switch (command) {
            case "plans":
                return print(json, settings.plans.map(({ max_worker_instances: _max, ...p }) => p),
                    () => table(["Name", "ID", "Description"], settings.plans.map((p) => [p.name, p.id, p.description])));
            case "clusters": {
                const all = Object.values(state.clusters);
                return print(json, all.map((c) => clusterJson(c, settings)), () => clustersText(all, settings));
            }
            case "cluster": {
                const cluster = requireCluster(state, name);
                return print(json, clusterJson(cluster, settings), () => clusterText(cluster, parsed.flags.has("details")));
            }
            case "network-profiles": {
                const all = Object.values(state.profiles);
                return print(json, all, () => table(["Name", "Description"], all.map((p) => [p.name, p.description])));
            }
            default: {
                const profile = requireProfile(state, name);
                return print(json, profile, () => `Name:         ${profile.name}\nDescription:  ${profile.description}\nParameters:   ${JSON.stringify(profile.parameters)}\n`);
            }
        }
    });
}

async function run(command: string | undefined, args: string[], dir: string): Promise<void> {
    switch (command) {
        case "login":
            return login(args, dir);
        case "logout":
            return logout();
        case "plans":
        case "clusters":
        case "cluster":
        case "network-profiles":
        case "network-profile":
            return readOnly(args, dir, command);
        case "create-cluster":
            return createCluster(args, dir);
        case "update-cluster":
        case "resize":
            return updateCluster(args, dir, command);
        case "upgrade-cluster":
            return upgradeCluster(args, dir);
        case "delete-cluster":
            return deleteCluster(args, dir);
        case "get-credentials":
            return getCredentials(args, dir);
        case "create-network-profile":
            return createNetworkProfile(args, dir);
        case "delete-network-profile":
            return deleteNetworkProfile(args, dir);
        case "--version":
        case "version":
            process.stdout.write(`${cliName().toUpperCase()} CLI version: 1.19.2-build.10 (simulator)\n`);
            return;
        default:
            throw undocumented(command === undefined ? "a command is required" : `unknown command "${command}" for "${cliName()}"`);
    }
}

async function main(argv: string[]): Promise<number> {
    const [command, ...args] = argv;
    const dir = stateDir();
    // Every invocation's arguments, so tests can prove that no secret was ever passed as one (but the client
    // secret of a client login, which the documented command line carries), and its process id, so they can prove
    // that no CLI process outlived its caller.
    fs.mkdirSync(dir, { recursive: true });
    fs.appendFileSync(path.join(dir, "argv.log"), `${JSON.stringify(argv)}\n`);
    fs.appendFileSync(path.join(dir, "processes.log"), `${JSON.stringify({ pid: process.pid, argv })}\n`);
    const fault = await takeFault(dir, command, args);
    try {
        return await underFault(fault, () => run(command, args, dir));
    } catch (e) {
        if (e instanceof CliError) {
            process.stderr.write(`${errorLine(e, readSettings(dir).wording)}\n`);
            return 1;
        }
        throw e;
    }
}

main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
});
