/** Running a program to its end in a test, as the command provider or a user would, and keeping what it printed. */
import { spawn } from "child_process";

/** How a program ended and what it printed. */
export interface ProcessResult {
    code: number | null;
    stdout: string;
    stderr: string;
}

/**
 * Runs `file args` (no shell) with the given working directory, environment and stdin, to its end; as another
 * user when `uid` and `gid` are given (needs root).
 */
export function runToEnd(file: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; stdin?: string; uid?: number; gid?: number } = {}): Promise<ProcessResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(file, args, { cwd: options.cwd, env: options.env ?? process.env, uid: options.uid, gid: options.gid });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
        child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stdout, stderr }));
        child.stdin.on("error", () => { /* the program may exit before reading its stdin */ });
        child.stdin.end(options.stdin ?? "");
    });
}
