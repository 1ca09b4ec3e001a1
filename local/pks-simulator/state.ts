/**
 * Server-side state of the local PKS simulator: what a PKS API would hold (users, plans, network profiles,
 * clusters) plus the knobs tests and the `local` stack use to shape its behaviour (durations, failure
 * injection, the kubeconfig `get-credentials` hands out).
 *
 * The state lives in one directory, `$PKS_SIM_STATE` (default `.pks-simulator/` at the project root), as two JSON
 * files: `settings.json` (knobs, written by tests or by hand) and `state.json` (objects, written by the CLI), plus
 * `argv.log`, the arguments of every invocation (one JSON array per line), and `processes.log`, the process id
 * of every invocation (so tests can prove that no CLI process outlived its caller).
 * Every CLI invocation takes a lock on the directory, so parallel `pks` processes see consistent state.
 *
 * Time: by default the simulator runs on the wall clock (operations take `durations` real seconds). With
 * `clock: { mode: "virtual" }` it runs on a clock kept in the state: every CLI invocation advances it by
 * `stepSeconds`, and a test can move it on with `advanceClock`, so that long operations cost no real time.
 */
import * as fs from "fs";
import * as path from "path";
import { advance } from "./lifecycle";
import { Wording } from "./messages";

/** A PKS plan as `pks plans --json` shows it, plus the tile's "Maximum number of workers on a cluster". */
export interface SimPlan {
    id: string;
    name: string;
    description: string;
    worker_instances: number;
    master_instances: number;
    max_worker_instances: number;
    allow_privileged_containers: boolean;
}

/** A UAA principal that may log in: a user (`-u/-p`) or a client (`--client-name/--client-secret`). */
export interface SimPrincipal {
    secret: string;
    /** `pks.clusters.admin`: may create and delete network profiles. */
    admin: boolean;
}

/** What `get-credentials` writes into the kubeconfig; unset fields get simulator defaults. */
export interface SimKubeconfigSettings {
    /** API server URL; default `https://<kubernetes_master_host>:<port>`. */
    server?: string;
    /** Bearer token; default a token derived from the cluster uuid and `tokenGeneration`. */
    token?: string;
    /** Base64 PEM CA bundle; default `insecure-skip-tls-verify: true`. */
    certificateAuthorityData?: string;
}

/** Which clock the simulator's durations and token lifetimes run on. */
export interface SimClock {
    /** `wall`: real time. `virtual`: a clock in the state that only CLI invocations and `advanceClock` move. */
    mode: "wall" | "virtual";
    /** Virtual mode: seconds each CLI invocation (and each poll of a `--wait`) advances the clock. Default 1. */
    stepSeconds?: number;
}

/**
 * An injected fault: what `times` invocations of `command` (for the object `name`, when given), after the first
 * `after` of them, do instead of, or after, their normal work.
 *
 * - `fail`: print `message` on stderr (and `stdout`, if given) and exit `exitCode` (1), changing nothing;
 * - `hang`: change nothing and never answer (until killed);
 * - `output`: print `stdout` instead of the normal output and exit `exitCode` (0), changing nothing;
 * - `fail-after-effect`: do the work (e.g. the create goes through), then print `message` and exit 1 instead of
 *   the normal output;
 * - `hang-after-effect`: do the work, then never answer.
 */
export interface SimFault {
    command: string;
    /** Only invocations whose first argument (the cluster or profile name) is this. */
    name?: string;
    kind: "fail" | "hang" | "output" | "fail-after-effect" | "hang-after-effect";
    /** How many matching invocations pass unharmed before the fault strikes; default 0. */
    after?: number;
    /** How many matching invocations the fault affects; default 1. */
    times?: number;
    /** The error text on stderr (`fail`, `fail-after-effect`); default `Error: 503 Service Unavailable`. */
    message?: string;
    /** What stdout carries (`output`; optional for `fail`). */
    stdout?: string;
    exitCode?: number;
}

export interface SimSettings {
    users: Record<string, SimPrincipal>;
    clients: Record<string, SimPrincipal>;
    plans: SimPlan[];
    /**
     * Seconds an operation stays `in progress` before it completes (`upgrade` defaults to `update`), and seconds
     * an upgrade stays `queued` before it starts (`queue`, default 0: it starts at once).
     */
    durations: { create: number; update: number; delete: number; upgrade?: number; queue?: number };
    /**
     * Failure injection: cluster name → error message; the next CREATE of that cluster ends in `failState` and
     * leaves its BOSH deployment behind.
     */
    failCreate: Record<string, string>;
    /** The state a failed create ends in: `failed` or `error` (both documented). Default `failed`. */
    failState: "failed" | "error";
    /** Failure injection: cluster name → error message; the next UPDATE of that cluster fails. */
    failUpdate: Record<string, string>;
    /** How many attempts of that UPDATE fail (default: all of them); with `updateRetries`, later ones may pass. */
    failUpdateAttempts: Record<string, number>;
    /** Failure injection: cluster name → error message; the next UPGRADE of that cluster ends `failed`. */
    failUpgrade: Record<string, string>;
    /**
     * The tile's "Automatic retry on cluster update operations failure": how many times a failed UPDATE is run
     * again (0 = off; the tile retries up to three times).
     */
    updateRetries: number;
    /** The control plane's TKGI version and the Kubernetes version it ships; new clusters get them. */
    tkgiVersion: string;
    kubernetesVersion: string;
    /** The tile's Pods IP Block ID (NSX-T). */
    tilePodIpBlockId: string;
    /** How errors are worded (see messages.ts): as documented, or every undocumented text altered. */
    wording: Wording;
    accessTokenTtlSeconds: number;
    refreshTokenTtlSeconds: number;
    kubeconfig: SimKubeconfigSettings;
    /** Bump to rotate the default kubeconfig token of every cluster. */
    tokenGeneration: number;
    /** OIDC is on: `get-credentials` asks a user for the password again (PKS_USER_PASSWORD / TKGI_USER_PASSWORD). */
    oidc: boolean;
    /** The clock durations and token lifetimes run on; default the wall clock. */
    clock: SimClock;
    /** Fault injection, consumed in order of the list (see SimFault). */
    faults: SimFault[];
}

export interface SimNetworkProfile {
    name: string;
    uuid: string;
    description: string;
    parameters: Record<string, unknown>;
}

export type SimAction = "CREATE" | "UPDATE" | "DELETE" | "UPGRADE";

/** The documented values of `last_action_state`. */
export type SimActionState = "in progress" | "succeeded" | "failed" | "error" | "queued";

export interface SimCluster {
    name: string;
    uuid: string;
    plan_name: string;
    external_hostname: string;
    worker_instances: number;
    network_profile_name: string;
    tags: Array<{ name: string; value: string }>;
    master_ips: string[];
    last_action: SimAction;
    last_action_state: SimActionState;
    last_action_description: string;
    /** The cluster's TKGI version and Kubernetes version (behind the control plane's until it is upgraded). */
    pks_version: string;
    k8s_version: string;
    /** Epoch milliseconds when the current action started (or, while `queued`, starts), and when it completes. */
    action_started_at: number;
    action_ends_at: number;
    /** Set when the current action is to fail at its end (from failure injection). */
    action_failure?: string;
    /** Which attempt of an UPDATE runs (the tile may retry a failed one). */
    update_attempt?: number;
    /** A failed create left its BOSH deployment (`service-instance_<uuid>`), which blocks delete-cluster. */
    bosh_deployment_left?: boolean;
}

export interface SimState {
    profiles: Record<string, SimNetworkProfile>;
    clusters: Record<string, SimCluster>;
    /** Monotonic counter for uuids and IPs, so runs are reproducible. */
    serial: number;
    /** The virtual clock (epoch milliseconds), once a virtual-clock invocation has started it. */
    clock?: number;
    /** How many matching invocations each fault (by its JSON text) has seen so far. */
    faultHits?: Record<string, number>;
}

export const DEFAULT_SETTINGS: SimSettings = {
    users: { admin: { secret: "admin-password", admin: true } },
    clients: {},
    plans: [
        { id: "8A0E21A8-8072-4D80-B365-D1F502085560", name: "small", description: "Example: This plan will configure a lightweight kubernetes cluster. Not recommended for production workloads.", worker_instances: 3, master_instances: 1, max_worker_instances: 50, allow_privileged_containers: false },
        { id: "58375a45-17f7-4291-acf1-455bf561fd09", name: "medium", description: "Example: This plan will configure a medium sized kubernetes cluster, suitable for more pods.", worker_instances: 5, master_instances: 3, max_worker_instances: 50, allow_privileged_containers: false },
        { id: "241118e5-69b2-4ef9-b47f-4d2ab071aff5", name: "large", description: "Example: This plan will configure a large kubernetes cluster for resource heavy workloads, or a high number of workloads.", worker_instances: 4, master_instances: 3, max_worker_instances: 50, allow_privileged_containers: false },
    ],
    durations: { create: 5, update: 3, delete: 3 },
    failCreate: {},
    failState: "failed",
    failUpdate: {},
    failUpdateAttempts: {},
    failUpgrade: {},
    updateRetries: 0,
    tkgiVersion: "1.19.2-build.10",
    kubernetesVersion: "1.28.11",
    tilePodIpBlockId: "fead2c9a-96e8-4c5f-98a3-e797f06bc8d4",
    wording: "documented",
    accessTokenTtlSeconds: 600,
    refreshTokenTtlSeconds: 21600,
    kubeconfig: {},
    tokenGeneration: 1,
    oidc: false,
    clock: { mode: "wall" },
    faults: [],
};

/** The state directory: `$PKS_SIM_STATE`, or `.pks-simulator/` at the project root. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
    return env.PKS_SIM_STATE ?? path.resolve(__dirname, "..", "..", ".pks-simulator");
}

function readJson<T>(file: string, fallback: T): T {
    try {
        return JSON.parse(fs.readFileSync(file, "utf8")) as T;
    } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") {
            return fallback;
        }
        throw e;
    }
}

function writeJson(file: string, value: unknown): void {
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + "\n");
    fs.renameSync(tmp, file);
}

export function readSettings(dir: string): SimSettings {
    const stored = readJson<Partial<SimSettings>>(path.join(dir, "settings.json"), {});
    return { ...DEFAULT_SETTINGS, ...stored };
}

/** Merges `patch` into the stored settings (tests use this to inject failures, shorten durations, …). */
export function writeSettings(dir: string, patch: Partial<SimSettings>): SimSettings {
    fs.mkdirSync(dir, { recursive: true });
    const stored = readJson<Partial<SimSettings>>(path.join(dir, "settings.json"), {});
    const next = { ...stored, ...patch };
    writeJson(path.join(dir, "settings.json"), next);
    return { ...DEFAULT_SETTINGS, ...next };
}

export function readState(dir: string): SimState {
    return readJson<SimState>(path.join(dir, "state.json"), { profiles: {}, clusters: {}, serial: 0 });
}

/** How a `withState` call treats the clock. */
export interface StateAccess {
    /** Advance the virtual clock by one step first (one per CLI invocation, and per poll of a `--wait`). */
    tick?: boolean;
    /** Move the virtual clock on by this many seconds first (tests). */
    advanceSeconds?: number;
}

/** Now, on the simulator's clock: the wall clock, or the virtual one kept in the state (moved as `access` says). */
function clockNow(state: SimState, settings: SimSettings, access: StateAccess): number {
    if (settings.clock.mode !== "virtual") {
        return Date.now();
    }
    let now = state.clock ?? Date.now();
    if (access.tick) {
        now += (settings.clock.stepSeconds ?? 1) * 1000;
    }
    now += (access.advanceSeconds ?? 0) * 1000;
    state.clock = now;
    return now;
}

/**
 * Runs `fn` with exclusive access to the state directory; what `fn` leaves in the state object is saved. `fn`
 * gets the time on the simulator's clock. The lock is a directory (atomic mkdir); a lock older than 30 s is
 * considered abandoned.
 */
export async function withState<T>(dir: string, fn: (state: SimState, settings: SimSettings, now: number) => T | Promise<T>, access: StateAccess = {}): Promise<T> {
    fs.mkdirSync(dir, { recursive: true });
    const lock = path.join(dir, "lock");
    const started = Date.now();
    for (;;) {
        try {
            fs.mkdirSync(lock);
            break;
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
                throw e;
            }
            const held = fs.statSync(lock, { throwIfNoEntry: false });
            if ((held && Date.now() - held.mtimeMs > 30_000) || Date.now() - started > 60_000) {
                fs.rmSync(lock, { recursive: true, force: true });
            }
            await new Promise((resolve) => setTimeout(resolve, 5));
        }
    }
    try {
        const state = readState(dir);
        const settings = readSettings(dir);
        const now = clockNow(state, settings, access);
        advance(state, settings, now);
        const result = await fn(state, settings, now);
        writeJson(path.join(dir, "state.json"), state);
        return result;
    } finally {
        fs.rmSync(lock, { recursive: true, force: true });
    }
}

/** Moves the virtual clock on by `seconds` (completing what has run its course by then). */
export async function advanceClock(dir: string, seconds: number): Promise<void> {
    await withState(dir, () => undefined, { advanceSeconds: seconds });
}

/** The state as a client would see it now (actions that have run their course are completed). */
export async function snapshot(dir: string): Promise<SimState> {
    return withState(dir, (state) => JSON.parse(JSON.stringify(state)) as SimState);
}

/** The arguments of every CLI invocation so far. */
export function invocations(dir: string): string[][] {
    const file = path.join(dir, "argv.log");
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as string[]) : [];
}

/** The process id and arguments of every CLI invocation so far. */
export function processes(dir: string): Array<{ pid: number; argv: string[] }> {
    const file = path.join(dir, "processes.log");
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { pid: number; argv: string[] }) : [];
}
