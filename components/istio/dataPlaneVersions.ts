import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { MeshInventory } from "./meshInventory";
import { MESH_INVENTORY_INTERPRETER } from "./revisionGuard";

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
 * release (the proxy image's tag). A read-only command run on every preview and update (nothing is stored in
 * the state), after the resources in `opts.dependsOn` — the workloads — have rolled; unknown in a preview that
 * changes them. Set beside the control planes' versions, it shows whether an upgrade reached every proxy.
 */
export function dataPlaneVersions(args: DataPlaneVersionsArgs, opts?: pulumi.InvokeOutputOptions): pulumi.Output<DataPlaneVersions> {
    const count = command.local.runOutput({
        interpreter: MESH_INVENTORY_INTERPRETER,
        command: "inventory",
        environment: {
            MESH_INVENTORY_KUBECONFIG: pulumi.secret(args.kubeconfig),
            MESH_INVENTORY_NAMESPACES: pulumi.all(args.namespaces).apply((ns) => ns.join(",")),
        },
        logging: "stderr",
        addPreviousOutputInEnv: false,
    }, opts);
    return pulumi.unsecret(count.stdout).apply((stdout) => countProxies(JSON.parse(stdout) as MeshInventory));
}
