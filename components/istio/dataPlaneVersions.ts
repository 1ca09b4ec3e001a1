import * as pulumi from "@pulumi/pulumi";
import { InstalledRevision, MeshInventory } from "../../programs/mesh/meshInventory";
import { readMeshInventory } from "./revisionGuard";

/** namespace → `<revision> <proxy release>` → pods. */
export type DataPlaneVersions = Record<string, Record<string, number>>;

/** What runs, as read from the cluster: the control planes and the proxies of the program's workloads. */
export interface MeshVersions {
    /** Every istiod Deployment in the root namespace: its revision and the release its image is tagged with. */
    controlPlanes: InstalledRevision[];
    /** Every revision tag: tag → the revision it points at. */
    tags: Record<string, string>;
    /** Per namespace, injected pods by revision and proxy release. */
    dataPlane: DataPlaneVersions;
}

export interface MeshVersionsArgs {
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
 * The mesh as it runs: the installed control planes (each istiod Deployment's revision and image tag), the revision
 * tags (each tag's webhook and the revision it points at) and, per
 * namespace, how many injected pods have a sidecar from which revision and Istio release (the proxy image's tag).
 * A read-only command run on every preview and update (its result is kept only as the stack output that shows
 * it), after the resources in `opts.dependsOn` — the control planes and the workloads — have rolled; unknown in a
 * preview that changes them. Side by side, they show whether an upgrade reached istiod and every proxy.
 */
export function meshVersions(args: MeshVersionsArgs, opts?: pulumi.InvokeOutputOptions): pulumi.Output<MeshVersions> {
    return readMeshInventory({ kubeconfig: args.kubeconfig, namespaces: args.namespaces }, opts)
        .apply((inventory) => ({ controlPlanes: inventory.revisions, tags: inventory.tags, dataPlane: countProxies(inventory) }));
}
