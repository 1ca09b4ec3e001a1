import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { InjectionMode, SidecarInjection } from "./injection";
import { NamespaceLabelRemoval } from "./namespaceLabelRemoval";

export interface MeshNamespaceArgs {
    /** The Kubernetes provider of the target cluster. */
    provider: k8s.Provider;
    /** The existing namespace's name. */
    namespace: string;
    /** The control plane (revision or tag) whose sidecars its pods get. */
    injection: SidecarInjection;
    /** `namespace`: label the namespace; `pod`: leave injection to labels on the pods. Defaults to `namespace`. */
    mode?: InjectionMode;
    /** More labels to put on the namespace, e.g. Pod Security Admission's. */
    labels?: Record<string, string>;
    /** The cluster's kubeconfig (a secret), needed when the namespace carries labels that block the injection. */
    kubeconfig?: pulumi.Input<string>;
    /** The field manager of the label patch, exactly. Defaults to `labelFieldManager()`. */
    fieldManager?: string;
}

/**
 * The field manager of the program's namespace label patches: `pks-istio-mesh/<stack>`, one exact name per stack
 * (at most 115 characters; Kubernetes allows 128), so that its own labels are told apart from those of any other
 * Pulumi program (whose managers are `pulumi-kubernetes-<random>`).
 */
export function labelFieldManager(): string {
    return `pks-istio-mesh/${pulumi.getStack()}`;
}

/**
 * The namespace labels that would keep pods from being injected as configured, as label key → the one value
 * that may stay (`null`: none may). A revision's (or tag's) webhooks select only namespaces without
 * `istio-injection`; the pod-label webhooks also only namespaces without `istio.io/rev`, and a namespace's
 * `istio.io/rev` of another revision hands its pods to that one. In `namespace` mode the namespace's own
 * injection label is set by the patch.
 */
export function blockingLabels(mode: InjectionMode, selector: string | undefined): Record<string, string | null> {
    if (mode === "namespace") {
        return selector ? { "istio-injection": null } : {};
    }
    return selector ? { "istio-injection": null, "istio.io/rev": selector } : { "istio-injection": "enabled", "istio.io/rev": "default" };
}

/**
 * An existing namespace that Pulumi does not own, joined to the mesh: its injection labels (and any others asked
 * for) are patched on — and removed again on destroy — and labels that would block the chosen injection are
 * removed while the stack exists and restored on destroy (`NamespaceLabelRemoval`).
 */
export class MeshNamespace extends pulumi.ComponentResource {
    /** The namespace's name, available once its labels are in place: depend on it to create pods after. */
    public readonly namespaceName: pulumi.Output<string>;
    /** The labels patched on, if any. */
    public readonly labelPatch?: k8s.core.v1.NamespacePatch;
    /** The removal of blocking labels, if any. */
    public readonly labelRemoval?: NamespaceLabelRemoval;

    constructor(name: string, args: MeshNamespaceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:istio:MeshNamespace", name, {}, opts);
        const mode = args.mode ?? "namespace";
        let namespace: pulumi.Output<string> = pulumi.output(args.namespace);
        const fieldManager = args.fieldManager ?? labelFieldManager();
        const blocking = args.injection.blockingNamespaceLabels ?? blockingLabels(mode, args.injection.selector);
        if (Object.keys(blocking).length > 0) {
            if (args.kubeconfig === undefined) {
                throw new Error(`MeshNamespace ${name}: namespace ${args.namespace} in '${mode}' mode${args.injection.selector ? ` with ${args.injection.selector}` : ""} needs the kubeconfig, to remove ${Object.keys(blocking).join(", ")} while the stack exists`);
            }
            this.labelRemoval = new NamespaceLabelRemoval(`${name}-blocking-labels`, {
                kubeconfig: args.kubeconfig, namespace: args.namespace, labels: blocking, ownFieldManagers: [fieldManager],
            }, { parent: this, aliases: [{ parent: opts?.parent ?? pulumi.rootStackResource }] });
            namespace = this.labelRemoval.namespaceName;
        }
        const labels = { ...(mode === "namespace" ? args.injection.namespaceLabels : {}), ...args.labels };
        if (Object.keys(labels).length > 0) {
            // Named, and aliased, as when the patch was a child of the workload's component.
            this.labelPatch = new k8s.core.v1.NamespacePatch(`${name}-injection-label`, {
                // The provider's documented way to name a patch's field manager (else `pulumi-kubernetes-<random>`).
                metadata: { name: namespace, labels, annotations: { "pulumi.com/patchFieldManager": fieldManager } },
            }, { parent: this, provider: args.provider, aliases: [{ parent: opts?.parent ?? pulumi.rootStackResource }] });
            namespace = this.labelPatch.metadata.apply((m) => m.name!);
        }
        this.namespaceName = namespace;
        this.registerOutputs({ namespaceName: this.namespaceName });
    }
}
