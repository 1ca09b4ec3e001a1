/**
 * The simulator's fault injection (SimFault in ./state.ts): which fault applies to an invocation, and what the
 * invocation does under it.
 */
import { SimFault, withState } from "./state";

/**
 * The first fault that applies to this invocation (every matching fault counts it); on the virtual clock, one
 * step passes. Called once per invocation.
 */
export function takeFault(dir: string, command: string | undefined, args: string[]): Promise<SimFault | undefined> {
    return withState(dir, (state, settings) => {
        const seen = { ...state.faultHits };
        let chosen: SimFault | undefined;
        for (const fault of settings.faults) {
            if (fault.command !== command || (fault.name !== undefined && fault.name !== args[0])) {
                continue;
            }
            const key = JSON.stringify(fault);
            const count = seen[key] ?? 0;
            seen[key] = count + 1;
            const from = fault.after ?? 0;
            if (!chosen && count >= from && count < from + (fault.times ?? 1)) {
                chosen = fault;
            }
        }
        state.faultHits = seen;
        return chosen;
    }, { tick: true });
}

/** Never answers; the process ends when its caller kills it. */
function hang(): Promise<never> {
    return new Promise(() => setInterval(() => undefined, 60_000));
}

/** Runs the command with its normal output thrown away (for faults that strike after the side effect). */
async function silently(run: () => Promise<void>): Promise<void> {
    const write = process.stdout.write;
    process.stdout.write = () => true;
    try {
        await run();
    } finally {
        process.stdout.write = write;
    }
}

/** Runs the command (`run`) as `fault` says, or normally without one; resolves to the exit status. */
export async function underFault(fault: SimFault | undefined, run: () => Promise<void>): Promise<number> {
    const message = fault?.message ?? "Error: 503 Service Unavailable";
    switch (fault?.kind) {
        case "fail":
            process.stdout.write(fault.stdout ?? "");
            process.stderr.write(`${message}\n`);
            return fault.exitCode ?? 1;
        case "hang":
            return hang();
        case "output":
            process.stdout.write(fault.stdout ?? "");
            return fault.exitCode ?? 0;
        case "fail-after-effect":
            await silently(run);
            process.stderr.write(`${message}\n`);
            return fault.exitCode ?? 1;
        case "hang-after-effect":
            await silently(run);
            return hang();
        default:
            await run();
            return 0;
    }
}
