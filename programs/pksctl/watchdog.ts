/**
 * The watchdog of a pksctl run: a small process (watchdog.sh, POSIX sh) started at the beginning of every run,
 * which cleans up after pksctl when pksctl cannot, because it was killed with SIGKILL (which the command
 * provider sends on cancel or Ctrl-C, to pksctl only).
 *
 * pksctl holds the write end of a pipe to the watchdog's stdin and tells it, one line each, the private home
 * (`home <dir>`) and every CLI process group it starts and reaps (`track <pgid>`, `untrack <pgid>`). When the
 * pipe closes, pksctl is gone: the watchdog stops the groups still tracked (SIGTERM, then SIGKILL), removes the
 * home and exits. After a normal end there is nothing left to do. It runs in a session of its own, so a
 * terminal's Ctrl-C (meant for pksctl) does not reach it.
 */
import { ChildProcess, spawn } from "child_process";
import type { Socket } from "net";
import * as path from "path";
import { GroupWatcher } from "./cliProcess";

const SCRIPT = path.join(__dirname, "watchdog.sh");

/** pksctl's end of the watchdog. Without a watchdog (it could not be started) every method does nothing. */
export class Watchdog implements GroupWatcher {
    private constructor(private readonly child: ChildProcess | undefined) {}

    /** Starts the watchdog process; pksctl does not wait for it. */
    static start(): Watchdog {
        try {
            // Its environment is PATH alone (for `sleep` and `rm`): nothing of pksctl's, whose inputs hold the PKS
            // password or client secret, reaches a process that outlives it.
            const child = spawn("/bin/sh", [SCRIPT], { detached: true, stdio: ["pipe", "ignore", "ignore"], env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
            child.on("error", () => { /* no watchdog: pksctl still cleans up whenever it can */ });
            child.stdin?.on("error", () => { /* the watchdog is gone */ });
            // Neither the process nor the pipe keeps pksctl alive.
            child.unref();
            (child.stdin as Socket | null)?.unref();
            return new Watchdog(child);
        } catch {
            return new Watchdog(undefined);
        }
    }

    /** The private home to remove if pksctl dies. */
    home(dir: string): void {
        this.send(`home ${dir}`);
    }

    track(pgid: number): void {
        this.send(`track ${pgid}`);
    }

    untrack(pgid: number): void {
        this.send(`untrack ${pgid}`);
    }

    /** pksctl has cleaned up after itself; the watchdog exits. */
    close(): void {
        this.child?.stdin?.end();
    }

    private send(line: string): void {
        if (this.child?.stdin?.writable) {
            this.child.stdin.write(`${line}\n`);
        }
    }
}
