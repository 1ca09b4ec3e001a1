/**
 * pksctl: the one place where this project drives the `pks` / `tkgi` CLI.
 *
 * The PKS components run it through `@pulumi/command` as
 *   node components/launcher/run.js components/pks/pksctl.ts <operation>
 * with every input in `PKSCTL_*` environment variables (contract.ts), so that no secret is ever on an argv; the
 * inputs are checked first (inputs.ts). Each run logs in afresh in a private, temporary home (privateHome.ts),
 * runs the operation (clusterOperations.ts, profileOperations.ts) through the session (session.ts: retries of
 * idempotent calls, deadline, re-login) and removes the home when it ends.
 *
 * Output contract: stdout carries one JSON document, written only on success: the cluster or profile summary,
 * `{kubeconfig}` for `get-credentials`, the claim of `claim-*`, the status of `cluster-status`, no payload for
 * deletes, each with the run's `events` and `finishedAt` (contract.ts); stderr carries progress lines, which
 * Pulumi shows while the step runs (at most PROGRESS_BUDGET bytes of them: the command provider hands them to
 * the next run's environment). Nothing secret is ever
 * printed, except the kubeconfig of `get-credentials`. Exit status 0 on success, 1 with `pksctl: <step>: <reason>` on stderr
 * otherwise, 2 for an unknown operation, 128+n after signal n (SIGINT, SIGTERM, SIGHUP: the CLI calls are stopped
 * and the home is removed first). If pksctl is killed outright, its watchdog (watchdog.ts) does that cleanup.
 */
import * as os from "os";
import { CliProcesses } from "./cliProcess";
import { claimCluster, clusterStatus, createCluster, deleteCluster, getCredentials, updateCluster } from "./clusterOperations";
import { summarizeCluster, summarizeProfile } from "./compare";
import { PKSCTL_ENV, PksctlReport } from "./contract";
import { PksctlError } from "./errors";
import { OPERATIONS, PksctlInputs, PksctlOperation, readInputs } from "./inputs";
import { PrivateHome, sweepStaleHomes } from "./privateHome";
import { claimNetworkProfile, createNetworkProfile, deleteNetworkProfile } from "./profileOperations";
import { ProgressLog } from "./progress";
import { Deadline } from "./retry";
import { PksSession } from "./session";
import { Watchdog } from "./watchdog";

/** Runs one operation in a logged-in session; returns the stdout document. */
async function perform(operation: PksctlOperation, inputs: PksctlInputs, session: PksSession): Promise<string> {
    const report = (): PksctlReport => ({ events: session.log.events, finishedAt: new Date().toISOString() });
    const profile = inputs.profile!;
    const cluster = inputs.cluster!;
    const ownership = inputs.ownership;
    switch (operation) {
        case "claim-network-profile":
            return JSON.stringify(await claimNetworkProfile(session, profile.name, report));
        case "create-network-profile":
            return JSON.stringify(summarizeProfile(await createNetworkProfile(session, profile, ownership), report()));
        case "delete-network-profile":
            await deleteNetworkProfile(session, profile.name, ownership);
            return JSON.stringify(report());
        case "claim-cluster":
            return JSON.stringify(await claimCluster(session, cluster.name, report));
        case "create-cluster":
            return JSON.stringify(summarizeCluster(await createCluster(session, cluster, ownership), report()));
        case "update-cluster":
            return JSON.stringify(summarizeCluster(await updateCluster(session, cluster, ownership, inputs.upgradeTimeoutMs), report()));
        case "delete-cluster":
            await deleteCluster(session, cluster.name, ownership);
            return JSON.stringify(report());
        case "get-credentials":
            return JSON.stringify({ kubeconfig: await getCredentials(session, cluster.name, ownership), ...report() });
        case "cluster-status":
            return JSON.stringify(await clusterStatus(session, cluster.name, report));
    }
}

/** pksctl's handling of SIGINT, SIGTERM and SIGHUP. */
interface SignalHandling {
    /** Whether a signal came: the run's own ending is then the handler's. */
    interrupted(): boolean;
    /** Removes the handlers. */
    release(): void;
}

/**
 * On SIGINT, SIGTERM or SIGHUP: stops the CLI calls (and their process groups; no new one starts), removes the
 * private home, says so, and exits with 128 + the signal's number.
 */
function stopOnSignals(operation: PksctlOperation, processes: CliProcesses, home: PrivateHome, watchdog: Watchdog, log: ProgressLog): SignalHandling {
    let interrupted = false;
    const handler = (signal: NodeJS.Signals) => {
        if (interrupted) {
            return;
        }
        interrupted = true;
        const running = processes.running();
        void processes.stopAll().finally(() => {
            home.remove();
            watchdog.close();
            const stopped = running.length > 0 ? `; stopped the CLI (${running.map((r) => `\`${r}\``).join(", ")})` : "";
            log.final(`pksctl: interrupted by ${signal} during ${operation}${stopped} and removed the private home with its session. ` +
                "PKS carries on with any operation it had accepted: run the Pulumi command again to resume");
            process.exit(128 + (os.constants.signals[signal] ?? 0));
        });
    };
    const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
    signals.forEach((s) => process.on(s, handler));
    return {
        interrupted: () => interrupted,
        release: () => signals.forEach((s) => process.off(s, handler)),
    };
}

/** Never settles: after a signal, the signal handler ends the process. */
const handedOver = () => new Promise<never>(() => undefined);

/** The line for a failure: an expected one names its step; anything else at least never shows a stack trace. */
function failureLine(operation: PksctlOperation, e: unknown): string {
    if (e instanceof PksctlError) {
        return `pksctl: ${e.message}`;
    }
    return `pksctl: ${operation}: unexpected error: ${e instanceof Error ? e.message : String(e)}`;
}

/** Runs pksctl with the given arguments and environment; resolves with the exit status. */
async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
    const log = new ProgressLog([env[PKSCTL_ENV.password], env[PKSCTL_ENV.clientSecret]]);
    const operation = OPERATIONS.find((o) => o === argv[0]);
    if (operation === undefined) {
        log.final(`pksctl: unknown operation '${argv[0] ?? ""}'; expected one of ${OPERATIONS.join(", ")}`);
        return 2;
    }
    let inputs: PksctlInputs;
    try {
        inputs = readInputs(operation, env);
    } catch (e) {
        log.final(failureLine(operation, e));
        return 1;
    }
    const swept = sweepStaleHomes();
    if (swept.length > 0) {
        log.note(`removed ${swept.length} private home(s) that interrupted pksctl runs left behind`);
    }
    const watchdog = Watchdog.start();
    const home = PrivateHome.create();
    watchdog.home(home.dir);
    const processes = new CliProcesses(watchdog);
    const signals = stopOnSignals(operation, processes, home, watchdog, log);
    try {
        // An upgrade (update-cluster with clusterUpgrade) has time of its own on top of the step's.
        const total = inputs.timeoutMs + (operation === "update-cluster" && inputs.cluster?.upgradeTo !== undefined ? inputs.upgradeTimeoutMs : 0);
        const session = await PksSession.open(inputs.login, {
            log, processes, home, deadline: new Deadline(total), retry: inputs.retry, pollMs: inputs.pollMs,
        });
        const document = await perform(operation, inputs, session);
        if (signals.interrupted()) {
            return await handedOver();
        }
        // Only get-credentials' document may hold a secret (the kubeconfig); redact any other defensively.
        process.stdout.write(`${operation === "get-credentials" ? document : log.redact(document)}\n`);
        return 0;
    } catch (e) {
        if (signals.interrupted()) {
            return await handedOver();
        }
        log.final(failureLine(operation, e));
        return 1;
    } finally {
        home.remove();
        watchdog.close();
        signals.release();
    }
}

if (require.main === module) {
    void main(process.argv.slice(2)).then((code) => {
        process.exitCode = code;
    });
}
