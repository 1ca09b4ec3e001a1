/**
 * Clusters that lag the control plane's TKGI version (a "control plane only" upgrade of the tile leaves them on
 * the previous one) and `upgrade-cluster`.
 *
 * Until such a cluster is upgraded, `update-cluster` takes neither `--network-profile` nor `--tags`, and a
 * cluster with tags takes no `update-cluster` at all (understanding-upgrades.html.md.erb, "Tasks Supported
 * Following a TKGI Control Plane Only Upgrade"). The lag is read from the cluster's JSON: `pks_version` and
 * `available_upgrades`, the PKS API's names for what the documents show as "TKGI Version" and "Upgrade is
 * available to TKGI Version" (upgrade-clusters.html.md.erb). A cluster whose JSON has neither is not known to lag.
 */
import { Difference } from "./compare";
import { ClusterObject } from "./documents";
import { PksctlError } from "./errors";
import { awaitIdle, isBusy, waitForCluster } from "./clusterWait";
import { readCluster } from "./lookup";
import { formatElapsed } from "./progress";
import { Deadline } from "./retry";
import { PksSession } from "./session";

/** How a cluster lags the control plane: its version and the one an upgrade brings it to. */
export interface VersionLag {
    current: string;
    target: string;
}

/** The cluster's lag behind the control plane, or undefined when it is current (or PKS does not say). */
export function versionLag(cluster: ClusterObject): VersionLag | undefined {
    const offered = (cluster.available_upgrades ?? []).map((u) => u.version).filter((v): v is string => typeof v === "string" && v !== "");
    if (offered.length === 0) {
        return undefined;
    }
    return { current: cluster.pks_version || "an earlier version", target: offered.join(", ") };
}

/** Whether the cluster has tags (the ownership tag counts): then a lagging cluster takes no update-cluster. */
function hasTags(cluster: ClusterObject): boolean {
    return (cluster.parameters.cluster_tags?.length ?? 0) > 0;
}

/** The line that reports a lag, and what update-cluster cannot do meanwhile. */
export function lagReport(cluster: ClusterObject, lag: VersionLag): string {
    return `cluster ${cluster.name} runs TKGI ${lag.current}, behind the control plane (upgrade available to ${lag.target}): until it is ` +
        `upgraded, update-cluster cannot change its network profile or tags${hasTags(cluster) ? ", and, as it has tags, cannot update it at all" : ""}. ` +
        `Upgrade it with \`upgrade-cluster ${cluster.name}\`, or set clusterUpgrade to true`;
}

/**
 * Refuses, before any call, the updates a lagging cluster cannot take (saying so and how to upgrade); warns about
 * the lag otherwise.
 */
export function checkLag(session: PksSession, cluster: ClusterObject, lag: VersionLag, differences: Difference[]): void {
    const blocked = hasTags(cluster) ? differences : differences.filter((d) => d.field === "network profile" || d.field === "tags");
    if (blocked.length > 0) {
        throw new PksctlError(`updating ${blocked.map((d) => d.field).join(", ")} of cluster ${cluster.name}`, lagReport(cluster, lag));
    }
    session.log.warn(lagReport(cluster, lag));
}

/**
 * Upgrades the cluster to the control plane's TKGI version with `upgrade-cluster NAME --non-interactive` and
 * waits for it like a create (through `queued`), within the upgrade's own time limit. Never repeated: after a
 * failed or hung call pksctl reads the cluster and waits for an upgrade PKS has accepted.
 */
export async function upgradeCluster(session: PksSession, cluster: ClusterObject, lag: VersionLag, upgradeTimeoutMs: number): Promise<ClusterObject> {
    const { log } = session;
    const name = cluster.name;
    const step = `upgrading cluster ${name} from TKGI ${lag.current} to ${lag.target}`;
    await awaitIdle(session, cluster, "upgrading it");
    const deadline = new Deadline(upgradeTimeoutMs);
    log.line(`pks: ${step}; this recreates every node and can take long (clusterUpgradeTimeoutMinutes: ${formatElapsed(upgradeTimeoutMs)})`);
    const outcome = await session.call(["upgrade-cluster", name, "--non-interactive"], { step, timeoutMs: Math.min(session.context.retry.callTimeoutMs, deadline.remainingMs()) });
    if (outcome.kind === "failed") {
        // Did PKS accept the upgrade (it runs, waits, or is done) although the CLI said otherwise?
        const after = await readCluster(session, name, true);
        if (!after || after.last_action !== "UPGRADE" || !isBusy(after) && versionLag(after) !== undefined) {
            throw new PksctlError(step, outcome.reason);
        }
        log.warn(`cluster ${name}: upgrade-cluster reported '${outcome.reason}', but PKS shows the upgrade (${after.last_action_state}); waiting for it`);
    } else {
        log.line(`pks: cluster ${name}: upgrade requested`);
    }
    const upgraded = (await waitForCluster(session, name, { deadline, timeoutSetting: "clusterUpgradeTimeoutMinutes" }))!;
    log.note(`cluster ${name}: upgraded to TKGI ${upgraded.pks_version || lag.target}`);
    return upgraded;
}
