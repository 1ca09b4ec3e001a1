import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { MeshInventory } from "../../programs/mesh/meshInventory";
import { OwnNamespaces, ownershipProblem } from "./namespaceOwnership";
import { launcherInterpreter } from "../../programs/launcher/interpreter";


/** Workloads the program owns: a namespace's pods (all of them, or those with one of these `app` labels). */
export interface OwnWorkloads {
    namespace: string;
    /** Only pods with one of these `app` labels; unset: every pod of the namespace. */
    apps?: readonly string[];
}

export interface RevisionGuardArgs {
    /** The cluster's kubeconfig (a secret). Unknown (a cluster not created yet): nothing is checked. */
    kubeconfig: pulumi.Input<string>;
    /** The revisions the program keeps (`default` for the unnamed one). */
    keep: string[];
    /** The workloads the program owns and rolls itself before an old control plane goes. */
    own: OwnWorkloads[];
    /** The Istio root namespace. Defaults to `istio-system`. */
    rootNamespace?: string;
    /** The namespaces the program creates: refused when they exist without this stack's mark (unless adopting). */
    ownNamespaces?: OwnNamespaces;
}

/**
 * Which pods keep a control plane that is about to be removed in use: those the revision injected, except the
 * program's own workloads, which it rolls onto another revision itself before it removes the old one.
 */
export function revisionsInUse(inventory: MeshInventory, keep: string[], own: OwnWorkloads[]): Record<string, string[]> {
    const removed = inventory.revisions.map((r) => r.revision).filter((r) => !keep.includes(r));
    const owned = (pod: MeshInventory["pods"][number]) => own.some((o) => o.namespace === pod.namespace && (o.apps === undefined || (pod.app !== undefined && o.apps.includes(pod.app))));
    const inUse: Record<string, string[]> = {};
    for (const pod of inventory.pods) {
        if (removed.includes(pod.revision) && !owned(pod)) {
            (inUse[pod.revision] ??= []).push(`${pod.namespace}/${pod.name}`);
        }
    }
    return inUse;
}

/**
 * Reads the mesh's inventory on every preview and update (a read-only command, like `get-credentials`) and
 * fails the program — before anything changes, when the Kubernetes provider waits on it — if a namespace the
 * program creates is already someone else's (namespaceOwnership.ts), or a control plane that the configuration no
 * longer lists still injects running pods the program does not roll itself.
 */
export function guardRevisionRemoval(args: RevisionGuardArgs, opts?: pulumi.InvokeOutputOptions): pulumi.Output<MeshInventory> {
    return readMeshInventory({ kubeconfig: args.kubeconfig, rootNamespace: args.rootNamespace, ownNamespaces: args.ownNamespaces?.names }, opts).apply((inventory) => {
        const problem = (args.ownNamespaces && ownershipProblem(inventory, args.ownNamespaces)) ?? removalProblem(inventory, args.keep, args.own);
        if (problem !== undefined) {
            throw new pulumi.RunError(problem);
        }
        return inventory;
    });
}

/**
 * Runs the inventory script (programs/mesh/meshInventory.ts) as a read-only command, on every preview and
 * update; nothing of it is stored. `namespaces`: only their pods; unset: every pod of the cluster.
 */
export function readMeshInventory(
    args: { kubeconfig: pulumi.Input<string>; namespaces?: pulumi.Input<string>[]; rootNamespace?: string; ownNamespaces?: string[] },
    opts?: pulumi.InvokeOutputOptions,
): pulumi.Output<MeshInventory> {
    const result = command.local.runOutput({
        interpreter: launcherInterpreter("components/istio/meshInventory.ts"),
        command: "inventory",
        environment: {
            MESH_INVENTORY_KUBECONFIG: pulumi.secret(args.kubeconfig),
            MESH_INVENTORY_ROOT_NAMESPACE: args.rootNamespace ?? "istio-system",
            ...(args.namespaces ? { MESH_INVENTORY_NAMESPACES: pulumi.all(args.namespaces).apply((ns) => ns.join(",")) } : {}),
            ...(args.ownNamespaces ? { MESH_INVENTORY_OWN_NAMESPACES: args.ownNamespaces.join(",") } : {}),
        },
        logging: "stderr",
        addPreviousOutputInEnv: false,
    }, opts);
    return pulumi.unsecret(result.stdout).apply((stdout) => JSON.parse(stdout) as MeshInventory);
}

/** The error for removing control planes that pods still use, or undefined when none is. */
export function removalProblem(inventory: MeshInventory, keep: string[], own: OwnWorkloads[]): string | undefined {
    const problems = Object.entries(revisionsInUse(inventory, keep, own)).map(([revision, pods]) =>
        `control plane ${revision} is still used by ${pods.length} pod(s): ${pods.slice(0, 5).join(", ")}${pods.length > 5 ? ", …" : ""}`);
    return problems.length === 0 ? undefined : `refusing to remove a control plane in use: ${problems.join("; ")}. ` +
        "Restart those workloads onto a remaining revision first (e.g. `kubectl rollout restart deployment -n <namespace>`), then run again; " +
        "or keep the revision in istioRevisions";
}
