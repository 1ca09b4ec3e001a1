/**
 * How a simulated cluster's actions run their course on the simulator's clock: CREATE, UPDATE (with the tile's
 * automatic retries), DELETE and UPGRADE (which may wait `queued` first), ending `succeeded`, `failed` or
 * `error`; and the operator's side of TKGI that tests play: the tile's "Upgrade all clusters" errand and
 * `bosh delete-deployment` of a failed create's remains.
 */
import type { SimAction, SimCluster, SimSettings, SimState } from "./state";

const DESCRIPTIONS: Record<SimAction, { running: string; done: string; failed: string }> = {
    CREATE: { running: "Creating cluster", done: "Instance provisioning completed", failed: "Instance provisioning failed" },
    UPDATE: { running: "Instance update in progress", done: "Instance update completed", failed: "Instance update failed" },
    DELETE: { running: "Instance deletion in progress", done: "", failed: "Instance deletion failed" },
    UPGRADE: { running: "Instance upgrade in progress", done: "Instance upgrade completed", failed: "Instance upgrade failed" },
};

export function durationOf(action: SimAction, settings: SimSettings): number {
    const d = settings.durations;
    return (action === "CREATE" ? d.create : action === "UPDATE" ? d.update : action === "DELETE" ? d.delete : d.upgrade ?? d.update) * 1000;
}

/** The description of a failed action, as the on-demand broker words it (guess: not shown by the documents). */
function failureDescription(cluster: SimCluster, message: string): string {
    return `${DESCRIPTIONS[cluster.last_action].failed}: There was a problem completing your request. Please contact your operations team ` +
        `providing the following information: service: p.pks, service-instance-guid: ${cluster.uuid}, ` +
        `operation: ${cluster.last_action.toLowerCase()}, error-message: ${message}`;
}

/** Starts `action` on the cluster: `in progress` now, or `queued` for `queuedSeconds` first. */
export function startAction(cluster: SimCluster, action: SimAction, settings: SimSettings, now: number, failure?: string, queuedSeconds = 0): void {
    cluster.last_action = action;
    cluster.last_action_state = queuedSeconds > 0 ? "queued" : "in progress";
    cluster.last_action_description = queuedSeconds > 0 ? "Instance upgrade queued" : DESCRIPTIONS[action].running;
    cluster.action_started_at = now + queuedSeconds * 1000;
    cluster.action_ends_at = cluster.action_started_at + durationOf(action, settings);
    cluster.update_attempt = action === "UPDATE" ? 1 : undefined;
    if (failure !== undefined) {
        cluster.action_failure = failure;
    } else {
        delete cluster.action_failure;
    }
}

/** Whether this attempt of the cluster's action fails (failure injection, and how many UPDATE attempts fail). */
function attemptFails(cluster: SimCluster, settings: SimSettings): boolean {
    if (cluster.action_failure === undefined) {
        return false;
    }
    return cluster.last_action !== "UPDATE" || (cluster.update_attempt ?? 1) <= (settings.failUpdateAttempts[cluster.name] ?? Infinity);
}

/**
 * Moves every cluster's action on to where it is at `now`: a queued action starts, a running one that has run its
 * course ends (a DELETE removes the cluster, unless a failed create's BOSH deployment blocks it; a failed UPDATE
 * is run again while the tile's retries last). Returns true when something changed.
 */
export function advance(state: SimState, settings: SimSettings, now: number): boolean {
    let changed = false;
    for (const cluster of Object.values(state.clusters)) {
        if (cluster.last_action_state === "queued" && now >= cluster.action_started_at) {
            cluster.last_action_state = "in progress";
            cluster.last_action_description = DESCRIPTIONS[cluster.last_action].running;
            changed = true;
        }
        if (cluster.last_action_state !== "in progress") {
            continue;
        }
        if (now < cluster.action_ends_at) {
            if (cluster.last_action === "CREATE" && cluster.last_action_description === DESCRIPTIONS.CREATE.running
                && now >= cluster.action_started_at + 1000) {
                cluster.last_action_description = "Instance provisioning in progress";
                changed = true;
            }
            continue;
        }
        changed = true;
        const fails = attemptFails(cluster, settings) || (cluster.last_action === "DELETE" && cluster.bosh_deployment_left === true);
        if (cluster.last_action === "DELETE" && !fails) {
            delete state.clusters[cluster.name];
            continue;
        }
        const attempt = cluster.update_attempt ?? 1;
        if (fails && cluster.last_action === "UPDATE" && attempt <= settings.updateRetries) {
            // The tile runs the failed update again (guess: the state stays `in progress` meanwhile).
            cluster.update_attempt = attempt + 1;
            cluster.action_ends_at = now + durationOf("UPDATE", settings);
            cluster.last_action_description = `Instance update failed; retrying (retry ${attempt} of ${settings.updateRetries})`;
            continue;
        }
        if (fails) {
            const message = cluster.last_action === "DELETE"
                ? `the BOSH deployment service-instance_${cluster.uuid} of the failed create is still there`
                : cluster.action_failure!;
            cluster.last_action_state = cluster.last_action === "CREATE" ? settings.failState : "failed";
            cluster.last_action_description = failureDescription(cluster, message);
            if (cluster.last_action === "CREATE") {
                cluster.bosh_deployment_left = true;
            }
        } else {
            cluster.last_action_state = "succeeded";
            cluster.last_action_description = DESCRIPTIONS[cluster.last_action].done;
            if (cluster.master_ips[0] === "In Progress") {
                cluster.master_ips = [`10.40.14.${10 + (state.serial % 200)}`];
            }
            if (cluster.last_action === "UPGRADE") {
                cluster.pks_version = settings.tkgiVersion;
                cluster.k8s_version = settings.kubernetesVersion;
            }
        }
        delete cluster.action_failure;
        delete cluster.update_attempt;
    }
    return changed;
}

/** What the cluster JSON's `available_upgrades` lists: the control plane's version, while the cluster lags it. */
export function availableUpgrades(cluster: SimCluster, settings: SimSettings): Array<{ component: string; version: string }> {
    return cluster.pks_version === settings.tkgiVersion ? [] : [{ component: "tkgi", version: settings.tkgiVersion }];
}

/** BOSH's own metadata on every VM of a cluster; a custom tag of one of these names is ignored (tag-clusters). */
export const BOSH_TAGS = ["deployment", "director", "id", "index", "instance_group", "job", "name"] as const;

/** The tags the IaaS shows on the cluster's master VM: the custom ones, with BOSH's overriding its reserved names. */
export function vmTags(cluster: SimCluster): Record<string, string> {
    const custom = Object.fromEntries(cluster.tags.map((t) => [t.name, t.value]));
    return {
        ...custom, deployment: `service-instance_${cluster.uuid}`, director: "p-bosh", id: cluster.uuid, index: "0",
        instance_group: "master", job: "master", name: `master/${cluster.uuid}`,
    };
}
