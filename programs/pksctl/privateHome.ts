/**
 * The private, temporary home of one pksctl run: `HOME`, `PKS_HOME` and `KUBECONFIG` of every CLI call point
 * into it, so the user's own `~/.pks` and `~/.kube/config` are never read or written and parallel runs never
 * share a session. It holds the CLI's `creds.yml` (live access and refresh tokens), so it is removed when the run
 * ends, by the run's watchdog when pksctl is killed, and by the next run when both were killed.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** Every private home is `<tmpdir>/pksctl-home-<pid>-<random>`, marked with the file below. */
const PREFIX = "pksctl-home-";
/** The marker: `{"pid": <pksctl's process id>}`. Only marked directories are ever swept. */
const MARKER = ".pksctl-run";

/** A private home directory (mode 0700). */
export class PrivateHome {
    private constructor(readonly dir: string) {}

    /** Creates the directory and its marker. */
    static create(): PrivateHome {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}${process.pid}-`));
        fs.writeFileSync(path.join(dir, MARKER), JSON.stringify({ pid: process.pid }), { mode: 0o600 });
        return new PrivateHome(dir);
    }

    /** A file in the home. */
    file(name: string): string {
        return path.join(this.dir, name);
    }

    /** Removes the home with everything in it (idempotent). */
    remove(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

/** Whether a process with this id exists (a process of another user counts as existing). */
function isAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
}

/** The pksctl process that owns a private home, from its marker; undefined for anything unmarked. */
function ownerOf(dir: string): number | undefined {
    try {
        const marker = JSON.parse(fs.readFileSync(path.join(dir, MARKER), "utf8")) as { pid?: unknown };
        return typeof marker.pid === "number" && Number.isInteger(marker.pid) && marker.pid > 0 ? marker.pid : undefined;
    } catch {
        return undefined;
    }
}

/**
 * Removes the private homes that earlier pksctl runs left behind when they were killed together with their
 * watchdog: only directories named and marked as pksctl's, owned by this user (not symbolic links), whose owning
 * process no longer exists. Returns the removed directories.
 */
export function sweepStaleHomes(): string[] {
    const uid = process.getuid?.();
    if (uid === undefined) {
        return [];
    }
    const tmp = os.tmpdir();
    let names: string[];
    try {
        names = fs.readdirSync(tmp).filter((n) => n.startsWith(PREFIX));
    } catch {
        return [];
    }
    const removed: string[] = [];
    for (const name of names) {
        const dir = path.join(tmp, name);
        const stat = fs.lstatSync(dir, { throwIfNoEntry: false });
        if (!stat?.isDirectory() || stat.uid !== uid) {
            continue;
        }
        const owner = ownerOf(dir);
        if (owner === undefined || owner === process.pid || isAlive(owner)) {
            continue;
        }
        fs.rmSync(dir, { recursive: true, force: true });
        removed.push(dir);
    }
    return removed;
}
