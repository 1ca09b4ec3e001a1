/**
 * Which namespaces are the stack's own. Every namespace the program creates carries the annotation
 * `pks-istio-mesh/stack: <project>/<stack>`; a namespace of one of those names that is already on the cluster
 * without this stack's mark is someone else's. The program would own it, and `pulumi destroy` would delete it with
 * everything in it, so the revision guard (which runs, read-only, before anything is written, in previews too)
 * refuses it by name unless the user asks for adoption.
 */
import * as pulumi from "@pulumi/pulumi";
import { MeshInventory, STACK_ANNOTATION } from "../../programs/mesh/meshInventory";

export { STACK_ANNOTATION } from "../../programs/mesh/meshInventory";

/** This stack's mark: `<project>/<stack>`. */
export function stackMark(): string {
    return `${pulumi.getProject()}/${pulumi.getStack()}`;
}

/** The annotations of a namespace the program creates. */
export function stackAnnotations(): Record<string, string> {
    return { [STACK_ANNOTATION]: stackMark() };
}

/** The namespaces the program creates, and what it may do with ones that already exist. */
export interface OwnNamespaces {
    /** Their names. */
    names: string[];
    /** This stack's mark (`stackMark()`). */
    mark: string;
    /** Take over an existing namespace without the mark (adoptExistingObjects). */
    adopt: boolean;
}

/** The refusal of namespaces the program would create but someone else has, or undefined when there is none. */
export function ownershipProblem(inventory: MeshInventory, own: OwnNamespaces): string | undefined {
    if (own.adopt) {
        return undefined;
    }
    const foreign = (inventory.namespaces ?? []).filter((n) => own.names.includes(n.name) && n.mark !== own.mark);
    if (foreign.length === 0) {
        return undefined;
    }
    const named = foreign.map((n) => `${n.name} (${n.mark ? `marked as stack ${n.mark}'s` : `no ${STACK_ANNOTATION} annotation of this stack`})`);
    return `refusing to take over namespace${foreign.length === 1 ? "" : "s"} this stack did not create: ${named.join(", ")}. ` +
        "The stack would own them, and `pulumi destroy` would delete them with everything in them. Remove them, use another " +
        "cluster (or for Bookinfo another bookinfoNamespace, or bookinfoCreateNamespace: false), or set " +
        "pks-istio-mesh:adoptExistingObjects to true to take them over";
}
