import * as pulumi from "@pulumi/pulumi";
import { MeshInventory } from "./meshInventory";
import { readMeshInventory } from "./revisionGuard";

/** namespace → `<revision> <proxy release>` → pods. */
export type DataPlaneVersions = Record<string, Record<string, number>>;

export interface DataPlaneVersionsArgs {
    /** The cluster's kubeconfig (a secret). */
    kubeconfig: pulumi.Input<string>;
    /** The namespaces whose injected pods to count. */
    namespaces: pulumi.Input<string>[];
}

/** Counts injected pods per namespace by the revision that injected them and their proxy's release. */
export function countProxies(inventory: MeshInventory): DataPlaneVersions {
    const versions: DataPlaneVersions = {};
    for (const pod of inventory.pods) {
        const key = `${pod.revision} ${pod.proxyVersion}`;
        versions[pod.namespace] ??= {};
        versions[pod.namespace][key] = (versions[pod.namespace][key] ?? 0) + 1;
    }
    return versions;
}

/**
 * The data plane as it runs: per namespace, how many injected pods have a sidecar from which revision and Istio
 * release (the proxy image's tag). A read-only command run on every preview and update (its count is kept
 * only as the stack output that shows it), after the resources in `opts.dependsOn` — the workloads — have rolled; unknown in a preview that
 * changes them. Set beside the control planes' versions, it shows whether an upgrade reached every proxy.
 */
export function dataPlaneVersions(args: DataPlaneVersionsArgs, opts?: pulumi.InvokeOutputOptions): pulumi.Output<DataPlaneVersions> {
    return readMeshInventory({ kubeconfig: args.kubeconfig, namespaces: args.namespaces }, opts).apply(countProxies);
}
