/**
 * The simulator's command-line mechanics, as a cobra CLI has them: flags (`--plan large`, `-p large`,
 * `--plan=large`), interactive prompts on stdin, and output as text tables or `--json`.
 */
import * as fs from "fs";
import { undocumented } from "./messages";

export interface FlagSpec {
    long: string;
    short?: string;
    /** True when the flag takes a value. */
    value: boolean;
}

export interface ParsedArgs {
    positional: string[];
    flags: Map<string, string | true>;
}

export const flag = (long: string, value: boolean, short?: string): FlagSpec => ({ long, value, short });
export const JSON_FLAG = flag("json", false);
export const NON_INTERACTIVE = flag("non-interactive", false);
export const WAIT = flag("wait", false);

export function parseArgs(args: string[], specs: FlagSpec[]): ParsedArgs {
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
            throw undocumented(long ? `unknown flag: --${key}` : `unknown shorthand flag: '${key}' in ${arg}`);
        }
        if (!spec.value) {
            parsed.flags.set(spec.long, true);
        } else if (inline !== undefined) {
            parsed.flags.set(spec.long, inline);
        } else if (i + 1 < args.length) {
            parsed.flags.set(spec.long, args[++i]);
        } else {
            throw undocumented(`flag needs an argument: ${arg}`);
        }
    }
    return parsed;
}

export function str(parsed: ParsedArgs, name: string): string | undefined {
    const v = parsed.flags.get(name);
    return typeof v === "string" ? v : undefined;
}

/** The one positional argument a command takes (a cluster or profile name, a file). */
export function onlyArgument(parsed: ParsedArgs): string {
    if (parsed.positional.length !== 1) {
        throw undocumented(`accepts 1 arg(s), received ${parsed.positional.length}`);
    }
    return parsed.positional[0];
}

/** Reads one line from stdin after printing a prompt, as the CLI's interactive prompts do. */
export function prompt(question: string): string {
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
                throw undocumented("EOF");
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

export function confirm(question: string): void {
    const answer = prompt(`${question} (y/n): `).trim().toLowerCase();
    if (answer !== "y" && answer !== "yes") {
        throw undocumented("Operation cancelled");
    }
}

export function table(headers: string[], rows: string[][]): string {
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] + 2)).join("").trimEnd();
    return [line(headers), ...rows.map(line)].join("\n") + "\n";
}

export function print(json: boolean, value: unknown, text: () => string): void {
    process.stdout.write(json ? JSON.stringify(value, null, 4) + "\n" : text());
}

export function cliName(): string {
    return process.env.PKS_SIM_FLAVOR === "tkgi" ? "tkgi" : "pks";
}
