/**
 * Waiting on a cluster's action, with a progress line per poll: through `queued` and `in progress` (and any state
 * the documents do not name) to `succeeded`, or to the cluster's absence from PKS's listing after a delete;
 * `failed` and `error` end the wait with PKS's `last_action_description` (create-cluster, troubleshoot-issues,
 * upgrade-clusters).
 */
import { ClusterObject } from "./documents";
import { PksctlError } from "./errors";
import { readCluster } from "./lookup";
import { formatElapsed } from "./progress";
import { Deadline, sleep } from "./retry";
import { PksSession } from "./session";

/** The documented states in which an action has failed. */
export const FAILED: ReadonlySet<string> = new Set(["failed", "error"]);

/** Whether another action runs or waits to run (an upgrade may be `queued`): nothing new may start then. */
export function isBusy(cluster: ClusterObject): boolean {
    return cluster.last_action_state === "in progress" || cluster.last_action_state === "queued";
}

/** What ended an action: `failed` or `error`, with PKS's description. */
export class ActionFailed extends PksctlError {
    constructor(readonly cluster: ClusterObject) {
        super(`${cluster.last_action.toLowerCase()} of cluster ${cluster.name}`,
            `PKS reports '${cluster.last_action_state}': ${cluster.last_action_description}`);
    }
}

export interface WaitOptions {
    /** Wait until PKS no longer lists the cluster (a delete) instead of until `succeeded`. */
    untilGone?: boolean;
    /** A deadline of its own (an upgrade's), instead of the step's. */
    deadline?: Deadline;
    /** What a timeout tells the user to raise. */
    timeoutSetting?: string;
}

/**
 * Polls the cluster until its current action ends. Resolves with the cluster on `succeeded` (with undefined once
 * PKS no longer lists it, when `untilGone`); rejects with ActionFailed on `failed` / `error`, or at the deadline.
 * How the wait ended is an event.
 */
export async function waitForCluster(session: PksSession, name: string, options: WaitOptions = {}): Promise<ClusterObject | undefined> {
    const { log, pollMs } = session.context;
    const deadline = options.deadline ?? session.context.deadline;
    const untilGone = options.untilGone ?? false;
    const timedOut = (last: ClusterObject) => new PksctlError(`waiting for cluster ${name}`,
        `timed out after ${formatElapsed(deadline.totalMs)} with ${last.last_action} ${last.last_action_state} (${last.last_action_description}). ` +
        `PKS carries on with the operation; run \`pulumi ${untilGone ? "destroy" : "up"}\` again to resume waiting, or raise ${options.timeoutSetting ?? "pksTimeoutMinutes"}`);
    let last: ClusterObject | undefined;
    for (;;) {
        let cluster: ClusterObject | undefined;
        try {
            // The first poll always happens, so that a wait cut short by the deadline can say where PKS is.
            cluster = await readCluster(session, name, last === undefined);
        } catch (e) {
            // A poll cut short by the deadline: the wait timed out in the state last seen.
            throw last && deadline.remainingMs() <= 0 ? timedOut(last) : e;
        }
        const elapsed = formatElapsed(deadline.elapsedMs());
        if (!cluster) {
            if (untilGone) {
                log.note(`cluster ${name}: deleted: PKS no longer lists it (${elapsed} elapsed)`);
                return undefined;
            }
            throw new PksctlError(`waiting for cluster ${name}`, "PKS no longer lists the cluster");
        }
        last = cluster;
        const { last_action: action, last_action_state: state, last_action_description: description } = cluster;
        const progress = `cluster ${name}: ${action} ${state}: ${description} (${elapsed} elapsed)`;
        if (FAILED.has(state)) {
            log.line(`pks: ${progress}`);
            throw new ActionFailed(cluster);
        }
        if (state === "succeeded" && !untilGone) {
            log.note(progress);
            return cluster;
        }
        log.line(`pks: ${progress}`);
        if (deadline.remainingMs() < pollMs) {
            throw timedOut(cluster);
        }
        await sleep(pollMs);
    }
}

/**
 * Waits until no other action is queued or running on the cluster (an upgrade the tile runs, an update of another
 * run), so that pksctl never starts an operation into one; returns the cluster as it then is.
 */
export async function awaitIdle(session: PksSession, cluster: ClusterObject, before: string): Promise<ClusterObject> {
    if (!isBusy(cluster)) {
        return cluster;
    }
    session.log.line(`pks: cluster ${cluster.name}: ${cluster.last_action} ${cluster.last_action_state}; waiting for it to end before ${before}`);
    return (await waitForCluster(session, cluster.name))!;
}
