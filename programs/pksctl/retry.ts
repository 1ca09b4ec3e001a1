/**
 * Time limits and retries: the step's deadline (pksTimeoutMinutes), the bound of each CLI call, and the backoff
 * between tries of an idempotent call.
 */

/** How long a step may take, from the start of the run. */
export class Deadline {
    readonly startedAt = Date.now();

    constructor(readonly totalMs: number) {}

    elapsedMs(): number {
        return Date.now() - this.startedAt;
    }

    remainingMs(): number {
        return this.totalMs - this.elapsedMs();
    }
}

/** How idempotent calls are retried, and how long any single CLI call may take. */
export interface RetryPolicy {
    /** Tries of an idempotent call in all (the first one included). */
    attempts: number;
    /** The delay before the first retry; it doubles with every retry, up to `maxDelayMs`, with ±25% jitter. */
    firstDelayMs: number;
    maxDelayMs: number;
    /** The longest a single CLI call may take (a hung call is killed then); never beyond the deadline. */
    callTimeoutMs: number;
}

/** The defaults: 6 tries, 2 s doubling to 30 s between them, 5 minutes per call. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, firstDelayMs: 2000, maxDelayMs: 30_000, callTimeoutMs: 300_000 };

/** The delay before retry number `retry` (1 for the first), with jitter. */
export function backoffMs(policy: RetryPolicy, retry: number): number {
    const base = Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** (retry - 1));
    return Math.round(base * (0.75 + Math.random() / 2));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
