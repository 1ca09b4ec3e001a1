/**
 * pksctl: the one place where this project drives the `pks` / `tkgi` CLI.
 *
 * The PKS components run it through `@pulumi/command` as
 *   node --require ts-node/register/transpile-only components/pks/pksctl.ts <operation>
 * with every input in `PKSCTL_*` environment variables, so that no secret is ever on an argv. Each run logs in
 * afresh in a private, temporary home (`HOME`, `PKS_HOME` and `KUBECONFIG` all point into it), so the user's own
 * `~/.pks` and `~/.kube/config` are never read or written and parallel runs never share a session; the directory
 * is removed when the run ends.
 *
 * Output contract: stdout carries one document (JSON for profiles and clusters, the kubeconfig YAML for
 * `get-credentials`) and is written only on success; stderr carries progress lines, which Pulumi shows.
 * Exit status 0 on success, 1 with `pksctl: <step>: <reason>` on stderr otherwise.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** Names of the environment variables that carry pksctl's inputs. */
export const PKSCTL_ENV = {
    cli: "PKSCTL_CLI",
    api: "PKSCTL_API",
    username: "PKSCTL_USERNAME",
    password: "PKSCTL_PASSWORD",
    clientName: "PKSCTL_CLIENT_NAME",
    clientSecret: "PKSCTL_CLIENT_SECRET",
    skipTlsValidation: "PKSCTL_SKIP_TLS_VALIDATION",
    caCert: "PKSCTL_CA_CERT",
    networkProfile: "PKSCTL_NETWORK_PROFILE",
    cluster: "PKSCTL_CLUSTER",
    timeoutSeconds: "PKSCTL_TIMEOUT_SECONDS",
    pollSeconds: "PKSCTL_POLL_SECONDS",
} as const;

/** The operations pksctl performs, one per command-provider lifecycle step. */
type PksctlOperation =
    | "create-network-profile" | "delete-network-profile"
    | "create-cluster" | "update-cluster" | "delete-cluster" | "get-credentials";

const OPERATIONS: readonly PksctlOperation[] = [
    "create-network-profile", "delete-network-profile", "create-cluster", "update-cluster", "delete-cluster",
    "get-credentials",
];

/** How to reach and log in to the PKS API. Exactly one of password or client secret is used. */
interface PksLogin {
    cli: string;
    api: string;
    username?: string;
    password?: string;
    clientName?: string;
    clientSecret?: string;
    skipTlsValidation: boolean;
    /** PEM text of the CA that signed the PKS API certificate (used instead of skipping validation). */
    caCert?: string;
}

/** The JSON document `pks create-network-profile FILE` takes. */
export interface NetworkProfileDocument {
    name: string;
    description: string;
    parameters: Record<string, unknown>;
}

/** What the cluster should look like. */
export interface ClusterSpec {
    name: string;
    externalHostname: string;
    plan: string;
    /** Worker nodes; when unset PKS uses the plan's default and pksctl does not manage the count. */
    numNodes?: number;
    networkProfile?: string;
    tags?: Record<string, string>;
}

/** The fields of the PKS cluster object (`pks cluster NAME --json`) that pksctl reads. */
interface PksClusterObject {
    name: string;
    plan_name: string;
    uuid: string;
    last_action: string;
    last_action_state: string;
    last_action_description: string;
    kubernetes_master_ips: string[] | null;
    network_profile_name?: string | null;
    parameters: {
        kubernetes_master_host: string;
        kubernetes_master_port?: number;
        kubernetes_worker_instances: number;
        cluster_tags?: Array<{ name: string; value: string }> | null;
    };
}

/** What pksctl prints for a cluster: a stable summary of the PKS object. */
export interface ClusterSummary {
    name: string;
    uuid: string;
    plan: string;
    /** The Kubernetes API host: the external hostname. */
    masterHost: string;
    masterPort: number;
    masterIps: string[];
    workerNodes: number;
    networkProfile: string;
    lastAction: string;
    lastActionState: string;
}

export interface NetworkProfileSummary {
    name: string;
    uuid: string;
    description: string;
    parameters: Record<string, unknown>;
}

/** Raised for every expected failure; `step` names what pksctl was doing. */
class PksctlError extends Error {
    constructor(step: string, reason: string) {
        super(`${step}: ${reason}`);
    }
}

/** Writes progress lines to stderr, after removing any secret value from them. */
class ProgressLog {
    private readonly secrets: string[];
    constructor(secrets: Array<string | undefined>, private readonly write: (line: string) => void = (l) => process.stderr.write(l)) {
        this.secrets = secrets.filter((s): s is string => typeof s === "string" && s.length >= 4);
    }
    redact(text: string): string {
        return this.secrets.reduce((acc, secret) => acc.split(secret).join("[secret]"), text);
    }
    line(text: string): void {
        this.write(this.redact(text) + "\n");
    }
}

function formatElapsed(ms: number): string {
    const s = Math.floor(ms / 1000);
    return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

interface RunResult {
    code: number | null;
    stdout: string;
    stderr: string;
    timedOut: boolean;
}

/** Runs a program to completion with the given environment and stdin; never uses a shell. */
function runProgram(file: string, args: string[], options: { env: NodeJS.ProcessEnv; stdin?: string; timeoutMs: number; onTick?: () => void; tickMs?: number }): Promise<RunResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(file, args, { env: options.env, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        let timedOut = false;
        child.stdout.on("data", (d: Buffer) => { stdout += d.toString("utf8"); });
        child.stderr.on("data", (d: Buffer) => { stderr += d.toString("utf8"); });
        child.stdin.on("error", () => { /* the CLI may exit before reading its stdin */ });
        child.stdin.end(options.stdin ?? "");
        const timer = setTimeout(() => {
            timedOut = true;
            child.kill("SIGTERM");
            setTimeout(() => child.kill("SIGKILL"), 5000).unref();
        }, options.timeoutMs);
        const ticker = options.onTick ? setInterval(options.onTick, options.tickMs ?? 30_000) : undefined;
        child.on("error", (e: NodeJS.ErrnoException) => {
            clearTimeout(timer);
            clearInterval(ticker);
            reject(e.code === "ENOENT" ? new PksctlError("starting the PKS CLI", `'${file}' was not found; install the pks or tkgi CLI, or set pksCli to its path`) : e);
        });
        child.on("close", (code) => {
            clearTimeout(timer);
            clearInterval(ticker);
            resolve({ code, stdout, stderr, timedOut });
        });
    });
}

/** The most useful line of a CLI failure: its `Error:` line, else its last non-empty line. */
function errorText(result: Pick<RunResult, "stdout" | "stderr">): string {
    const lines = `${result.stderr}\n${result.stdout}`.split("\n").map((l) => l.trim()).filter((l) => l !== "");
    const error = lines.find((l) => /^error:/i.test(l));
    return (error ?? lines[lines.length - 1] ?? "no output").replace(/^error:\s*/i, "");
}

function parseJson<T>(step: string, text: string): T {
    try {
        return JSON.parse(text) as T;
    } catch {
        throw new PksctlError(step, `the CLI did not print JSON: ${text.slice(0, 200)}`);
    }
}

const NOT_AUTHENTICATED = /not currently authenticated|please log ?in/i;
const NOT_FOUND = /not found/i;

/** A logged-in PKS CLI session in a private temporary home. */
class PksSession {
    private constructor(private readonly login: PksLogin, private readonly home: string, private readonly log: ProgressLog) {}

    /** Creates the private home and logs in; the caller must `close()` it. */
    static async open(login: PksLogin, log: ProgressLog): Promise<PksSession> {
        const home = await fs.promises.mkdtemp(path.join(os.tmpdir(), "pksctl-"));
        const session = new PksSession(login, home, log);
        try {
            await session.logIn();
        } catch (e) {
            await session.close();
            throw e;
        }
        return session;
    }

    get kubeconfigPath(): string {
        return path.join(this.home, "kubeconfig");
    }

    /** The CLI's environment: the caller's, minus pksctl's own inputs, with every home redirected. */
    private env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
        const env: NodeJS.ProcessEnv = {};
        for (const [k, v] of Object.entries(process.env)) {
            if (!k.startsWith("PKSCTL_") && !k.startsWith("PULUMI_COMMAND_")) {
                env[k] = v;
            }
        }
        return { ...env, HOME: this.home, PKS_HOME: this.home, KUBECONFIG: this.kubeconfigPath, ...extra };
    }

    private async logIn(): Promise<void> {
        const { api, username, clientName } = this.login;
        const args = ["login", "-a", api];
        // The secret goes to the CLI's prompt on stdin; it is never an argument.
        let secret: string | undefined;
        if (clientName) {
            args.push("--client-name", clientName);
            secret = this.login.clientSecret;
        } else {
            args.push("-u", username ?? "");
            secret = this.login.password;
        }
        if (this.login.caCert) {
            const caFile = path.join(this.home, "pks-api-ca.pem");
            await fs.promises.writeFile(caFile, this.login.caCert, { mode: 0o600 });
            args.push("--ca-cert", caFile);
        } else {
            args.push("-k");
        }
        const who = clientName ? `client ${clientName}` : `user ${username}`;
        const result = await runProgram(this.login.cli, args, { env: this.env(), stdin: `${secret ?? ""}\n`, timeoutMs: 120_000 });
        if (result.code !== 0) {
            throw new PksctlError(`logging in to ${api} as ${who}`, this.log.redact(result.timedOut ? "timed out after 120s" : errorText(result)));
        }
    }

    /**
     * Runs one CLI command. A session that expired meanwhile (long waits outlive the API's tokens) is renewed
     * once by logging in again.
     */
    async run(args: string[], options: { timeoutMs?: number; extraEnv?: NodeJS.ProcessEnv; onTick?: () => void; tickMs?: number } = {}): Promise<RunResult> {
        const exec = () => runProgram(this.login.cli, args, {
            env: this.env(options.extraEnv), timeoutMs: options.timeoutMs ?? 300_000, onTick: options.onTick, tickMs: options.tickMs,
        });
        let result = await exec();
        if (result.code !== 0 && NOT_AUTHENTICATED.test(errorText(result))) {
            this.log.line(`pks: session expired; logging in to ${this.login.api} again`);
            await this.logIn();
            result = await exec();
        }
        return result;
    }

    /** Runs a command that must succeed and returns its stdout. */
    async ok(step: string, args: string[], timeoutMs?: number): Promise<string> {
        const result = await this.run(args, { timeoutMs });
        if (result.code !== 0) {
            throw new PksctlError(step, this.log.redact(result.timedOut ? "timed out" : errorText(result)));
        }
        return result.stdout;
    }

    async json<T>(step: string, args: string[]): Promise<T> {
        return parseJson<T>(step, await this.ok(step, [...args, "--json"]));
    }

    /** `cluster NAME --json`, or undefined when PKS says the cluster is not found. */
    async findCluster(name: string): Promise<PksClusterObject | undefined> {
        const result = await this.run(["cluster", name, "--json"]);
        if (result.code !== 0) {
            if (NOT_FOUND.test(errorText(result))) {
                return undefined;
            }
            throw new PksctlError(`reading cluster ${name}`, this.log.redact(errorText(result)));
        }
        return parseJson<PksClusterObject>(`reading cluster ${name}`, result.stdout);
    }

    async findProfile(name: string): Promise<NetworkProfileSummary | undefined> {
        const all = await this.json<NetworkProfileSummary[]>("listing network profiles", ["network-profiles"]);
        const found = all.find((p) => p.name === name);
        if (!found) {
            return undefined;
        }
        // The API types `parameters` as a string; accept either shape.
        const parameters = typeof found.parameters === "string" ? JSON.parse(found.parameters) as Record<string, unknown> : found.parameters;
        return { ...found, parameters };
    }

    async close(): Promise<void> {
        await fs.promises.rm(this.home, { recursive: true, force: true });
    }
}

// -------------------------------------------------------------------------------------------------------------
// Comparing what exists with what is wanted

/** A stable JSON rendering (object keys sorted) for comparing documents. */
function canonical(value: unknown): string {
    if (Array.isArray(value)) {
        return `[${value.map(canonical).join(",")}]`;
    }
    if (value !== null && typeof value === "object") {
        const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
    }
    return JSON.stringify(value);
}

interface Difference {
    field: string;
    existing: unknown;
    desired: unknown;
}

function describeDifferences(differences: Difference[]): string {
    return differences.map((d) => `${d.field}: existing ${canonical(d.existing) ?? "unset"}, desired ${canonical(d.desired) ?? "unset"}`).join("; ");
}

/** Differences between an existing profile and the wanted document, per top-level parameter. */
function profileDifferences(existing: NetworkProfileSummary, desired: NetworkProfileDocument): Difference[] {
    const differences: Difference[] = [];
    if ((existing.description ?? "") !== desired.description) {
        differences.push({ field: "description", existing: existing.description, desired: desired.description });
    }
    const keys = new Set([...Object.keys(existing.parameters ?? {}), ...Object.keys(desired.parameters)]);
    for (const key of [...keys].sort()) {
        const a = existing.parameters?.[key];
        const b = desired.parameters[key];
        if (canonical(a) !== canonical(b)) {
            differences.push({ field: `parameters.${key}`, existing: a, desired: b });
        }
    }
    return differences;
}

function tagsOf(cluster: PksClusterObject): Record<string, string> | undefined {
    const tags = cluster.parameters.cluster_tags;
    return Array.isArray(tags) ? Object.fromEntries(tags.map((t) => [t.name, t.value])) : undefined;
}

/** Fields that cannot change without replacing the cluster. */
function immutableDifferences(cluster: PksClusterObject, spec: ClusterSpec): Difference[] {
    const differences: Difference[] = [];
    if (cluster.plan_name !== spec.plan) {
        differences.push({ field: "plan", existing: cluster.plan_name, desired: spec.plan });
    }
    if (cluster.parameters.kubernetes_master_host !== spec.externalHostname) {
        differences.push({ field: "external hostname", existing: cluster.parameters.kubernetes_master_host, desired: spec.externalHostname });
    }
    return differences;
}

/** Fields `update-cluster` can change in place. */
function updatableDifferences(cluster: PksClusterObject, spec: ClusterSpec): Difference[] {
    const differences: Difference[] = [];
    if (spec.numNodes !== undefined && cluster.parameters.kubernetes_worker_instances !== spec.numNodes) {
        differences.push({ field: "worker nodes", existing: cluster.parameters.kubernetes_worker_instances, desired: spec.numNodes });
    }
    if ((cluster.network_profile_name ?? "") !== (spec.networkProfile ?? "")) {
        differences.push({ field: "network profile", existing: cluster.network_profile_name ?? "", desired: spec.networkProfile ?? "" });
    }
    const tags = tagsOf(cluster);
    if (spec.tags !== undefined && tags !== undefined && canonical(tags) !== canonical(spec.tags)) {
        differences.push({ field: "tags", existing: tags, desired: spec.tags });
    }
    return differences;
}

function summarize(cluster: PksClusterObject): ClusterSummary {
    return {
        name: cluster.name,
        uuid: cluster.uuid,
        plan: cluster.plan_name,
        masterHost: cluster.parameters.kubernetes_master_host,
        masterPort: cluster.parameters.kubernetes_master_port ?? 8443,
        masterIps: cluster.kubernetes_master_ips ?? [],
        workerNodes: cluster.parameters.kubernetes_worker_instances,
        networkProfile: cluster.network_profile_name ?? "",
        lastAction: cluster.last_action,
        lastActionState: cluster.last_action_state,
    };
}

function tagsFlag(tags: Record<string, string>): string {
    return Object.entries(tags).map(([k, v]) => `${k}:${v}`).join(",");
}

// -------------------------------------------------------------------------------------------------------------
// Operations

interface WaitOptions {
    /** Give up after this many milliseconds from the start of the operation. */
    timeoutMs: number;
    /** Time between two `cluster NAME` polls. */
    pollMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `cluster NAME` until its current action ends, printing one progress line per poll. Resolves with the
 * cluster on `succeeded`, with undefined once the cluster is gone (when `untilGone`), and rejects on `failed` /
 * `error` (with PKS's description) or at the deadline.
 */
async function waitForCluster(session: PksSession, name: string, log: ProgressLog, wait: WaitOptions, started: number, untilGone = false): Promise<PksClusterObject | undefined> {
    for (;;) {
        const cluster = await session.findCluster(name);
        const elapsed = formatElapsed(Date.now() - started);
        if (!cluster) {
            if (untilGone) {
                log.line(`pks: cluster ${name}: deleted (${elapsed} elapsed)`);
                return undefined;
            }
            throw new PksctlError(`waiting for cluster ${name}`, "PKS no longer knows the cluster");
        }
        const state = cluster.last_action_state;
        log.line(`pks: cluster ${name}: ${cluster.last_action} ${state}: ${cluster.last_action_description} (${elapsed} elapsed)`);
        if (state === "failed" || state === "error") {
            throw new PksctlError(`${cluster.last_action.toLowerCase()} of cluster ${name}`, `PKS reports '${state}': ${cluster.last_action_description}`);
        }
        if (state === "succeeded" && !untilGone) {
            return cluster;
        }
        if (Date.now() - started + wait.pollMs > wait.timeoutMs) {
            throw new PksctlError(`waiting for cluster ${name}`,
                `timed out after ${formatElapsed(wait.timeoutMs)} with ${cluster.last_action} ${state} (${cluster.last_action_description}). ` +
                "PKS carries on with the operation; run `pulumi up` again to resume waiting, or raise pksTimeoutMinutes");
        }
        await sleep(wait.pollMs);
    }
}

async function createNetworkProfile(session: PksSession, desired: NetworkProfileDocument, log: ProgressLog): Promise<NetworkProfileSummary> {
    const existing = await session.findProfile(desired.name);
    if (existing) {
        const differences = profileDifferences(existing, desired);
        if (differences.length > 0) {
            throw new PksctlError(`creating network profile ${desired.name}`,
                `a profile with this name already exists with different settings (${describeDifferences(differences)}). ` +
                "Network profiles are immutable: give the changed profile a new name and the cluster moves onto it with update-cluster");
        }
        log.line(`pks: network profile ${desired.name} already exists with the same settings; adopting it`);
        return existing;
    }
    const file = path.join(os.tmpdir(), `pksctl-profile-${process.pid}-${Date.now()}.json`);
    await fs.promises.writeFile(file, JSON.stringify(desired, null, 2));
    try {
        await session.ok(`creating network profile ${desired.name}`, ["create-network-profile", file]);
    } finally {
        await fs.promises.rm(file, { force: true });
    }
    log.line(`pks: network profile ${desired.name} created`);
    const created = await session.findProfile(desired.name);
    if (!created) {
        throw new PksctlError(`creating network profile ${desired.name}`, "PKS accepted the profile but does not list it");
    }
    return created;
}

async function deleteNetworkProfile(session: PksSession, name: string, log: ProgressLog): Promise<void> {
    const result = await session.run(["delete-network-profile", name, "--non-interactive"]);
    if (result.code === 0) {
        log.line(`pks: network profile ${name} deleted`);
        return;
    }
    const reason = errorText(result);
    if (NOT_FOUND.test(reason)) {
        log.line(`pks: network profile ${name} is already gone`);
        return;
    }
    const users = (await session.json<PksClusterObject[]>("listing clusters", ["clusters"]))
        .filter((c) => c.network_profile_name === name).map((c) => c.name);
    const hint = users.length > 0
        ? `. It is still used by cluster(s) ${users.join(", ")}: a profile in use cannot be deleted; move those clusters to another profile or delete them first`
        : "";
    throw new PksctlError(`deleting network profile ${name}`, log.redact(reason) + hint);
}

async function createCluster(session: PksSession, spec: ClusterSpec, log: ProgressLog, wait: WaitOptions): Promise<PksClusterObject> {
    const started = Date.now();
    let existing = await session.findCluster(spec.name);
    if (existing) {
        const differences = [...immutableDifferences(existing, spec), ...updatableDifferences(existing, spec)];
        if (existing.last_action === "CREATE" && (existing.last_action_state === "failed" || existing.last_action_state === "error")) {
            // A failed create leaves a cluster record (and a BOSH deployment) that blocks the name; remove it.
            log.line(`pks: cluster ${spec.name}: an earlier create failed (${existing.last_action_description}); deleting the remains before creating it again`);
            await session.ok(`deleting the failed cluster ${spec.name}`, ["delete-cluster", spec.name, "--non-interactive"]);
            await waitForCluster(session, spec.name, log, wait, started, true);
            existing = undefined;
        } else if (differences.length > 0) {
            throw new PksctlError(`creating cluster ${spec.name}`,
                `a cluster with this name already exists with different settings (${describeDifferences(differences)}); ` +
                "choose another clusterName, or make the configuration match the existing cluster");
        } else if (existing.last_action === "DELETE") {
            throw new PksctlError(`creating cluster ${spec.name}`, `the cluster is being deleted (${existing.last_action_state}); wait until it is gone and run again`);
        } else if (existing.last_action_state === "failed" || existing.last_action_state === "error") {
            // The cluster was created; only a later action failed. Adopt it as it is and say so.
            log.line(`pks: cluster ${spec.name} already exists with the same settings; adopting it although its last ${existing.last_action} ended '${existing.last_action_state}': ${existing.last_action_description}`);
            return existing;
        } else {
            log.line(`pks: cluster ${spec.name} already exists with the same settings; adopting it`);
        }
    }
    if (!existing) {
        const args = ["create-cluster", spec.name, "--external-hostname", spec.externalHostname, "--plan", spec.plan];
        if (spec.numNodes !== undefined) {
            args.push("--num-nodes", String(spec.numNodes));
        }
        if (spec.networkProfile) {
            args.push("--network-profile", spec.networkProfile);
        }
        if (spec.tags && Object.keys(spec.tags).length > 0) {
            args.push("--tags", tagsFlag(spec.tags));
        }
        args.push("--non-interactive", "--json");
        await session.ok(`creating cluster ${spec.name}`, args);
        log.line(`pks: cluster ${spec.name}: create requested (plan ${spec.plan}, ${spec.numNodes ?? "plan default"} worker nodes); this can take 30 minutes`);
    }
    return (await waitForCluster(session, spec.name, log, wait, started))!;
}

/**
 * Brings an existing cluster to the spec in place: worker count and network profile through
 * `update-cluster … --non-interactive --wait`, one setting at a time. A cluster that vanished is created again.
 */
async function updateCluster(session: PksSession, spec: ClusterSpec, log: ProgressLog, wait: WaitOptions): Promise<PksClusterObject> {
    const started = Date.now();
    let cluster = await session.findCluster(spec.name);
    if (!cluster) {
        log.line(`pks: cluster ${spec.name} no longer exists in PKS; creating it again`);
        return createCluster(session, spec, log, wait);
    }
    if (cluster.last_action_state === "in progress") {
        cluster = (await waitForCluster(session, spec.name, log, wait, started))!;
    }
    const fixed = immutableDifferences(cluster, spec);
    if (fixed.length > 0) {
        throw new PksctlError(`updating cluster ${spec.name}`, `the cluster was changed outside Pulumi (${describeDifferences(fixed)}); these settings cannot be updated in place`);
    }
    for (const difference of updatableDifferences(cluster, spec)) {
        const args = ["update-cluster", spec.name];
        if (difference.field === "worker nodes") {
            args.push("--num-nodes", String(spec.numNodes));
        } else if (difference.field === "network profile") {
            args.push("--network-profile", spec.networkProfile ?? "");
        } else {
            args.push("--tags", tagsFlag(spec.tags ?? {}));
        }
        args.push("--non-interactive", "--wait");
        const step = `updating ${difference.field} of cluster ${spec.name} from ${canonical(difference.existing)} to ${canonical(difference.desired)}`;
        log.line(`pks: ${step}`);
        const remaining = wait.timeoutMs - (Date.now() - started);
        const result = await session.run(args, {
            timeoutMs: Math.max(remaining, 1000),
            tickMs: wait.pollMs,
            onTick: () => log.line(`pks: cluster ${spec.name}: update in progress (${formatElapsed(Date.now() - started)} elapsed)`),
        });
        if (result.timedOut) {
            throw new PksctlError(step, `timed out after ${formatElapsed(wait.timeoutMs)}; PKS carries on with the update; run \`pulumi up\` again to resume`);
        }
        const after = await session.findCluster(spec.name);
        if (result.code !== 0 || !after || after.last_action_state !== "succeeded") {
            throw new PksctlError(step, log.redact(after && after.last_action_state !== "succeeded"
                ? `PKS reports '${after.last_action_state}': ${after.last_action_description}` : errorText(result)));
        }
        log.line(`pks: cluster ${spec.name}: ${difference.field} updated (${formatElapsed(Date.now() - started)} elapsed)`);
        cluster = after;
    }
    return cluster;
}

async function deleteCluster(session: PksSession, name: string, log: ProgressLog, wait: WaitOptions): Promise<void> {
    const started = Date.now();
    const cluster = await session.findCluster(name);
    if (!cluster) {
        log.line(`pks: cluster ${name} is already gone`);
        return;
    }
    if (cluster.last_action_state === "in progress" && cluster.last_action !== "DELETE") {
        log.line(`pks: cluster ${name}: waiting for ${cluster.last_action} to finish before deleting`);
        await waitForCluster(session, name, log, wait, started).catch((e: unknown) => {
            // A failed create or update still has to be deleted.
            if (!(e instanceof PksctlError) || !/PKS reports/.test(e.message)) {
                throw e;
            }
        });
    }
    if (cluster.last_action !== "DELETE") {
        const result = await session.run(["delete-cluster", name, "--non-interactive"]);
        if (result.code !== 0 && !NOT_FOUND.test(errorText(result))) {
            throw new PksctlError(`deleting cluster ${name}`, log.redact(errorText(result)));
        }
        log.line(`pks: cluster ${name}: delete requested`);
    }
    await waitForCluster(session, name, log, wait, started, true);
}

/** Fetches the cluster's kubeconfig with `get-credentials` into the session's private KUBECONFIG. */
async function getCredentials(session: PksSession, name: string, login: PksLogin): Promise<string> {
    // With OIDC, get-credentials asks for the password again; both CLIs read it from the environment.
    const extraEnv: NodeJS.ProcessEnv = login.password ? { PKS_USER_PASSWORD: login.password, TKGI_USER_PASSWORD: login.password } : {};
    const result = await session.run(["get-credentials", name], { extraEnv });
    if (result.code !== 0) {
        throw new PksctlError(`fetching credentials for cluster ${name}`, errorText(result));
    }
    const kubeconfig = await fs.promises.readFile(session.kubeconfigPath, "utf8").catch(() => "");
    if (!kubeconfig.includes("clusters")) {
        throw new PksctlError(`fetching credentials for cluster ${name}`, "the CLI wrote no kubeconfig");
    }
    return kubeconfig;
}

// -------------------------------------------------------------------------------------------------------------
// Entry point

function requireEnv(env: NodeJS.ProcessEnv, name: string): string {
    const value = env[name];
    if (value === undefined || value === "") {
        throw new PksctlError("reading inputs", `${name} is not set`);
    }
    return value;
}

function parseJsonEnv<T>(env: NodeJS.ProcessEnv, name: string): T {
    try {
        return JSON.parse(requireEnv(env, name)) as T;
    } catch (e) {
        if (e instanceof PksctlError) {
            throw e;
        }
        throw new PksctlError("reading inputs", `${name} is not valid JSON`);
    }
}

function loginFromEnv(env: NodeJS.ProcessEnv): PksLogin {
    const clientName = env[PKSCTL_ENV.clientName] || undefined;
    const login: PksLogin = {
        cli: env[PKSCTL_ENV.cli] || "pks",
        api: requireEnv(env, PKSCTL_ENV.api),
        skipTlsValidation: env[PKSCTL_ENV.skipTlsValidation] === "true",
        caCert: env[PKSCTL_ENV.caCert] || undefined,
    };
    if (clientName) {
        return { ...login, clientName, clientSecret: requireEnv(env, PKSCTL_ENV.clientSecret) };
    }
    return { ...login, username: requireEnv(env, PKSCTL_ENV.username), password: requireEnv(env, PKSCTL_ENV.password) };
}

function waitFromEnv(env: NodeJS.ProcessEnv): WaitOptions {
    const timeout = Number(env[PKSCTL_ENV.timeoutSeconds] ?? 45 * 60);
    const poll = Number(env[PKSCTL_ENV.pollSeconds] ?? 30);
    if (!(timeout > 0) || !(poll > 0)) {
        throw new PksctlError("reading inputs", `${PKSCTL_ENV.timeoutSeconds} and ${PKSCTL_ENV.pollSeconds} must be positive numbers`);
    }
    return { timeoutMs: timeout * 1000, pollMs: poll * 1000 };
}

/** Runs one operation; returns the document for stdout. */
async function execute(operation: PksctlOperation, env: NodeJS.ProcessEnv, log: ProgressLog): Promise<string> {
    const login = loginFromEnv(env);
    const profile = operation.endsWith("network-profile") ? parseJsonEnv<NetworkProfileDocument>(env, PKSCTL_ENV.networkProfile) : undefined;
    const cluster = profile ? undefined : parseJsonEnv<ClusterSpec>(env, PKSCTL_ENV.cluster);
    const wait = waitFromEnv(env);
    const session = await PksSession.open(login, log);
    try {
        switch (operation) {
            case "create-network-profile":
                return JSON.stringify(await createNetworkProfile(session, profile!, log));
            case "delete-network-profile":
                await deleteNetworkProfile(session, profile!.name, log);
                return "";
            case "create-cluster":
                return JSON.stringify(summarize(await createCluster(session, cluster!, log, wait)));
            case "update-cluster":
                return JSON.stringify(summarize(await updateCluster(session, cluster!, log, wait)));
            case "delete-cluster":
                await deleteCluster(session, cluster!.name, log, wait);
                return "";
            case "get-credentials":
                return await getCredentials(session, cluster!.name, login);
        }
    } finally {
        await session.close();
    }
}

async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
    const operation = argv[0] as PksctlOperation;
    const log = new ProgressLog([env[PKSCTL_ENV.password], env[PKSCTL_ENV.clientSecret]]);
    if (!OPERATIONS.includes(operation)) {
        log.line(`pksctl: unknown operation '${argv[0] ?? ""}'; expected one of ${OPERATIONS.join(", ")}`);
        return 2;
    }
    try {
        const document = await execute(operation, env, log);
        if (document !== "") {
            process.stdout.write(document.endsWith("\n") ? document : `${document}\n`);
        }
        return 0;
    } catch (e) {
        log.line(`pksctl: ${e instanceof PksctlError ? e.message : (e as Error).stack ?? String(e)}`);
        return 1;
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then((code) => {
        process.exitCode = code;
    });
}
