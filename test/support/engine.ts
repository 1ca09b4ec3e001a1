/**
 * What the end-to-end suites read off a run of the engine and off the machine: the engine's steps per
 * resource, the final output, the `pulumi` CLI run as a plain process (for interrupting it), and the PKS CLI
 * processes and pksctl homes a run may have left behind.
 */
import { EngineEvent, OpType } from "@pulumi/pulumi/automation";
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";

/** What happened to which resource in one operation, from the engine's event stream, in order. */
export interface Step {
    op: OpType;
    urn: string;
    type: string;
}

/** The last part of a URN: the resource's name. */
export const nameOf = (urn: string): string => urn.split("::").pop()!;

/** A diagnostic of a run (what the program or a provider logged), ephemeral status lines included. */
export interface Diagnostic {
    severity: string;
    message: string;
    urn?: string;
}

/** Records a run's finished steps, its diagnostics and its output (indented into the test log). */
export function recorder(): { steps: Step[]; diagnostics: Diagnostic[]; output: string[]; onEvent: (e: EngineEvent) => void; onOutput: (s: string) => void } {
    const steps: Step[] = [];
    const diagnostics: Diagnostic[] = [];
    const output: string[] = [];
    return {
        steps,
        diagnostics,
        output,
        onEvent: (e) => {
            const m = e.resOutputsEvent?.metadata;
            if (m) {
                steps.push({ op: m.op, urn: m.urn, type: m.type });
            }
            const d = e.diagnosticEvent;
            if (d) {
                diagnostics.push({ severity: d.severity, message: d.message, urn: d.urn });
            }
        },
        onOutput: (s) => {
            output.push(s);
            process.stdout.write(s.split("\n").map((l) => (l ? `      | ${l}` : l)).join("\n"));
        },
    };
}

/** The index of the first step with this op of the resource `type::name`; fails the test when there is none. */
export function stepIndex(steps: Step[], op: OpType, typeAndName: string): number {
    const i = steps.findIndex((s) => s.op === op && `${s.type}::${nameOf(s.urn)}` === typeAndName);
    if (i < 0) {
        throw new Error(`no '${op}' step of ${typeAndName}; steps: ${steps.map((s) => `${s.op} ${s.type}::${nameOf(s.urn)}`).join(", ")}`);
    }
    return i;
}

/** The `pulumi` CLI started as a user starts it, in the project directory. */
export function startCli(cwd: string, env: Record<string, string>, args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
    const pulumi = path.join(env.PATH.split(path.delimiter)[0], "pulumi");
    const child = spawn(pulumi, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    const collect = (d: Buffer) => {
        text += d.toString("utf8");
        process.stdout.write(d.toString("utf8").split("\n").map((l) => (l ? `      | ${l}` : l)).join("\n"));
    };
    child.stdout!.on("data", collect);
    child.stderr!.on("data", collect);
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    return { child, output: () => text, exited };
}

/** Runs a `pulumi` command to completion in the project directory and returns its stdout. */
export function cli(cwd: string, env: Record<string, string>, args: string[]): string {
    const pulumi = path.join(env.PATH.split(path.delimiter)[0], "pulumi");
    return execFileSync(pulumi, args, { cwd, env: { ...process.env, ...env }, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
}

/** Running processes whose command line contains `needle` (pid and command line), from /proc. */
export function processesMatching(needle: string): Array<{ pid: number; cmdline: string }> {
    const found: Array<{ pid: number; cmdline: string }> = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry) || Number(entry) === process.pid) {
            continue;
        }
        try {
            const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim();
            const state = /^State:\s+(\S)/m.exec(fs.readFileSync(`/proc/${entry}/status`, "utf8"))?.[1];
            if (cmdline.includes(needle) && state !== "Z") {
                found.push({ pid: Number(entry), cmdline });
            }
        } catch {
            // the process ended while we looked
        }
    }
    return found;
}

/** The message of the failure the operation ends in; fails the test when it succeeds instead. */
export async function failureOf(operation: Promise<unknown>): Promise<string> {
    try {
        await operation;
    } catch (e) {
        return (e as Error).message;
    }
    throw new Error("the operation was expected to fail, and succeeded");
}

/** Polls `check` until it returns true or the time is up; returns whether it did. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<boolean> {
    const started = Date.now();
    for (;;) {
        if (await check()) {
            return true;
        }
        if (Date.now() - started > timeoutMs) {
            return false;
        }
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
}
