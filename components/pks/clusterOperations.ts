/**
 * The cluster operations: create (adopting what exists), update in place, delete, and fetching credentials.
 *
 * `create-cluster`, `update-cluster` and `delete-cluster` are never repeated blindly: after a failure or a hang
 * pksctl reads the cluster again and decides from what PKS says (adopt and wait, count as deleted, or fail with
 * PKS's text). "Gone" is only ever PKS's exact answer `Cluster NAME not found`.
 */
import * as fs from "fs";
import { ClusterSpec } from "./contract";
import { Difference, canonical, describeDifferences, immutableDifferences, tagsFlag, updatableDifferences } from "./compare";
import { ClusterObject, parseCluster } from "./documents";
import { MalformedOutput, PksctlError, clusterNotFound } from "./errors";
import { formatElapsed } from "./progress";
import { sleep } from "./retry";
import { PksSession } from "./session";

const FAILED = new Set(["failed", "error"]);

/** `cluster NAME --json`, retried; undefined on PKS's exact not-found answer. */
function readCluster(session: PksSession, name: string, decisive = false): Promise<ClusterObject | undefined> {
    return session.read(`reading cluster ${name}`, ["cluster", name, "--json"], parseCluster, { notFound: clusterNotFound(name), decisive });
}

/**
 * Polls `cluster NAME` until its current action ends, printing one progress line per poll. Resolves with the
 * cluster on `succeeded`, with undefined once PKS answers that the cluster is not found (when `untilGone`), and
 * rejects on `failed` / `error` (with PKS's description) or at the deadline. How the wait ended is an event.
 */
async function waitForCluster(session: PksSession, name: string, untilGone = false): Promise<ClusterObject | undefined> {
    const { log, deadline, pollMs } = session.context;
    const timedOut = (last: ClusterObject) => new PksctlError(`waiting for cluster ${name}`,
        `timed out after ${formatElapsed(deadline.totalMs)} with ${last.last_action} ${last.last_action_state} (${last.last_action_description}). ` +
        `PKS carries on with the operation; run \`pulumi ${untilGone ? "destroy" : "up"}\` again to resume waiting, or raise pksTimeoutMinutes`);
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
                log.note(`cluster ${name}: deleted: PKS answers '${clusterNotFound(name)}' (${elapsed} elapsed)`);
                return undefined;
            }
            throw new PksctlError(`waiting for cluster ${name}`, `PKS no longer knows the cluster (${clusterNotFound(name)})`);
        }
        last = cluster;
        const { last_action: action, last_action_state: state, last_action_description: description } = cluster;
        const progress = `cluster ${name}: ${action} ${state}: ${description} (${elapsed} elapsed)`;
        if (FAILED.has(state)) {
            log.line(`pks: ${progress}`);
            throw new PksctlError(`${action.toLowerCase()} of cluster ${name}`, `PKS reports '${state}': ${description}`);
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

function differencesFrom(cluster: ClusterObject, spec: ClusterSpec): Difference[] {
    return [...immutableDifferences(cluster, spec), ...updatableDifferences(cluster, spec)];
}

/**
 * Deletes a cluster PKS knows and waits until PKS answers that it is not found. An action in progress is waited
 * for first (a failed create or update still has to be deleted); a delete in progress is only waited for.
 */
async function removeCluster(session: PksSession, cluster: ClusterObject): Promise<void> {
    const { log } = session;
    const name = cluster.name;
    if (cluster.last_action_state === "in progress" && cluster.last_action !== "DELETE") {
        log.line(`pks: cluster ${name}: waiting for ${cluster.last_action} to finish before deleting`);
        await waitForCluster(session, name).catch((e: unknown) => {
            if (!(e instanceof PksctlError) || !/PKS reports/.test(e.message)) {
                throw e;
            }
        });
    }
    if (cluster.last_action !== "DELETE" || cluster.last_action_state !== "in progress") {
        const step = `deleting cluster ${name}`;
        const outcome = await session.call(["delete-cluster", name, "--non-interactive"], { notFound: clusterNotFound(name), step });
        if (outcome.kind === "not-found") {
            log.note(`cluster ${name} is already gone`);
            return;
        }
        if (outcome.kind === "failed") {
            const after = await readCluster(session, name, true);
            if (!after) {
                log.warn(`cluster ${name}: delete-cluster reported '${outcome.reason}', and PKS now answers '${clusterNotFound(name)}': counted as deleted`);
                return;
            }
            if (after.last_action !== "DELETE" || after.last_action_state !== "in progress") {
                throw new PksctlError(step, outcome.reason);
            }
            log.warn(`cluster ${name}: delete-cluster reported '${outcome.reason}', but PKS is deleting the cluster; waiting for it`);
        } else {
            log.line(`pks: cluster ${name}: delete requested`);
        }
    }
    await waitForCluster(session, name, true);
}

function createArgs(spec: ClusterSpec): string[] {
    const args = ["create-cluster", spec.name, "--external-hostname", spec.externalHostname, "--plan", spec.plan];
    if (spec.numNodes !== undefined) {
        args.push("--num-nodes", String(spec.numNodes));
    }
    if (spec.networkProfile) {
        args.push("--network-profile", spec.networkProfile);
    }
    if (spec.tags && Object.keys(spec.tags).length > 0) {
        args.push("--tags", tagsFlag(spec.tags));
    }
    args.push("--non-interactive", "--json");
    return args;
}

/**
 * Creates the cluster and waits until PKS reports `succeeded`. An existing cluster with the same settings is
 * adopted (an interrupted or concurrent create is waited for), the remains of a failed create are deleted first,
 * and a cluster of that name with other settings is an error naming the differences.
 */
export async function createCluster(session: PksSession, spec: ClusterSpec): Promise<ClusterObject> {
    const { log } = session;
    const step = `creating cluster ${spec.name}`;
    const existing = await readCluster(session, spec.name);
    if (existing && existing.last_action === "CREATE" && FAILED.has(existing.last_action_state)) {
        // A failed create leaves a cluster record (and a BOSH deployment) that blocks the name; remove it.
        log.warn(`cluster ${spec.name}: an earlier create failed (${existing.last_action_description}); deleting the remains before creating it again`);
        await removeCluster(session, existing);
    } else if (existing) {
        const differences = differencesFrom(existing, spec);
        if (differences.length > 0) {
            throw new PksctlError(step, `a cluster with this name already exists with different settings (${describeDifferences(differences)}); ` +
                "choose another clusterName, or make the configuration match the existing cluster");
        }
        if (existing.last_action === "DELETE") {
            throw new PksctlError(step, `the cluster is being deleted (${existing.last_action_state}); wait until it is gone and run again`);
        }
        if (FAILED.has(existing.last_action_state)) {
            // The cluster was created; only a later action failed. Adopt it as it is and say so.
            log.warn(`cluster ${spec.name} already exists with the same settings; adopting it although its last ${existing.last_action} ended '${existing.last_action_state}': ${existing.last_action_description}`);
            return existing;
        }
        log.note(`cluster ${spec.name} already exists with the same settings; adopting it (${existing.last_action} ${existing.last_action_state})`);
        return (await waitForCluster(session, spec.name))!;
    }
    const outcome = await session.call(createArgs(spec), { step });
    if (outcome.kind === "ok") {
        log.line(`pks: cluster ${spec.name}: create requested (plan ${spec.plan}, ${spec.numNodes ?? "plan default"} worker nodes); this can take 30 minutes`);
    } else {
        // Never repeated: did the create go through (or did a concurrent run create the same cluster)?
        const after = await readCluster(session, spec.name, true);
        if (!after) {
            throw new PksctlError(step, outcome.reason);
        }
        const differences = differencesFrom(after, spec);
        if (differences.length > 0) {
            throw new PksctlError(step, `${outcome.reason}; PKS has a cluster of this name with different settings (${describeDifferences(differences)})`);
        }
        log.warn(`cluster ${spec.name}: create-cluster reported '${outcome.reason}', but PKS has the cluster with the same settings (${after.last_action} ${after.last_action_state}); adopting it`);
    }
    return (await waitForCluster(session, spec.name))!;
}

function updateArgs(spec: ClusterSpec, difference: Difference): string[] {
    const args = ["update-cluster", spec.name];
    if (difference.field === "worker nodes") {
        args.push("--num-nodes", String(spec.numNodes));
    } else if (difference.field === "network profile") {
        args.push("--network-profile", spec.networkProfile ?? "");
    } else {
        args.push("--tags", tagsFlag(spec.tags ?? {}));
    }
    args.push("--non-interactive", "--wait");
    return args;
}

/** Runs one `update-cluster … --wait` and decides from PKS's state what it did; returns the updated cluster. */
async function applyUpdate(session: PksSession, spec: ClusterSpec, difference: Difference): Promise<ClusterObject> {
    const { log, deadline, pollMs } = session.context;
    const step = `updating ${difference.field} of cluster ${spec.name} from ${canonical(difference.existing)} to ${canonical(difference.desired)}`;
    log.line(`pks: ${step}`);
    if (deadline.remainingMs() <= 0) {
        throw session.pastDeadline(step, undefined);
    }
    const ticker = setInterval(() => log.line(`pks: cluster ${spec.name}: update in progress (${formatElapsed(deadline.elapsedMs())} elapsed)`), pollMs);
    const outcome = await session.call(updateArgs(spec, difference), { timeoutMs: deadline.remainingMs(), step }).finally(() => clearInterval(ticker));
    let after = await readCluster(session, spec.name, true);
    if (!after) {
        throw new PksctlError(step, outcome.kind === "ok" ? `PKS no longer knows the cluster (${clusterNotFound(spec.name)})` : outcome.reason);
    }
    if (outcome.kind !== "ok") {
        const applied = after.last_action === "UPDATE" && !updatableDifferences(after, spec).some((d) => d.field === difference.field);
        if (after.last_action === "UPDATE" && after.last_action_state === "in progress") {
            if (deadline.remainingMs() < pollMs) {
                throw new PksctlError(step, `${outcome.reason}; PKS carries on with the update; run \`pulumi up\` again to resume`);
            }
            log.warn(`cluster ${spec.name}: update-cluster reported '${outcome.reason}', but PKS is updating the cluster; waiting for it`);
            after = (await waitForCluster(session, spec.name))!;
        } else if (applied && after.last_action_state === "succeeded") {
            log.warn(`cluster ${spec.name}: update-cluster reported '${outcome.reason}', but PKS shows the update succeeded`);
        } else {
            throw new PksctlError(step, FAILED.has(after.last_action_state) && after.last_action === "UPDATE"
                ? `PKS reports '${after.last_action_state}': ${after.last_action_description}` : outcome.reason);
        }
    }
    if (after.last_action_state !== "succeeded") {
        throw new PksctlError(step, `PKS reports '${after.last_action_state}': ${after.last_action_description}`);
    }
    log.line(`pks: cluster ${spec.name}: ${difference.field} updated (${formatElapsed(deadline.elapsedMs())} elapsed)`);
    return after;
}

/**
 * Brings an existing cluster to the spec in place: worker count, network profile and tags through
 * `update-cluster … --non-interactive --wait`, one setting at a time. A cluster that vanished is created again.
 */
export async function updateCluster(session: PksSession, spec: ClusterSpec): Promise<ClusterObject> {
    let cluster = await readCluster(session, spec.name);
    if (!cluster) {
        session.log.warn(`cluster ${spec.name} no longer exists in PKS; creating it again`);
        return createCluster(session, spec);
    }
    if (cluster.last_action_state === "in progress") {
        cluster = (await waitForCluster(session, spec.name))!;
    }
    const fixed = immutableDifferences(cluster, spec);
    if (fixed.length > 0) {
        throw new PksctlError(`updating cluster ${spec.name}`, `the cluster was changed outside Pulumi (${describeDifferences(fixed)}); these settings cannot be updated in place`);
    }
    for (const difference of updatableDifferences(cluster, spec)) {
        cluster = await applyUpdate(session, spec, difference);
    }
    return cluster;
}

/** Deletes the cluster and waits until PKS answers that it is not found; a cluster already gone counts as deleted. */
export async function deleteCluster(session: PksSession, name: string): Promise<void> {
    const cluster = await readCluster(session, name);
    if (!cluster) {
        session.log.note(`cluster ${name} is already gone`);
        return;
    }
    await removeCluster(session, cluster);
}

/** Fetches the cluster's kubeconfig with `get-credentials` (retried) into the session's private KUBECONFIG. */
export async function getCredentials(session: PksSession, name: string): Promise<string> {
    const step = `fetching credentials for cluster ${name}`;
    const { password } = session.login;
    // With OIDC, get-credentials asks for the password again; both CLIs read it from the environment.
    const extraEnv: NodeJS.ProcessEnv = password ? { PKS_USER_PASSWORD: password, TKGI_USER_PASSWORD: password } : {};
    const kubeconfig = await session.read(step, ["get-credentials", name], () => {
        const text = fs.existsSync(session.kubeconfigPath) ? fs.readFileSync(session.kubeconfigPath, "utf8") : "";
        if (!/^clusters:/m.test(text)) {
            throw new MalformedOutput("the CLI wrote no kubeconfig");
        }
        return text;
    }, { extraEnv, notFound: clusterNotFound(name) });
    if (kubeconfig === undefined) {
        throw new PksctlError(step, clusterNotFound(name));
    }
    return kubeconfig;
}
