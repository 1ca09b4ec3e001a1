import * as pulumi from "@pulumi/pulumi";

/** The pod-template annotation that names the control plane (release@version) a workload's sidecar comes from. */
export const CONTROL_PLANE_ANNOTATION = "pks-istio-mesh/control-plane";

/**
 * How workloads get their sidecar from one control plane: straight from a revision (`IstioControlPlane`) or
 * through a revision tag (`IstioRevisionTag`). Workload components take it instead of a control plane, so that a
 * namespace can select a tag and follow it when the tag moves. In ambient mode the same shape enrolls workloads
 * with ztunnel instead (`IstioZtunnel.enrollment`): namespace labels, no pod labels, and what must run first.
 */
export interface SidecarInjection {
    /**
     * The `istio.io/rev` value that selects it (a revision or a tag); unset for the default revision, which
     * `istio-injection=enabled` and `sidecar.istio.io/inject=true` select.
     */
    selector?: string;
    /** Namespace labels that enable injection for every pod of the namespace. */
    namespaceLabels: Record<string, string>;
    /** Pod labels that ask for a sidecar in a namespace without injection labels. */
    podLabels: Record<string, string>;
    /**
     * Pod-template annotations naming the control plane (release and Istio version) behind the selector: when
     * it changes (a new version, a new revision, a moved tag) the workload's pod template changes, and the
     * workload rolls onto it.
     */
    workloadAnnotations: Record<string, string>;
    /** What must be ready before such pods are created: the control plane's release, and the tag's webhook. */
    readyBefore: pulumi.Resource[];
    /**
     * Namespace labels that must not be on an existing namespace for this to work, as label key → the one value that
     * may stay (`null`: none may); unset: those of sidecar injection (`blockingLabels`). Ambient enrollment sets it:
     * any injection label would give its pods sidecars.
     */
    blockingNamespaceLabels?: Record<string, string | null>;
}

/** Labels selecting the default revision or the revision/tag `selector`, for namespaces and for pods. */
export function injectionLabels(selector: string | undefined): Pick<SidecarInjection, "namespaceLabels" | "podLabels"> {
    return selector
        ? { namespaceLabels: { "istio.io/rev": selector }, podLabels: { "istio.io/rev": selector } }
        : { namespaceLabels: { "istio-injection": "enabled" }, podLabels: { "sidecar.istio.io/inject": "true" } };
}

/**
 * How a workload's pods ask for their sidecar:
 * - `namespace`: the namespace is labelled for injection; every pod created there gets a sidecar.
 * - `pod`: only the workload's pod templates ask for a sidecar and the namespace stays unlabelled, so other pods
 *   deployed there later get none (what the manual `istioctl kube-inject` route gave).
 */
export type InjectionMode = "namespace" | "pod";
