/**
 * Comparing what PKS has with what is wanted: which settings differ (and whether they can change in place), and
 * the summaries pksctl prints.
 */
import { ClusterSpec, ClusterSummary, NetworkProfileDocument, NetworkProfileSummary, OWNER_TAG, PksctlReport } from "./contract";
import { ClusterObject, ProfileObject } from "./documents";

/** A stable JSON rendering (object keys sorted) for comparing documents (which are at most MAX_DEPTH deep). */
export function canonical(value: unknown): string {
    if (Array.isArray(value)) {
        return `[${value.map(canonical).join(",")}]`;
    }
    if (value !== null && typeof value === "object") {
        const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
    }
    return JSON.stringify(value);
}

/** One setting that differs. */
export interface Difference {
    field: string;
    existing: unknown;
    desired: unknown;
}

export function describeDifferences(differences: Difference[]): string {
    return differences.map((d) => `${d.field}: existing ${canonical(d.existing) ?? "unset"}, desired ${canonical(d.desired) ?? "unset"}`).join("; ");
}

/** Differences between an existing profile and the wanted document, per top-level parameter. */
export function profileDifferences(existing: ProfileObject, desired: NetworkProfileDocument): Difference[] {
    const differences: Difference[] = [];
    if (existing.description !== desired.description) {
        differences.push({ field: "description", existing: existing.description, desired: desired.description });
    }
    const keys = new Set([...Object.keys(existing.parameters), ...Object.keys(desired.parameters)]);
    for (const key of [...keys].sort()) {
        const a = existing.parameters[key];
        const b = desired.parameters[key];
        if (canonical(a) !== canonical(b)) {
            differences.push({ field: `parameters.${key}`, existing: a, desired: b });
        }
    }
    return differences;
}

/** The user's tags on the cluster (the ownership tag left out), or undefined when PKS shows none at all. */
function tagsOf(cluster: ClusterObject): Record<string, string> | undefined {
    const tags = cluster.parameters.cluster_tags;
    return Array.isArray(tags) ? Object.fromEntries(tags.filter((t) => t.name !== OWNER_TAG).map((t) => [t.name, t.value])) : undefined;
}

/** Fields that cannot change without replacing the cluster. */
export function immutableDifferences(cluster: ClusterObject, spec: ClusterSpec): Difference[] {
    const differences: Difference[] = [];
    if (cluster.plan_name !== spec.plan) {
        differences.push({ field: "plan", existing: cluster.plan_name, desired: spec.plan });
    }
    if (cluster.parameters.kubernetes_master_host !== spec.externalHostname) {
        differences.push({ field: "external hostname", existing: cluster.parameters.kubernetes_master_host, desired: spec.externalHostname });
    }
    return differences;
}

/** Fields `update-cluster` can change in place. */
export function updatableDifferences(cluster: ClusterObject, spec: ClusterSpec): Difference[] {
    const differences: Difference[] = [];
    if (spec.numNodes !== undefined && cluster.parameters.kubernetes_worker_instances !== spec.numNodes) {
        differences.push({ field: "worker nodes", existing: cluster.parameters.kubernetes_worker_instances, desired: spec.numNodes });
    }
    if ((cluster.network_profile_name ?? "") !== (spec.networkProfile ?? "")) {
        differences.push({ field: "network profile", existing: cluster.network_profile_name ?? "", desired: spec.networkProfile ?? "" });
    }
    const tags = tagsOf(cluster);
    if (spec.tags !== undefined && tags !== undefined && canonical(tags) !== canonical(spec.tags)) {
        differences.push({ field: "tags", existing: tags, desired: spec.tags });
    }
    return differences;
}

/** The `--tags` value: `key:value,…`. */
export function tagsFlag(tags: Record<string, string>): string {
    return Object.entries(tags).map(([k, v]) => `${k}:${v}`).join(",");
}

/** What pksctl prints for a cluster. */
export function summarizeCluster(cluster: ClusterObject, report: PksctlReport): ClusterSummary {
    return {
        name: cluster.name,
        uuid: cluster.uuid,
        plan: cluster.plan_name,
        masterHost: cluster.parameters.kubernetes_master_host,
        masterPort: cluster.parameters.kubernetes_master_port ?? 8443,
        masterIps: cluster.kubernetes_master_ips ?? [],
        workerNodes: cluster.parameters.kubernetes_worker_instances,
        networkProfile: cluster.network_profile_name ?? "",
        lastAction: cluster.last_action,
        lastActionState: cluster.last_action_state,
        tkgiVersion: cluster.pks_version ?? "",
        kubernetesVersion: cluster.k8s_version ?? "",
        ...report,
    };
}

/** What pksctl prints for a network profile. */
export function summarizeProfile(profile: ProfileObject, report: PksctlReport): NetworkProfileSummary {
    return { name: profile.name, uuid: profile.uuid, description: profile.description, parameters: profile.parameters, ...report };
}
