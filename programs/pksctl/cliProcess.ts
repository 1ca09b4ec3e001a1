/**
 * Runs the PKS CLI: each call in a process group of its own (so it and anything it starts can be stopped
 * together), bounded in time, never through a shell. Every live group is known to the run's watchdog, which
 * stops it if pksctl itself is killed.
 */
import { ChildProcess, spawn } from "child_process";
import { PksctlError } from "./errors";
import { formatElapsed } from "./progress";

/** What one CLI call did. */
export interface CliResult {
    /** The exit status; null when the CLI was ended by a signal. */
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    /** Killed because it took longer than its time limit. */
    timedOut: boolean;
    /** How long it ran, for messages: "timed out after 12s". */
    elapsedMs: number;
}

/** One CLI call. */
export interface CliCall {
    file: string;
    args: string[];
    env: NodeJS.ProcessEnv;
    /** Written to the CLI's stdin, then closed (the answer to its prompt). */
    stdin?: string;
    timeoutMs: number;
}

/** Is told about every live process group, so that it can stop them when pksctl cannot. */
export interface GroupWatcher {
    track(pgid: number): void;
    untrack(pgid: number): void;
}

/** How long a process group gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 2000;

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
    try {
        process.kill(-pgid, signal);
    } catch {
        // the group is gone already
    }
}

/** The CLI calls of one pksctl run. */
export class CliProcesses {
    private readonly live = new Map<number, { child: ChildProcess; args: string[] }>();
    private stopping = false;

    constructor(private readonly watcher?: GroupWatcher) {}

    /** Runs one call to completion (or to its time limit); rejects when the CLI cannot be started, or after `stopAll`. */
    run(call: CliCall): Promise<CliResult> {
        const started = Date.now();
        return new Promise((resolve, reject) => {
            if (this.stopping) {
                reject(new PksctlError("running the PKS CLI", "pksctl is being interrupted"));
                return;
            }
            // detached: a new session and process group, led by the CLI, so that it can be stopped with its children
            // and a Ctrl-C in pksctl's terminal reaches pksctl only (which then stops the CLI itself).
            const child = spawn(call.file, call.args, { env: call.env, stdio: ["pipe", "pipe", "pipe"], detached: true });
            const pgid = child.pid;
            if (pgid !== undefined) {
                this.live.set(pgid, { child, args: call.args });
                this.watcher?.track(pgid);
            }
            let stdout = "";
            let stderr = "";
            let timedOut = false;
            child.stdout?.on("data", (d: Buffer) => { stdout += d.toString("utf8"); });
            child.stderr?.on("data", (d: Buffer) => { stderr += d.toString("utf8"); });
            child.stdin?.on("error", () => { /* the CLI may exit before reading its stdin */ });
            child.stdin?.end(call.stdin ?? "");
            let killer: NodeJS.Timeout | undefined;
            const timer = setTimeout(() => {
                timedOut = true;
                if (pgid !== undefined) {
                    signalGroup(pgid, "SIGTERM");
                    killer = setTimeout(() => signalGroup(pgid, "SIGKILL"), KILL_GRACE_MS);
                }
            }, Math.max(1, call.timeoutMs));
            const done = () => {
                clearTimeout(timer);
                clearTimeout(killer);
                if (pgid !== undefined) {
                    this.live.delete(pgid);
                    this.watcher?.untrack(pgid);
                }
            };
            child.on("error", (e: NodeJS.ErrnoException) => {
                done();
                reject(new PksctlError("starting the PKS CLI", e.code === "ENOENT"
                    ? `'${call.file}' was not found; install the pks or tkgi CLI, or set pksCli to its path`
                    : `'${call.file}' could not be started: ${e.code ?? e.message}`));
            });
            child.on("close", (code, signal) => {
                done();
                resolve({ code, signal, stdout, stderr, timedOut, elapsedMs: Date.now() - started });
            });
        });
    }

    /** The command lines of the calls still running, e.g. `cluster c1 --json`. */
    running(): string[] {
        return [...this.live.values()].map((p) => p.args.join(" "));
    }

    /**
     * Stops every live call and its process group (SIGTERM, then SIGKILL for what is left after a grace period);
     * no call starts after this.
     */
    async stopAll(): Promise<void> {
        this.stopping = true;
        const groups = [...this.live.keys()];
        groups.forEach((pgid) => signalGroup(pgid, "SIGTERM"));
        const until = Date.now() + KILL_GRACE_MS;
        while (this.live.size > 0 && Date.now() < until) {
            await new Promise((resolve) => setTimeout(resolve, 20));
        }
        [...this.live.keys()].forEach((pgid) => signalGroup(pgid, "SIGKILL"));
    }
}

/** "timed out after 12s", for a call that was killed at its time limit. */
export function timedOutText(result: CliResult): string {
    return `timed out after ${formatElapsed(result.elapsedMs)}`;
}
