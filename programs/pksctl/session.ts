/**
 * A logged-in PKS CLI session in the run's private home, and the two ways pksctl calls the CLI through it:
 *
 * - `call`: one call, never repeated (create, update, upgrade, delete): its outcome is classified and the caller
 *   decides what to do after a failure, from a fresh read of PKS's state;
 * - `read`: an idempotent call (login, `cluster`, `clusters`, `network-profile(s)`, `get-credentials`), retried
 *   with backoff while its failure is transient (see errors.ts), each try bounded by the time left before the
 *   step's deadline, each retry reported (`retrying` and `tryRead` let lookup.ts combine a document and a listing
 *   in one try).
 *
 * A session that expired meanwhile (long waits outlive the API's tokens) is renewed by logging in again, once per
 * call; the failed call is then repeated, since PKS refused it without acting on it.
 */
import * as fs from "fs";
import { CliProcesses, CliResult, timedOutText } from "./cliProcess";
import { MalformedOutput, PksctlError, errorText, isNotAuthenticated, isTransient } from "./errors";
import { PksLogin } from "./inputs";
import { PrivateHome } from "./privateHome";
import { ProgressLog, formatElapsed } from "./progress";
import { Deadline, RetryPolicy, backoffMs, sleep } from "./retry";

/** The classified outcome of one CLI call. */
export type CallOutcome =
    | { kind: "ok"; stdout: string }
    | { kind: "failed"; reason: string; transient: boolean };

/** What one try of an idempotent call gave. */
export type Attempt<T> = { ok: true; value: T } | { ok: false; reason: string; transient: boolean };

/** What a session needs from its run. */
export interface SessionContext {
    log: ProgressLog;
    deadline: Deadline;
    retry: RetryPolicy;
    /** Time between two status polls. */
    pollMs: number;
    processes: CliProcesses;
    home: PrivateHome;
}

/** The bound of a decisive read that starts after the deadline (to decide, not to wait). */
const FINAL_LOOK_MS = 10_000;
/** A retry is not started with less time than this before the deadline. */
const MIN_TRY_MS = 1000;

/** A logged-in CLI session; `PksSession.open` logs in. */
export class PksSession {
    private constructor(readonly login: PksLogin, readonly context: SessionContext) {}

    /** Logs in (retrying transient failures) in the run's private home. */
    static async open(login: PksLogin, context: SessionContext): Promise<PksSession> {
        const session = new PksSession(login, context);
        await session.logIn();
        return session;
    }

    get log(): ProgressLog {
        return this.context.log;
    }

    get kubeconfigPath(): string {
        return this.context.home.file("kubeconfig");
    }

    /** The CLI's environment: the caller's, minus pksctl's own inputs, with every home redirected. */
    private env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
        const env: NodeJS.ProcessEnv = {};
        for (const [k, v] of Object.entries(process.env)) {
            if (!k.startsWith("PKSCTL_") && !k.startsWith("PULUMI_COMMAND_")) {
                env[k] = v;
            }
        }
        const home = this.context.home.dir;
        return { ...env, HOME: home, PKS_HOME: home, KUBECONFIG: this.kubeconfigPath, ...extra };
    }

    private exec(args: string[], timeoutMs: number, extraEnv?: NodeJS.ProcessEnv, stdin?: string): Promise<CliResult> {
        return this.context.processes.run({ file: this.login.cli, args, env: this.env(extraEnv), stdin, timeoutMs });
    }

    /** What went wrong in a call that did not succeed, with secrets removed. */
    private failure(result: CliResult): { reason: string; transient: boolean } {
        if (result.timedOut) {
            return { reason: timedOutText(result), transient: true };
        }
        if (result.code === null) {
            return { reason: `the CLI was ended by ${result.signal ?? "a signal"}`, transient: true };
        }
        const reason = this.log.redact(errorText(result));
        return { reason, transient: isTransient(reason) };
    }

    /**
     * Logs in, retrying transient failures; a rejection carries PKS's own message. A user's password goes to the
     * CLI's password prompt on stdin (login.html.md.erb: without -p the CLI prompts; that it reads a piped stdin
     * is assumed). A client's secret can only be given as `--client-secret` (every documented client login does):
     * it is on this call's argument list, and only on this one, for as long as the login takes.
     */
    async logIn(): Promise<void> {
        const { api, username, clientName } = this.login;
        const who = clientName ? `client ${clientName}` : `user ${username}`;
        const args = ["login", "-a", api];
        if (clientName) {
            args.push("--client-name", clientName, "--client-secret", this.login.clientSecret ?? "");
        } else {
            args.push("-u", username ?? "");
        }
        if (this.login.caCert) {
            const caFile = this.context.home.file("pks-api-ca.pem");
            fs.writeFileSync(caFile, this.login.caCert, { mode: 0o600 });
            args.push("--ca-cert", caFile);
        } else {
            args.push("-k");
        }
        const stdin = clientName ? "" : `${this.login.password ?? ""}\n`;
        await this.retrying(`logging in to ${api} as ${who}`, async (timeoutMs) => {
            const result = await this.exec(args, timeoutMs, {}, stdin);
            return result.code === 0 ? { ok: true, value: undefined } : { ok: false, ...this.failure(result) };
        });
    }

    /**
     * One CLI call, never repeated except after a re-login. The call is bounded by `timeoutMs`, else by the
     * per-call limit and the deadline.
     */
    async call(args: string[], options: { timeoutMs?: number; extraEnv?: NodeJS.ProcessEnv; step?: string } = {}): Promise<CallOutcome> {
        const bound = () => {
            const remaining = this.context.deadline.remainingMs();
            if (options.timeoutMs === undefined && remaining <= 0) {
                throw this.pastDeadline(options.step ?? args.join(" "), undefined);
            }
            return options.timeoutMs ?? Math.min(this.context.retry.callTimeoutMs, remaining);
        };
        const classify = (result: CliResult): CallOutcome => {
            return result.code === 0 ? { kind: "ok", stdout: result.stdout } : { kind: "failed", ...this.failure(result) };
        };
        const outcome = classify(await this.exec(args, bound(), options.extraEnv));
        if (outcome.kind !== "failed" || !isNotAuthenticated(outcome.reason)) {
            return outcome;
        }
        this.log.warn(`session expired; logging in to ${this.login.api} again (PKS: ${outcome.reason})`);
        await this.logIn();
        return classify(await this.exec(args, bound(), options.extraEnv));
    }

    /**
     * One try of an idempotent call: `parse` turns the CLI's stdout into the result (throwing MalformedOutput for
     * garbage, which counts as transient).
     */
    async tryRead<T>(args: string[], parse: (stdout: string) => T, timeoutMs: number, extraEnv?: NodeJS.ProcessEnv): Promise<Attempt<T>> {
        const outcome = await this.call(args, { timeoutMs, extraEnv });
        if (outcome.kind === "failed") {
            return { ok: false, reason: outcome.reason, transient: outcome.transient };
        }
        try {
            return { ok: true, value: parse(outcome.stdout) };
        } catch (e) {
            if (e instanceof MalformedOutput) {
                return { ok: false, reason: this.log.redact(e.message), transient: true };
            }
            throw e;
        }
    }

    /**
     * An idempotent read, retried (see `retrying`). A `decisive` read (one that decides what happened after a
     * failed create, update or delete) gets one try even past the deadline.
     */
    read<T>(step: string, args: string[], parse: (stdout: string) => T,
        options: { extraEnv?: NodeJS.ProcessEnv; decisive?: boolean } = {}): Promise<T> {
        return this.retrying(step, (timeoutMs) => this.tryRead(args, parse, timeoutMs, options.extraEnv), options.decisive ?? false);
    }

    /**
     * Tries `attempt` until it succeeds, fails permanently, runs out of tries or meets the deadline; each retry is
     * a progress line and an event. A `decisive` attempt gets one try even past the deadline.
     */
    async retrying<T>(step: string, attempt: (timeoutMs: number) => Promise<Attempt<T>>, decisive = false): Promise<T> {
        const { retry, deadline, log } = this.context;
        let last: string | undefined;
        for (let n = 1; ; n++) {
            const remaining = deadline.remainingMs();
            if (remaining <= 0 && !(decisive && n === 1)) {
                throw this.pastDeadline(step, last);
            }
            const outcome = await attempt(Math.min(retry.callTimeoutMs, remaining > 0 ? remaining : FINAL_LOOK_MS));
            if (outcome.ok) {
                return outcome.value;
            }
            last = outcome.reason;
            if (!outcome.transient) {
                throw new PksctlError(step, outcome.reason);
            }
            if (n >= retry.attempts) {
                throw new PksctlError(step, `${outcome.reason} (gave up after ${n} attempt${n === 1 ? "" : "s"})`);
            }
            const left = deadline.remainingMs() - MIN_TRY_MS;
            if (left <= 0) {
                throw this.pastDeadline(step, last);
            }
            const delay = Math.min(backoffMs(retry, n), left);
            log.warn(`${step}: ${outcome.reason}; retrying in ${(delay / 1000).toFixed(1)}s (attempt ${n + 1} of ${retry.attempts})`);
            await sleep(delay);
        }
    }

    /** The error for a step that met its deadline, naming the last failure. */
    pastDeadline(step: string, last: string | undefined): PksctlError {
        const total = formatElapsed(this.context.deadline.totalMs);
        return new PksctlError(step, `${last ? `${last}; ` : ""}gave up at the step's deadline (${total}, pksTimeoutMinutes)`);
    }
}
