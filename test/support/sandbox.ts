/**
 * A scratch PKS simulator (state dir, HOME, TMPDIR) on a virtual clock, and a runner of pksctl operations
 * against it, exactly as the command provider runs them (same interpreter, a child process, no shell).
 */
import { expect } from "chai";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PKSCTL_INTERPRETER } from "../../components/pks/connection";
import { OWNER_TAG, OwnershipInput } from "../../programs/pksctl/contract";
import {
    SimCluster, SimFault, SimSettings, SimState, advanceClock, invocations, processes, snapshot, withState, writeSettings,
} from "../../local/pks-simulator/state";
import { ROOT } from "./stacks";

export { ROOT };
export const SIMULATOR = path.join(ROOT, "local", "pks-simulator", "bin");
export const PASSWORD = "s3cret-Pa55word!";
/** The marker of the sandbox's claim: what a stack recorded before its first create. */
export const MARKER = "0123456789abcdef";
/** The ownership tag of a cluster the sandbox's stack created. */
export const OWNED = { name: OWNER_TAG, value: MARKER };

/** PKSCTL_OWNERSHIP as a component passes it: the stack's claim (the name was free), adopting nothing. */
export function ownership(overrides: Partial<OwnershipInput> = {}): string {
    return JSON.stringify({ claim: { marker: MARKER }, adopt: false, tag: true, ...overrides });
}

/** What one pksctl run did. */
export interface Run {
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    seconds: number;
}

/** A pksctl run in progress. */
export interface Started {
    child: ChildProcess;
    done: Promise<Run>;
}

export function profile(overrides: Partial<{ name: string; description: string; parameters: Record<string, unknown> }> = {}) {
    return { name: "network-profile-medium", description: "network profile with medium size LB", parameters: { lb_size: "medium" }, ...overrides };
}

export function cluster(overrides: Record<string, unknown> = {}) {
    return { name: "medium-lb-cluster", externalHostname: "mediumlb", plan: "large", numNodes: 4, networkProfile: "network-profile-medium", ...overrides };
}

export function expectOk(run: Run): void {
    expect(run.code, `pksctl failed:\n${run.stderr}`).to.equal(0);
}

/** A failure that says what went wrong in one `pksctl: …` line and never shows a stack trace. */
export function expectFailure(run: Run, message: string | RegExp): void {
    expect(run.code, `pksctl should have failed:\n${run.stderr}`).to.equal(1);
    expect(run.stdout).to.equal("");
    const last = run.stderr.trimEnd().split("\n").pop() ?? "";
    expect(last).to.match(/^pksctl: /);
    if (typeof message === "string") {
        expect(last, `the last line of:\n${run.stderr}`).to.include(message);
    } else {
        expect(last, `the last line of:\n${run.stderr}`).to.match(message);
    }
    expect(run.stderr).to.not.match(/^\s+at /m, "no stack trace");
}

/** Whether a process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
    } catch {
        return false;
    }
    try {
        return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
        return process.platform !== "linux";
    }
}

export async function waitFor(condition: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
        if (await condition()) {
            return true;
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return condition();
}

export class Sandbox {
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
            durations: { create: 3, update: 2, delete: 2 },
            // Every CLI call moves the simulator's clock on by a second: a 3 s create takes three polls.
            clock: { mode: "virtual", stepSeconds: 1 },
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
            PKSCTL_POLL_SECONDS: "0.05",
            PKSCTL_TIMEOUT_SECONDS: "60",
            PKSCTL_RETRY_DELAY_SECONDS: "0.05",
            PKSCTL_NETWORK_PROFILE: JSON.stringify(profile()),
            PKSCTL_CLUSTER: JSON.stringify(cluster()),
            PKSCTL_OWNERSHIP: ownership(),
            ...extra,
        };
    }

    /** Starts `pksctl <operation>` as the command provider does (same interpreter, no shell). */
    start(operation: string, extra: Record<string, string> = {}): Started {
        const started = Date.now();
        const [program, ...args] = PKSCTL_INTERPRETER;
        const child = spawn(program, [...args, operation], { cwd: ROOT, env: this.env(extra) });
        const done = new Promise<Run>((resolve, reject) => {
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
            child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
            child.on("error", reject);
            child.on("close", (code, signal) => {
                const run = { code, signal, stdout, stderr, seconds: (Date.now() - started) / 1000 };
                this.runs.push(run);
                resolve(run);
            });
        });
        return { child, done };
    }

    /** Runs `pksctl <operation>` to its end. */
    run(operation: string, extra: Record<string, string> = {}): Promise<Run> {
        return this.start(operation, extra).done;
    }

    snapshot(): Promise<SimState> {
        return snapshot(this.state);
    }

    settings(patch: Partial<SimSettings>): void {
        writeSettings(this.state, patch);
    }

    faults(...faults: SimFault[]): void {
        writeSettings(this.state, { faults });
    }

    /**
     * Puts a cluster into PKS without running pksctl: by default one the sandbox's stack created long ago
     * (succeeded, with its ownership tag); with `secondsLeft`, its current action ends that many seconds from now.
     */
    seedCluster(overrides: Partial<SimCluster> = {}, secondsLeft = 0): Promise<SimCluster> {
        return withState(this.state, (state, settings, now) => {
            state.serial += 1;
            const seeded: SimCluster = {
                name: "medium-lb-cluster", uuid: `00000000-0000-4000-8000-${String(state.serial).padStart(12, "0")}`, plan_name: "large",
                external_hostname: "mediumlb", worker_instances: 4, network_profile_name: "network-profile-medium", tags: [OWNED],
                master_ips: [`10.40.14.${10 + state.serial}`], last_action: "CREATE", last_action_state: "succeeded",
                last_action_description: "Instance provisioning completed", pks_version: settings.tkgiVersion, k8s_version: settings.kubernetesVersion,
                action_started_at: now, action_ends_at: now + secondsLeft * 1000, ...overrides,
            };
            state.clusters[seeded.name] = seeded;
            return seeded;
        });
    }

    /** Puts a network profile into PKS, without running pksctl. */
    seedProfile(document = profile()): Promise<void> {
        return withState(this.state, (state) => {
            state.profiles[document.name] = { ...document, uuid: `uuid-of-${document.name}` };
        });
    }

    advance(seconds: number): Promise<void> {
        return advanceClock(this.state, seconds);
    }

    /** The arguments of every CLI call of this subcommand so far. */
    calls(command: string): string[][] {
        return invocations(this.state).filter((a) => a[0] === command);
    }

    /** The private homes of pksctl runs left in the sandbox's TMPDIR. */
    homes(): string[] {
        return fs.readdirSync(this.tmp).filter((f) => f.startsWith("pksctl-"));
    }

    /** Every CLI call's process, in order. */
    processes(): Array<{ pid: number; argv: string[] }> {
        return processes(this.state);
    }

    /** The simulator processes (CLI calls) still running. */
    liveCli(): Array<{ pid: number; argv: string[] }> {
        return processes(this.state).filter((p) => isAlive(p.pid));
    }

    /** Nothing left behind: no private home (no tokens on disk) and no CLI process, within `ms`. */
    async expectClean(ms = 5000): Promise<void> {
        await waitFor(() => this.homes().length === 0 && this.liveCli().length === 0, ms);
        expect(this.homes(), "private homes left in TMPDIR").to.deep.equal([]);
        expect(this.liveCli(), "CLI processes still running").to.deep.equal([]);
    }

    cleanup(): void {
        for (const p of this.liveCli()) {
            try {
                process.kill(p.pid, "SIGKILL");
            } catch {
                // gone
            }
        }
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

/**
 * Declares tests whose bodies all start when the suite starts, at most `limit` at a time, instead of one after
 * the other: most of a pksctl test's time is spent waiting (process start-up, polls), so this is what keeps the
 * suite fast. Each test has its own sandbox; its `it` awaits its own body, so every failure is reported where
 * it belongs.
 */
export function concurrentTests(limit: number, tests: Array<[title: string, body: () => Promise<void>]>): void {
    const results = new Map<string, Promise<void>>();
    before(() => {
        const gates: Array<() => void> = [];
        let running = 0;
        const release = () => {
            running -= 1;
            gates.shift()?.();
        };
        const acquire = () => new Promise<void>((resolve) => {
            if (running < limit) {
                running += 1;
                resolve();
            } else {
                gates.push(() => { running += 1; resolve(); });
            }
        });
        for (const [title, body] of tests) {
            const result = acquire().then(body).finally(release);
            result.catch(() => undefined); // awaited (and reported) by its own test
            results.set(title, result);
        }
    });
    for (const [title] of tests) {
        it(title, () => results.get(title)!);
    }
}

/** A test body with a fresh sandbox, which must be left clean (no private home, no CLI process) and is removed. */
export function withBox(body: (box: Sandbox) => Promise<void>): () => Promise<void> {
    return async () => {
        const box = new Sandbox();
        try {
            await body(box);
            await box.expectClean();
        } finally {
            box.cleanup();
        }
    };
}
