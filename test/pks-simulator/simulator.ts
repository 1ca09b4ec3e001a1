/**
 * A local stand-in for the VMware Enterprise PKS CLI (`pks`) and its successor (`tkgi`), for tests and for the
 * `local` stack. It implements the commands this project drives, with the documented flags, prompts, JSON field
 * names, state progression and error texts (../../../shared/reference facts, summarised in the README):
 *
 *   login, logout, plans, clusters, cluster, create-cluster, update-cluster, resize, delete-cluster,
 *   get-credentials, network-profiles, network-profile, create-network-profile, delete-network-profile
 *
 * Login sessions live in `$PKS_HOME/creds.yml` (default `~/.pks/creds.yml`); the "server" lives in the state
 * directory described in ./state.ts. Errors go to stderr as `Error: …` with exit status 1, like cobra CLIs.
 * Durations and token lifetimes run on the state's clock (wall or virtual), and tests can inject faults per
 * subcommand (failures, hangs, malformed output, failures after the side effect): see SimFault.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { takeFault, underFault } from "./faults";
import { SimCluster, SimNetworkProfile, SimPlan, SimPrincipal, SimSettings, SimState, stateDir, withState } from "./state";

class CliError extends Error {}

interface FlagSpec {
    long: string;
    short?: string;
    /** True when the flag takes a value (`--plan large`, `-p large`, `--plan=large`). */
    value: boolean;
}

interface ParsedArgs {
    positional: string[];
    flags: Map<string, string | true>;
}

const flag = (long: string, value: boolean, short?: string): FlagSpec => ({ long, value, short });
const JSON_FLAG = flag("json", false);
const NON_INTERACTIVE = flag("non-interactive", false);
const WAIT = flag("wait", false);

function parseArgs(args: string[], specs: FlagSpec[]): ParsedArgs {
    const parsed: ParsedArgs = { positional: [], flags: new Map() };
    for (let i = 0; i < args.length; i++) {
        const arg = args[i];
        if (!arg.startsWith("-") || arg === "-") {
            parsed.positional.push(arg);
            continue;
        }
        const long = arg.startsWith("--");
        const [key, inline] = arg.replace(/^--?/, "").split(/=(.*)/s, 2);
        const spec = specs.find((s) => (long ? s.long === key : s.short === key));
        if (!spec) {
            throw new CliError(long ? `unknown flag: --${key}` : `unknown shorthand flag: '${key}' in ${arg}`);
        }
        if (!spec.value) {
            parsed.flags.set(spec.long, true);
        } else if (inline !== undefined) {
            parsed.flags.set(spec.long, inline);
        } else if (i + 1 < args.length) {
            parsed.flags.set(spec.long, args[++i]);
        } else {
            throw new CliError(`flag needs an argument: ${arg}`);
        }
    }
    return parsed;
}

function str(parsed: ParsedArgs, name: string): string | undefined {
    const v = parsed.flags.get(name);
    return typeof v === "string" ? v : undefined;
}

/** Reads one line from stdin after printing a prompt, as the CLI's interactive prompts do. */
function prompt(question: string): string {
    process.stdout.write(question);
    const chunks: Buffer[] = [];
    const one = Buffer.alloc(1);
    for (;;) {
        let n: number;
        try {
            n = fs.readSync(0, one, 0, 1, null);
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "EAGAIN") {
                continue;
            }
            if ((e as NodeJS.ErrnoException).code === "EOF") {
                n = 0;
            } else {
                throw e;
            }
        }
        if (n === 0) {
            if (chunks.length === 0) {
                throw new CliError("EOF");
            }
            break;
        }
        if (one[0] === 0x0a) {
            break;
        }
        chunks.push(Buffer.from(one));
    }
    return Buffer.concat(chunks).toString("utf8").replace(/\r$/, "");
}

function confirm(question: string): void {
    const answer = prompt(`${question} (y/n): `).trim().toLowerCase();
    if (answer !== "y" && answer !== "yes") {
        throw new CliError("Operation cancelled");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Sessions

interface Session {
    api: string;
    principal: string;
    kind: "user" | "client";
    access_token: string;
    access_token_expires_at: number;
    refresh_token: string;
    refresh_token_expires_at: number;
    ca_cert?: string;
    skip_ssl_validation?: boolean;
}

/** creds.yml's text: JSON, which is YAML too (and spares every call loading a YAML parser). */
function credsText(session: Session): string {
    return `${JSON.stringify(session, null, 2)}\n`;
}

function credsFile(): string {
    const home = process.env.PKS_HOME ?? path.join(os.homedir(), ".pks");
    return path.join(home, "creds.yml");
}

function randomToken(): string {
    return crypto.randomBytes(24).toString("base64url");
}

function principalOf(settings: SimSettings, session: Pick<Session, "kind" | "principal">): SimPrincipal | undefined {
    return (session.kind === "user" ? settings.users : settings.clients)[session.principal];
}

/** The current session, refreshed like the real CLI does while the refresh token is valid. */
function requireSession(settings: SimSettings, now: number): Session {
    const notAuthenticated = new CliError("You are not currently authenticated. Please log in to continue");
    let session: Session;
    try {
        session = JSON.parse(fs.readFileSync(credsFile(), "utf8")) as Session;
    } catch {
        throw notAuthenticated;
    }
    if (!session || !principalOf(settings, session) || now >= session.refresh_token_expires_at) {
        throw notAuthenticated;
    }
    if (now >= session.access_token_expires_at) {
        session.access_token = randomToken();
        session.access_token_expires_at = now + settings.accessTokenTtlSeconds * 1000;
        fs.writeFileSync(credsFile(), credsText(session), { mode: 0o600 });
    }
    return session;
}

function requireAdmin(settings: SimSettings, session: Session): void {
    if (!principalOf(settings, session)?.admin) {
        const who = cliName() === "tkgi" ? "TKGI" : "PKS";
        throw new CliError(`You do not have enough privileges to perform this action. Please contact the ${who} administrator.`);
    }
}

async function login(args: string[], dir: string): Promise<void> {
    const parsed = parseArgs(args, [
        flag("api", true, "a"), flag("username", true, "u"), flag("password", true, "p"),
        flag("skip-ssl-validation", false, "k"), flag("skip-ssl-verification", false), flag("ca-cert", true),
        flag("client-name", true), flag("client-secret", true), flag("timeout", true),
    ]);
    const api = str(parsed, "api");
    if (!api) {
        throw new CliError("required flag(s) \"api\" not set");
    }
    const clientName = str(parsed, "client-name");
    const username = str(parsed, "username");
    if (!clientName && !username) {
        throw new CliError("required flag(s) \"username\" not set");
    }
    const skip = parsed.flags.has("skip-ssl-validation") || parsed.flags.has("skip-ssl-verification");
    const caCert = str(parsed, "ca-cert");
    if (!skip && !caCert) {
        throw new CliError("Please provide either --ca-cert or --skip-ssl-validation (-k)");
    }
    if (caCert) {
        const pem = fs.readFileSync(caCert, "utf8");
        if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
            throw new CliError(`the CA certificate in ${caCert} is not a PEM certificate`);
        }
    }
    const kind = clientName ? "client" : "user";
    const principal = (clientName ?? username)!;
    const secret = kind === "client"
        ? str(parsed, "client-secret") ?? prompt("Client Secret: ")
        : str(parsed, "password") ?? prompt("Password: ");
    if (!clientName) {
        process.stdout.write("\n");
    }
    const session = await withState(dir, (_state, settings, now): Session => {
        const known = principalOf(settings, { kind, principal });
        if (!known || known.secret !== secret) {
            throw new CliError("Credentials were rejected, please try again.");
        }
        return {
            api, principal, kind,
            access_token: randomToken(), access_token_expires_at: now + settings.accessTokenTtlSeconds * 1000,
            refresh_token: randomToken(), refresh_token_expires_at: now + settings.refreshTokenTtlSeconds * 1000,
            ...(caCert ? { ca_cert: fs.readFileSync(caCert, "utf8") } : { skip_ssl_validation: true }),
        };
    });
    fs.mkdirSync(path.dirname(credsFile()), { recursive: true });
    fs.writeFileSync(credsFile(), credsText(session), { mode: 0o600 });
    process.stdout.write(`\nAPI Endpoint: ${api}\nUser: ${principal}\nLogin successful.\n\n`);
}

function logout(): void {
    fs.rmSync(credsFile(), { force: true });
    process.stdout.write("Logout successful.\n");
}

// ---------------------------------------------------------------------------------------------------------------
// Output shapes

function clusterJson(c: SimCluster): Record<string, unknown> {
    return {
        name: c.name,
        plan_name: c.plan_name,
        last_action: c.last_action,
        last_action_state: c.last_action_state,
        last_action_description: c.last_action_description,
        uuid: c.uuid,
        kubernetes_master_ips: c.master_ips,
        network_profile_name: c.network_profile_name,
        compute_profile_name: "",
        kubernetes_profile_name: "",
        parameters: {
            kubernetes_master_host: c.external_hostname,
            kubernetes_master_port: 8443,
            worker_haproxy_ip_addresses: null,
            kubernetes_worker_instances: c.worker_instances,
            authorization_mode: null,
            cluster_tags: c.tags,
        },
    };
}

function clusterText(c: SimCluster): string {
    const rows: Array<[string, string]> = [
        ["Name", c.name], ["Plan Name", c.plan_name], ["UUID", c.uuid], ["Last Action", c.last_action],
        ["Last Action State", c.last_action_state], ["Last Action Description", c.last_action_description],
        ["Kubernetes Master Host", c.external_hostname], ["Kubernetes Master Port", "8443"],
        ["Worker Nodes", String(c.worker_instances)], ["Kubernetes Master IP(s)", c.master_ips.join(", ")],
        ["Network Profile Name", c.network_profile_name],
        ["Tags", c.tags.map((t) => `${t.name}:${t.value}`).join(",")],
    ];
    return rows.map(([k, v]) => `${(k + ":").padEnd(26)}${v}`.trimEnd()).join("\n") + "\n";
}

function table(headers: string[], rows: string[][]): string {
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] + 2)).join("").trimEnd();
    return [line(headers), ...rows.map(line)].join("\n") + "\n";
}

function print(json: boolean, value: unknown, text: () => string): void {
    process.stdout.write(json ? JSON.stringify(value, null, 4) + "\n" : text());
}

// ---------------------------------------------------------------------------------------------------------------
// Validation shared by create and update

function requirePlan(settings: SimSettings, name: string): SimPlan {
    const plan = settings.plans.find((p) => p.name === name);
    if (!plan) {
        throw new CliError(`Plan ${name} not found. Run 'pks plans' to list the available plans`);
    }
    return plan;
}

function parseNodes(value: string, plan: SimPlan): number {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < 1 || n > plan.max_worker_instances) {
        throw new CliError(`Invalid number of worker nodes ${value}: plan ${plan.name} allows 1 to ${plan.max_worker_instances} worker nodes`);
    }
    return n;
}

function parseTags(value: string): Array<{ name: string; value: string }> {
    if (value === "") {
        return [];
    }
    return value.split(",").map((pair) => {
        const [name, ...rest] = pair.split(":");
        const v = rest.join(":");
        if (!name || rest.length > 1 || v.length > 80 || /["]/.test(pair)) {
            throw new CliError(`Invalid tag "${pair}": tags are key:value pairs separated by commas, values up to 80 characters`);
        }
        return { name, value: v };
    });
}

function requireProfile(state: SimState, name: string): SimNetworkProfile {
    const profile = state.profiles[name];
    if (!profile) {
        throw new CliError(`Network profile ${name} not found`);
    }
    return profile;
}

function requireCluster(state: SimState, name: string): SimCluster {
    const cluster = state.clusters[name];
    if (!cluster) {
        throw new CliError(`Cluster ${name} not found`);
    }
    return cluster;
}

function startAction(c: SimCluster, action: SimCluster["last_action"], settings: SimSettings, now: number, failure?: string): void {
    const seconds = action === "CREATE" ? settings.durations.create
        : action === "UPDATE" ? settings.durations.update : settings.durations.delete;
    c.last_action = action;
    c.last_action_state = "in progress";
    c.last_action_description = action === "CREATE" ? "Creating cluster"
        : action === "UPDATE" ? "Instance update in progress" : "Instance deletion in progress";
    c.action_started_at = now;
    c.action_ends_at = now + seconds * 1000;
    if (failure !== undefined) {
        c.action_failure = failure;
    } else {
        delete c.action_failure;
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
        if (cluster.last_action_state === "failed") {
            throw new CliError(cluster.last_action_description);
        }
        if (cluster.last_action_state === "succeeded") {
            return cluster;
        }
        await new Promise((resolve) => setTimeout(resolve, virtual ? 10 : 250));
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Commands

async function createCluster(args: string[], dir: string): Promise<void> {
    const parsed = parseArgs(args, [
        flag("external-hostname", true, "e"), flag("plan", true, "p"), flag("num-nodes", true, "n"),
        flag("network-profile", true), flag("kubernetes-profile", true), flag("compute-profile", true),
        flag("tags", true), flag("config-file", true), JSON_FLAG, NON_INTERACTIVE, WAIT,
    ]);
    const [name] = parsed.positional;
    if (!name || parsed.positional.length !== 1) {
        throw new CliError("accepts 1 arg(s), received " + parsed.positional.length);
    }
    const host = str(parsed, "external-hostname");
    const planName = str(parsed, "plan");
    if (!host) {
        throw new CliError("required flag(s) \"external-hostname\" not set");
    }
    if (!planName) {
        throw new CliError("required flag(s) \"plan\" not set");
    }
    const created = await withState(dir, (state, settings, now) => {
        requireSession(settings, now);
        if (name.length > 63 || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
            throw new CliError(`Invalid cluster name ${name}: use letters, digits, '-', '_' or '.', at most 63 characters`);
        }
        if (host.length > 64) {
            throw new CliError(`Invalid external hostname ${host}: at most 64 characters`);
        }
        if (state.clusters[name]) {
            throw new CliError(`Cluster name ${name} is already taken`);
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
            last_action: "CREATE", last_action_state: "in progress", last_action_description: "Creating cluster",
            action_started_at: 0, action_ends_at: 0,
        };
        const failure = settings.failCreate[name];
        startAction(cluster, "CREATE", settings, now, failure);
        state.clusters[name] = cluster;
        return cluster;
    });
    const json = parsed.flags.has("json");
    if (parsed.flags.has("wait")) {
        const done = await waitForCluster(dir, name);
        print(json, clusterJson(done!), () => clusterText(done!));
        return;
    }
    print(json, clusterJson(created), () => clusterText(created) + `\nUse '${cliName()} cluster ${name}' to monitor the state of your cluster\n`);
}

async function updateCluster(args: string[], dir: string, command: "update-cluster" | "resize"): Promise<void> {
    const parsed = parseArgs(args, [
        flag("num-nodes", true, command === "resize" ? "n" : undefined), flag("network-profile", true),
        flag("kubernetes-profile", true), flag("compute-profile", true), flag("tags", true),
        flag("config-file", true), flag("node-pool-instances", true), JSON_FLAG, NON_INTERACTIVE, WAIT,
    ]);
    const [name] = parsed.positional;
    if (!name) {
        throw new CliError("accepts 1 arg(s), received 0");
    }
    if (command === "resize" && cliName() === "tkgi") {
        process.stderr.write("Command \"resize\" is deprecated, please use \"tkgi update-cluster --num-nodes\" instead\n");
    }
    const nodesFlag = str(parsed, "num-nodes");
    const profileFlag = str(parsed, "network-profile");
    const tagsFlag = str(parsed, "tags");
    if (nodesFlag === undefined && profileFlag === undefined && tagsFlag === undefined) {
        throw new CliError("at least one update flag is required (--num-nodes, --network-profile, --tags, ...)");
    }
    // Validate, ask (outside the state lock), then apply with the same checks.
    const apply = (dryRun: boolean) => withState(dir, (state, settings, now) => {
        requireSession(settings, now);
        const cluster = requireCluster(state, name);
        if (cluster.last_action_state === "in progress") {
            throw new CliError(`Cluster ${name} has an operation in progress: ${cluster.last_action} ${cluster.last_action_description}`);
        }
        const plan = requirePlan(settings, cluster.plan_name);
        const nodes = nodesFlag === undefined ? cluster.worker_instances : parseNodes(nodesFlag, plan);
        if (profileFlag !== undefined) {
            const next = requireProfile(state, profileFlag);
            const current = cluster.network_profile_name ? state.profiles[cluster.network_profile_name] : undefined;
            checkProfileUpdate(current, next);
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
    const json = parsed.flags.has("json");
    if (parsed.flags.has("wait")) {
        const done = await waitForCluster(dir, name);
        print(json, clusterJson(done!), () => clusterText(done!));
        return;
    }
    const current = await withState(dir, (state) => requireCluster(state, name));
    print(json, clusterJson(current), () => clusterText(current) + `\nUse '${cliName()} cluster ${name}' to monitor the state of your cluster\n`);
}

/**
 * PKS's rule for binding a new profile to a cluster: only the updatable fields may differ, fields empty on
 * either side are ignored, and a conflict fails the whole update.
 */
function checkProfileUpdate(current: SimNetworkProfile | undefined, next: SimNetworkProfile): void {
    if (!current) {
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
        throw new CliError(`Error processing update parameters: field ${key} has conflict`);
    }
}

async function deleteCluster(args: string[], dir: string): Promise<void> {
    const parsed = parseArgs(args, [NON_INTERACTIVE, WAIT]);
    const [name] = parsed.positional;
    if (!name) {
        throw new CliError("accepts 1 arg(s), received 0");
    }
    const apply = (dryRun: boolean) => withState(dir, (state, settings, now) => {
        requireSession(settings, now);
        const cluster = requireCluster(state, name);
        if (cluster.last_action === "DELETE" && cluster.last_action_state === "in progress") {
            return;
        }
        if (cluster.last_action_state === "in progress") {
            throw new CliError(`Cluster ${name} has an operation in progress: ${cluster.last_action} ${cluster.last_action_description}`);
        }
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
    const [name] = parsed.positional;
    if (!name) {
        throw new CliError("accepts 1 arg(s), received 0");
    }
    const { cluster, settings, session } = await withState(dir, (state, settings, now) => {
        const session = requireSession(settings, now);
        return { cluster: requireCluster(state, name), settings, session };
    });
    if (cluster.last_action === "CREATE" && cluster.last_action_state !== "succeeded") {
        throw new CliError(`Cluster ${name} is not ready: ${cluster.last_action} ${cluster.last_action_state}`);
    }
    if (settings.oidc && session.kind === "user") {
        // With OIDC the CLI needs the password again: from the environment (both names are documented) or its prompt.
        const password = process.env.PKS_USER_PASSWORD ?? process.env.TKGI_USER_PASSWORD ?? prompt("Password: ");
        if (password !== principalOf(settings, session)?.secret) {
            throw new CliError("Credentials were rejected, please try again.");
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

function validateProfileDocument(doc: unknown): SimNetworkProfile {
    if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
        throw new CliError("network profile file must contain a JSON object");
    }
    const { name, description, parameters } = doc as Record<string, unknown>;
    if (typeof name !== "string" || name === "") {
        throw new CliError("network profile name is required");
    }
    if (typeof parameters !== "object" || parameters === null || Array.isArray(parameters)) {
        throw new CliError("network profile parameters are required");
    }
    const p = parameters as Record<string, unknown>;
    if (p.lb_size !== undefined && !["small", "medium", "large"].includes(String(p.lb_size))) {
        throw new CliError(`Invalid lb_size ${String(p.lb_size)}: must be one of small, medium, large`);
    }
    if (p.nodes_dns !== undefined && (!Array.isArray(p.nodes_dns) || p.nodes_dns.length > 3)) {
        throw new CliError("nodes_dns accepts at most 3 DNS servers");
    }
    if (p.dns_lookup_mode !== undefined && !["API", "API_INGRESS"].includes(String(p.dns_lookup_mode))) {
        throw new CliError(`Invalid dns_lookup_mode ${String(p.dns_lookup_mode)}: must be API or API_INGRESS`);
    }
    return { name, uuid: "", description: typeof description === "string" ? description : "", parameters: p };
}

async function createNetworkProfile(args: string[], dir: string): Promise<void> {
    const parsed = parseArgs(args, []);
    const [file] = parsed.positional;
    if (!file) {
        throw new CliError("accepts 1 arg(s), received 0");
    }
    let doc: unknown;
    try {
        doc = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (e) {
        throw new CliError(`could not read network profile file ${file}: ${(e as Error).message}`);
    }
    const profile = validateProfileDocument(doc);
    await withState(dir, (state, settings, now) => {
        requireAdmin(settings, requireSession(settings, now));
        if (state.profiles[profile.name]) {
            throw new CliError(`Network profile ${profile.name} already exists`);
        }
        state.profiles[profile.name] = { ...profile, uuid: crypto.randomUUID() };
    });
    process.stdout.write(`Network profile ${profile.name} successfully created\n`);
}

async function deleteNetworkProfile(args: string[], dir: string): Promise<void> {
    const parsed = parseArgs(args, [NON_INTERACTIVE]);
    const [name] = parsed.positional;
    if (!name) {
        throw new CliError("accepts 1 arg(s), received 0");
    }
    const apply = (dryRun: boolean) => withState(dir, (state, settings, now) => {
        requireAdmin(settings, requireSession(settings, now));
        requireProfile(state, name);
        const users = Object.values(state.clusters).filter((c) => c.network_profile_name === name).map((c) => c.name);
        if (users.length > 0) {
            throw new CliError(`Network profile ${name} is in use by cluster(s) ${users.join(", ")} and cannot be deleted`);
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

function cliName(): string {
    return process.env.PKS_SIM_FLAVOR === "tkgi" ? "tkgi" : "pks";
}

async function readOnly(args: string[], dir: string, command: string): Promise<void> {
    const needsName = command === "cluster" || command === "network-profile";
    const parsed = parseArgs(args, command === "cluster" ? [JSON_FLAG, flag("details", false)] : [JSON_FLAG]);
    const [name] = parsed.positional;
    if (needsName && !name) {
        throw new CliError("accepts 1 arg(s), received 0");
    }
    const json = parsed.flags.has("json");
    await withState(dir, (state, settings, now) => {
        requireSession(settings, now);
        switch (command) {
            case "plans":
                return print(json, settings.plans.map(({ max_worker_instances: _max, ...p }) => p),
                    () => table(["Name", "ID", "Description"], settings.plans.map((p) => [p.name, p.id, p.description])));
            case "clusters": {
                const all = Object.values(state.clusters);
                return print(json, all.map(clusterJson), () => table(
                    ["Name", "Plan Name", "UUID", "Status", "Action"],
                    all.map((c) => [c.name, c.plan_name, c.uuid, c.last_action_state, c.last_action])));
            }
            case "cluster": {
                const cluster = requireCluster(state, name);
                return print(json, clusterJson(cluster), () => clusterText(cluster));
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
            throw new CliError(command === undefined ? "a command is required" : `unknown command "${command}" for "${cliName()}"`);
    }
}

async function main(argv: string[]): Promise<number> {
    const [command, ...args] = argv;
    const dir = stateDir();
    // Every invocation's arguments, so tests can prove that no secret was ever passed as one, and its process id,
    // so they can prove that no CLI process outlived its caller.
    fs.mkdirSync(dir, { recursive: true });
    fs.appendFileSync(path.join(dir, "argv.log"), `${JSON.stringify(argv)}\n`);
    fs.appendFileSync(path.join(dir, "processes.log"), `${JSON.stringify({ pid: process.pid, argv })}\n`);
    const fault = await takeFault(dir, command, args);
    try {
        return await underFault(fault, () => run(command, args, dir));
    } catch (e) {
        if (e instanceof CliError) {
            process.stderr.write(`Error: ${e.message}\n`);
            return 1;
        }
        throw e;
    }
}

main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
});
