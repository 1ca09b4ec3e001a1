/**
 * What pksctl tells: progress lines on stderr (which Pulumi shows while the step runs) and the events that must
 * outlive the run (which go into the stdout document). Every secret is removed from both.
 */
import { WARNING } from "./contract";

/** `12s`, `3m05s`. */
export function formatElapsed(ms: number): string {
    const s = Math.floor(ms / 1000);
    return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

/** At most this many events go into a document (a long outage could otherwise fill the state with retries). */
const MAX_EVENTS = 50;

/**
 * At most this many bytes of progress lines per run. The command provider keeps a run's stderr in the state and
 * hands it to the resource's next run in PULUMI_COMMAND_STDERR; an environment string beyond 128 KiB would keep
 * that run (a delete, say) from starting at all.
 */
export const PROGRESS_BUDGET = 64 * 1024;

/** Writes progress lines to stderr and collects events, after removing any secret value from them. */
export class ProgressLog {
    private readonly secrets: string[];
    private readonly recorded: string[] = [];
    private dropped = 0;
    private written = 0;
    private silenced = false;

    constructor(secrets: Array<string | undefined>, private readonly write: (line: string) => void = (l) => process.stderr.write(l)) {
        this.secrets = secrets.filter((s): s is string => typeof s === "string" && s.length >= 4);
    }

    /** The text with every secret replaced by `[secret]`. */
    redact(text: string): string {
        return this.secrets.reduce((acc, secret) => acc.split(secret).join("[secret]"), text);
    }

    /** A progress line only; once the run has written PROGRESS_BUDGET bytes of them, one note and then none. */
    line(text: string): void {
        const line = this.redact(text) + "\n";
        if (this.written + line.length > PROGRESS_BUDGET) {
            if (!this.silenced) {
                this.silenced = true;
                this.write("pks: further progress lines are left out (this run printed 64 KiB of them); its events and final line follow\n");
            }
            return;
        }
        this.written += line.length;
        this.write(line);
    }

    /** The run's last line (its failure, or why it was interrupted): always written. */
    final(text: string): void {
        this.write(this.redact(text) + "\n");
    }

    /** A progress line (`pks: <text>`) that is also an event of the run. */
    note(text: string): void {
        this.line(`pks: ${text}`);
        this.record(text);
    }

    /** A progress line (`pks: warning: <text>`) that is also a warning event of the run. */
    warn(text: string): void {
        this.line(`pks: ${WARNING}${text}`);
        this.record(`${WARNING}${text}`);
    }

    /** The run's events, in order; warnings start with `warning: `. */
    get events(): string[] {
        return this.dropped === 0 ? [...this.recorded]
            : [...this.recorded, `${WARNING}${this.dropped} more event(s) not kept; the progress lines of the run have them all`];
    }

    private record(event: string): void {
        if (this.recorded.length < MAX_EVENTS) {
            this.recorded.push(this.redact(event));
        } else {
            this.dropped += 1;
        }
    }
}
