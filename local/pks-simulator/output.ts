/**
 * What the simulator prints for clusters: the `--json` document (the fields of compute-profiles.html.md.erb's
 * example in 1.7, plus the version fields of the PKS API's cluster model) and the text blocks of `cluster`,
 * `cluster --details` and `clusters` (view-cluster-details, upgrade-clusters).
 */
import { table } from "./cli";
import { availableUpgrades } from "./lifecycle";
import { SimCluster, SimSettings } from "./state";

export function clusterJson(c: SimCluster, settings: SimSettings): Record<string, unknown> {
    return {
        name: c.name,
        plan_name: c.plan_name,
        last_action: c.last_action,
        last_action_state: c.last_action_state,
        last_action_description: c.last_action_description,
        uuid: c.uuid,
        kubernetes_master_ips: c.master_ips,
        network_profile_name: c.network_profile_name,
        compute_profile_name: "",
        kubernetes_profile_name: "",
        // Field names from the PKS API's cluster model (not shown in the documents, which show the values as
        // "TKGI Version" and "K8s Version" in `cluster --details`).
        pks_version: c.pks_version,
        k8s_version: c.k8s_version,
        available_upgrades: availableUpgrades(c, settings),
        parameters: {
            kubernetes_master_host: c.external_hostname,
            kubernetes_master_port: 8443,
            worker_haproxy_ip_addresses: null,
            kubernetes_worker_instances: c.worker_instances,
            authorization_mode: null,
            cluster_tags: c.tags,
        },
    };
}

export function clusterText(c: SimCluster, details = false): string {
    const rows: Array<[string, string]> = [
        ...(details ? [["TKGI Version", c.pks_version]] as Array<[string, string]> : []),
        ["Name", c.name],
        ...(details ? [["K8s Version", c.k8s_version]] as Array<[string, string]> : []),
        ["Plan Name", c.plan_name], ["UUID", c.uuid], ["Last Action", c.last_action],
        ["Last Action State", c.last_action_state], ["Last Action Description", c.last_action_description],
        ["Kubernetes Master Host", c.external_hostname], ["Kubernetes Master Port", "8443"],
        ["Worker Nodes", String(c.worker_instances)], ["Kubernetes Master IP(s)", c.master_ips.join(", ")],
        ["Network Profile Name", c.network_profile_name],
        ["Tags", c.tags.map((t) => `${t.name}:${t.value}`).join(",")],
    ];
    return rows.map(([k, v]) => `${(k + ":").padEnd(26)}${v}`.trimEnd()).join("\n") + "\n";
}

/** `clusters` as text: the 1.19 columns, after the line that says an upgrade is available, when one is. */
export function clustersText(all: SimCluster[], settings: SimSettings): string {
    const lagging = all.some((c) => availableUpgrades(c, settings).length > 0);
    return (lagging ? `Upgrade is available to TKGI Version: ${settings.tkgiVersion}\n` : "") + table(
        ["TKGI Version", "Name", "k8s Version", "Plan Name", "UUID", "Status", "Action"],
        all.map((c) => [c.pks_version, c.name, c.k8s_version, c.plan_name, c.uuid, c.last_action_state, c.last_action]));
}
