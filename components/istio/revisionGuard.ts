import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { MeshInventory } from "./meshInventory";

/** How the command provider runs the inventory script (from the project directory). */
export const MESH_INVENTORY_INTERPRETER = ["node", "components/launcher/run.js", "components/istio/meshInventory.ts"];

export interface RevisionGuardArgs {
    /** The cluster's kubeconfig (a secret). Unknown (a cluster not created yet): nothing is checked. */
    kubeconfig: pulumi.Input<string>;
    /** The revisions the program keeps (`default` for the unnamed one). */
    keep: string[];
    /** Namespaces whose workloads the program owns and rolls itself before an old control plane goes. */
    ownNamespaces: string[];
    /** The Istio root namespace. Defaults to `istio-system`. */
    rootNamespace?: string;
}

/**
 * Which pods keep a control plane that is about to be removed in use: those the revision injected, outside the
 * namespaces whose workloads the program rolls onto another revision itself (before it removes the old one).
 */
export function revisionsInUse(inventory: MeshInventory, keep: string[], ownNamespaces: string[]): Record<string, string[]> {
    const removed = inventory.revisions.map((r) => r.revision).filter((r) => !keep.includes(r));
    const inUse: Record<string, string[]> = {};
    for (const pod of inventory.pods) {
        if (removed.includes(pod.revision) && !ownNamespaces.includes(pod.namespace)) {
            (inUse[pod.revision] ??= []).push(`${pod.namespace}/${pod.name}`);
        }
    }
    return inUse;
}

/**
 * Reads the mesh's inventory on every preview and update (a read-only command, like `get-credentials`) and
 * fails the program — before anything changes, when the Kubernetes provider waits on it — if a control plane
 * that the configuration no longer lists still injects running pods the program does not roll itself.
 */
export function guardRevisionRemoval(args: RevisionGuardArgs, opts?: pulumi.InvokeOutputOptions): pulumi.Output<MeshInventory> {
    const result = command.local.runOutput({
        interpreter: MESH_INVENTORY_INTERPRETER,
        command: "inventory",
        environment: {
            MESH_INVENTORY_KUBECONFIG: pulumi.secret(args.kubeconfig),
            MESH_INVENTORY_ROOT_NAMESPACE: args.rootNamespace ?? "istio-system",
        },
        logging: "stderr",
        addPreviousOutputInEnv: false,
    }, opts);
    return pulumi.unsecret(result.stdout).apply((stdout) => {
        const inventory = JSON.parse(stdout) as MeshInventory;
        const problem = removalProblem(inventory, args.keep, args.ownNamespaces);
        if (problem !== undefined) {
            throw new pulumi.RunError(problem);
        }
        return inventory;
    });
}

/** The error for removing control planes that pods still use, or undefined when none is. */
export function removalProblem(inventory: MeshInventory, keep: string[], ownNamespaces: string[]): string | undefined {
    const problems = Object.entries(revisionsInUse(inventory, keep, ownNamespaces)).map(([revision, pods]) =>
        `control plane ${revision} is still used by ${pods.length} pod(s): ${pods.slice(0, 5).join(", ")}${pods.length > 5 ? ", …" : ""}`);
    return problems.length === 0 ? undefined : `refusing to remove a control plane in use: ${problems.join("; ")}. ` +
        "Restart those workloads onto a remaining revision first (e.g. `kubectl rollout restart deployment -n <namespace>`), then run again; " +
        "or keep the revision in istioRevisions";
}
