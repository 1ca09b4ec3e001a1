/**
 * The cluster operations: claiming the name, create (adopting only what the stack itself started), update in
 * place (upgrading first when asked), delete, the status read and fetching credentials.
 *
 * `create-cluster`, `update-cluster`, `upgrade-cluster` and `delete-cluster` are never repeated blindly: after a
 * failure or a hang pksctl reads the cluster again and decides from what PKS's documented JSON output says
 * (lookup.ts), never from an error's wording. No operation starts while another is queued or running.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { ClaimDocument, ClusterSpec, ClusterStatusDocument, OWNER_TAG, PksctlReport } from "./contract";
import { Difference, canonical, describeDifferences, immutableDifferences, tagsFlag, updatableDifferences } from "./compare";
import { checkLag, lagReport, upgradeCluster, versionLag } from "./clusterUpgrade";
import { ActionFailed, FAILED, awaitIdle, isBusy, waitForCluster } from "./clusterWait";
import { ClusterObject } from "./documents";
import { MalformedOutput, PksctlError } from "./errors";
import { Ownership } from "./inputs";
import { readCluster } from "./lookup";
import { adoptOrRefuse, clusterVerdict, ownerTagOf, requireRecorded } from "./ownership";
import { checkProfileMove } from "./profileOperations";
import { formatElapsed } from "./progress";
import { PksSession } from "./session";

/** What the user must do about a failed create's remains, which TKGI leaves in BOSH (troubleshoot-issues). */
function boshRemainsHelp(session: PksSession, cluster: ClusterObject): string {
    const cli = path.basename(session.login.cli);
    return "TKGI does not remove a failed create's BOSH deployment, and `delete-cluster` cannot finish while it is there " +
        "(troubleshoot-issues.html.md.erb, \"Cannot Re-Create a Cluster that Failed to Deploy\"): remove it with " +
        `\`bosh -e <environment> delete-deployment -d service-instance_${cluster.uuid}\`, then run \`pulumi up\` again ` +
        `(pksctl then runs \`${cli} delete-cluster ${cluster.name}\` and creates the cluster anew)`;
}

/**
 * Deletes a cluster PKS has and waits until PKS no longer lists it. An action queued or in progress is waited for
 * first (a failed create or update still has to be deleted); a delete in progress is only waited for.
 */
async function removeCluster(session: PksSession, cluster: ClusterObject): Promise<void> {
    const { log } = session;
    const name = cluster.name;
    let current = cluster;
    if (isBusy(current) && current.last_action !== "DELETE") {
        current = await awaitIdle(session, current, "deleting it").catch((e: unknown) => {
            if (e instanceof ActionFailed) {
                return e.cluster;
            }
            throw e;
        });
    }
    if (current.last_action !== "DELETE" || current.last_action_state !== "in progress") {
        const step = `deleting cluster ${name}`;
        const outcome = await session.call(["delete-cluster", name, "--non-interactive"], { step });
        if (outcome.kind === "failed") {
            const after = await readCluster(session, name, true);
            if (!after) {
                log.warn(`cluster ${name}: delete-cluster reported '${outcome.reason}', and PKS no longer lists the cluster: counted as deleted`);
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
    await waitForCluster(session, name, { untilGone: true });
}

/** The tags to send: the user's, and the ownership tag (the one the cluster has, else the claim's marker). */
function tagsToSend(spec: ClusterSpec, ownership: Ownership, cluster?: ClusterObject): Record<string, string> {
    const kept = cluster ? ownerTagOf(cluster) : undefined;
    const marker = kept ?? (ownership.tag ? ownership.claim?.marker : undefined);
    return { ...(spec.tags ?? {}), ...(marker ? { [OWNER_TAG]: marker } : {}) };
}

function createArgs(spec: ClusterSpec, ownership: Ownership): string[] {
    const args = ["create-cluster", spec.name, "--external-hostname", spec.externalHostname, "--plan", spec.plan];
    if (spec.numNodes !== undefined) {
        args.push("--num-nodes", String(spec.numNodes));
    }
    if (spec.networkProfile) {
        args.push("--network-profile", spec.networkProfile);
    }
    const tags = tagsToSend(spec, ownership);
    if (Object.keys(tags).length > 0) {
        args.push("--tags", tagsFlag(tags));
    }
    args.push("--non-interactive", "--json");
    return args;
}

/** Waits for a create; a failed one ends in one error that says how to clear its remains. */
async function waitForCreate(session: PksSession, name: string): Promise<ClusterObject> {
    try {
        return (await waitForCluster(session, name))!;
    } catch (e) {
        if (e instanceof ActionFailed && e.cluster.last_action === "CREATE") {
            throw new PksctlError(e.step, `${e.reason}. ${boshRemainsHelp(session, e.cluster)}`);
        }
        throw e;
    }
}

/**
 * TKGI's recovery of a failed create, once per run (troubleshoot-issues): the user removed the BOSH deployment,
 * pksctl deletes the cluster; if the delete fails too, one error says what is left to do.
 */
async function clearFailedCreate(session: PksSession, cluster: ClusterObject): Promise<void> {
    session.log.warn(`cluster ${cluster.name}: an earlier create failed (${cluster.last_action} ${cluster.last_action_state}: ${cluster.last_action_description}); ` +
        "deleting its remains (TKGI's recovery: the BOSH deployment removed, then delete-cluster), then creating it again");
    try {
        await removeCluster(session, cluster);
    } catch (e) {
        if (e instanceof PksctlError) {
            throw new PksctlError(`deleting the remains of the failed create of cluster ${cluster.name}`, `${e.reason}. ${boshRemainsHelp(session, cluster)}`);
        }
        throw e;
    }
}

/** Goes on with a cluster PKS has where the stack is about to create one; returns it, or undefined to create. */
async function existingAtCreate(session: PksSession, spec: ClusterSpec, ownership: Ownership, existing: ClusterObject): Promise<ClusterObject | undefined> {
    const { log } = session;
    const step = `creating cluster ${spec.name}`;
    adoptOrRefuse(step, "cluster", clusterVerdict(existing, ownership), ownership, log);
    if (FAILED.has(existing.last_action_state) && (existing.last_action === "CREATE" || existing.last_action === "DELETE")) {
        await clearFailedCreate(session, existing);
        return undefined;
    }
    const differences = [...immutableDifferences(existing, spec), ...updatableDifferences(existing, spec)];
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
    return waitForCreate(session, spec.name);
}

/**
 * Creates the cluster and waits until PKS reports `succeeded`. A cluster of that name is adopted only if it is the
 * stack's own (an interrupted or concurrent create of this stack) or the user opted in; the remains of a failed
 * create are deleted first (once); a cluster with other settings is an error naming the differences.
 */
export async function createCluster(session: PksSession, spec: ClusterSpec, ownership: Ownership): Promise<ClusterObject> {
    const { log } = session;
    const step = `creating cluster ${spec.name}`;
    const existing = await readCluster(session, spec.name);
    const adopted = existing && await existingAtCreate(session, spec, ownership, existing);
    if (adopted) {
        const lag = versionLag(adopted);
        if (lag) {
            log.warn(lagReport(adopted, lag));
        }
        return adopted;
    }
    const outcome = await session.call(createArgs(spec, ownership), { step });
    if (outcome.kind === "ok") {
        log.line(`pks: cluster ${spec.name}: create requested (plan ${spec.plan}, ${spec.numNodes ?? "plan default"} worker nodes); this can take 30 minutes`);
    } else {
        // Never repeated: did the create go through (or did a concurrent run of this stack create the same cluster)?
        const after = await readCluster(session, spec.name, true);
        if (!after) {
            throw new PksctlError(step, outcome.reason);
        }
        adoptOrRefuse(step, "cluster", clusterVerdict(after, ownership), ownership, log);
        const differences = [...immutableDifferences(after, spec), ...updatableDifferences(after, spec)];
        if (differences.length > 0) {
            throw new PksctlError(step, `${outcome.reason}; PKS has a cluster of this name with different settings (${describeDifferences(differences)})`);
        }
        log.warn(`cluster ${spec.name}: create-cluster reported '${outcome.reason}', but PKS has the cluster with the same settings (${after.last_action} ${after.last_action_state}); adopting it`);
    }
    return waitForCreate(session, spec.name);
}

function updateArgs(spec: ClusterSpec, difference: Difference, tags: Record<string, string>): string[] {
    const args = ["update-cluster", spec.name];
    if (difference.field === "worker nodes") {
        args.push("--num-nodes", String(spec.numNodes));
    } else if (difference.field === "network profile") {
        args.push("--network-profile", spec.networkProfile!);
    } else {
        args.push("--tags", tagsFlag(tags));
    }
    args.push("--non-interactive", "--wait");
    return args;
}

/** Runs one `update-cluster … --wait` and decides from PKS's state what it did; returns the updated cluster. */
async function applyUpdate(session: PksSession, spec: ClusterSpec, difference: Difference, tags: Record<string, string>): Promise<ClusterObject> {
    const { log, deadline, pollMs } = session.context;
    const step = `updating ${difference.field} of cluster ${spec.name} from ${canonical(difference.existing)} to ${canonical(difference.desired)}`;
    log.line(`pks: ${step}`);
    if (deadline.remainingMs() <= 0) {
        throw session.pastDeadline(step, undefined);
    }
    const ticker = setInterval(() => log.line(`pks: cluster ${spec.name}: update in progress (${formatElapsed(deadline.elapsedMs())} elapsed)`), pollMs);
    const outcome = await session.call(updateArgs(spec, difference, tags), { timeoutMs: deadline.remainingMs(), step }).finally(() => clearInterval(ticker));
    let after = await readCluster(session, spec.name, true);
    if (!after) {
        throw new PksctlError(step, outcome.kind === "ok" ? "PKS no longer lists the cluster" : outcome.reason);
    }
    if (outcome.kind !== "ok") {
        const applied = after.last_action === "UPDATE" && !updatableDifferences(after, spec).some((d) => d.field === difference.field);
        if (after.last_action === "UPDATE" && isBusy(after)) {
            if (deadline.remainingMs() < pollMs) {
                throw new PksctlError(step, `${outcome.reason}; PKS carries on with the update; run \`pulumi up\` again to resume`);
            }
            // Also how the tile's automatic retry of a failed update looks from here: PKS runs it again.
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
 * Brings the stack's existing cluster to the spec in place: first `upgrade-cluster` when it lags the control
 * plane and the spec asks for it (clusterUpgrade), then worker count, network profile and tags through
 * `update-cluster … --non-interactive --wait`, one setting at a time, refusing before any call what PKS does not
 * allow (a lagging cluster's profile or tags, detaching a profile, attaching one without the tile's pod IP
 * block). A cluster that vanished is created again.
 */
export async function updateCluster(session: PksSession, spec: ClusterSpec, ownership: Ownership, upgradeTimeoutMs: number): Promise<ClusterObject> {
    const step = `updating cluster ${spec.name}`;
    let cluster = await readCluster(session, spec.name);
    if (!cluster) {
        session.log.warn(`cluster ${spec.name} is no longer listed by PKS; creating it again`);
        return createCluster(session, spec, ownership);
    }
    requireRecorded(step, "cluster", cluster.uuid, ownership, session.log);
    cluster = await awaitIdle(session, cluster, "updating it");
    const fixed = immutableDifferences(cluster, spec);
    if (fixed.length > 0) {
        throw new PksctlError(step, `the cluster was changed outside Pulumi (${describeDifferences(fixed)}); these settings cannot be updated in place`);
    }
    let differences = updatableDifferences(cluster, spec);
    await checkProfileMove(session, cluster, spec, differences);
    const lag = versionLag(cluster);
    if (lag && spec.upgradeTo !== undefined) {
        cluster = await upgradeCluster(session, cluster, lag, upgradeTimeoutMs);
        differences = updatableDifferences(cluster, spec);
    } else if (lag) {
        checkLag(session, cluster, lag, differences);
    }
    for (const difference of differences) {
        cluster = await applyUpdate(session, spec, difference, tagsToSend(spec, ownership, cluster));
    }
    return cluster;
}

/** Deletes the stack's cluster and waits until PKS no longer lists it; a cluster already gone counts as deleted. */
export async function deleteCluster(session: PksSession, name: string, ownership: Ownership): Promise<void> {
    const cluster = await readCluster(session, name);
    if (!cluster) {
        session.log.note(`cluster ${name} is already gone: PKS does not list it`);
        return;
    }
    requireRecorded(`deleting cluster ${name}`, "cluster", cluster.uuid, ownership, session.log);
    await removeCluster(session, cluster);
}

/**
 * Fetches the stack's cluster's kubeconfig with `get-credentials` (retried) into the session's private
 * KUBECONFIG, after checking that PKS has that cluster (and saying when it lags the control plane).
 */
export async function getCredentials(session: PksSession, name: string, ownership: Ownership): Promise<string> {
    const step = `fetching credentials for cluster ${name}`;
    const cluster = await readCluster(session, name);
    if (!cluster) {
        throw new PksctlError(step, "PKS does not list the cluster");
    }
    requireRecorded(step, "cluster", cluster.uuid, ownership, session.log);
    const lag = versionLag(cluster);
    if (lag) {
        session.log.warn(lagReport(cluster, lag));
    }
    const { password } = session.login;
    // With OIDC, get-credentials asks for the password again; both CLIs read it from the environment.
    const extraEnv: NodeJS.ProcessEnv = password ? { PKS_USER_PASSWORD: password, TKGI_USER_PASSWORD: password } : {};
    return session.read(step, ["get-credentials", name], () => {
        const text = fs.existsSync(session.kubeconfigPath) ? fs.readFileSync(session.kubeconfigPath, "utf8") : "";
        if (!/^clusters:/m.test(text)) {
            throw new MalformedOutput("the CLI wrote no kubeconfig");
        }
        return text;
    }, { extraEnv });
}

/** Whether the cluster exists, its TKGI version, and the upgrade the control plane offers it (for clusterUpgrade). */
export async function clusterStatus(session: PksSession, name: string, report: () => PksctlReport): Promise<ClusterStatusDocument> {
    const cluster = await readCluster(session, name);
    const lag = cluster && versionLag(cluster);
    if (cluster && lag) {
        session.log.note(`cluster ${name} runs TKGI ${lag.current}; upgrade available to ${lag.target}`);
    }
    return { exists: cluster !== undefined, tkgiVersion: cluster?.pks_version ?? undefined, upgradeTo: lag?.target, ...report() };
}

/** The stack's claim on a cluster name, recorded before its first create: a marker, and what PKS had then. */
export async function claimCluster(session: PksSession, name: string, report: () => PksctlReport): Promise<ClaimDocument> {
    const existing = await readCluster(session, name);
    if (existing) {
        session.log.note(`cluster ${name} already exists (uuid ${existing.uuid}); this stack will not adopt it unless pksAdoptExisting is true`);
    }
    return { name, marker: crypto.randomBytes(8).toString("hex"), ...(existing ? { existingUuid: existing.uuid } : {}), ...report() };
}
