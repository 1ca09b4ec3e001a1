import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IstioBase } from "./base";
import { IstioChartSource, chartReleaseArgs } from "./chart";

/** CPU and memory requests/limits, as in a Kubernetes container spec. */
export interface ResourceRequirements {
    requests?: { cpu?: string; memory?: string };
    limits?: { cpu?: string; memory?: string };
}

export interface IstioControlPlaneArgs {
    /** The Kubernetes provider of the target cluster. */
    provider: k8s.Provider;
    /** Where the charts come from and which Istio release to install. */
    charts: IstioChartSource;
    /** The Istio base (CRDs), which istiod needs first. */
    base: IstioBase;
    /** A control-plane revision (e.g. `1-30-3` for canary upgrades); unset for the default revision. */
    revision?: string;
    /** Registry for istiod and the sidecar/gateway proxies (`global.hub`), e.g. a Harbor project; unset for the chart's. */
    imageHub?: string;
    /** istiod replicas; with 2 or more the chart also creates a PodDisruptionBudget. Defaults to 1. */
    replicas?: number;
    /** istiod's resource requests/limits; unset for the chart's (500m CPU, 2Gi memory requested). */
    resources?: ResourceRequirements;
    /** Seconds Helm waits for istiod to become ready. Defaults to 600. */
    timeoutSeconds?: number;
}

/**
 * The Istio control plane: the `istiod` chart in `istio-system` (release `istiod`, or `istiod-<revision>`). The
 * release waits until istiod is ready, so its sidecar-injection webhook answers before anything that needs
 * injection (gateway and application pods) is created after it.
 */
export class IstioControlPlane extends pulumi.ComponentResource {
    /** The istiod Helm release. */
    public readonly release: k8s.helm.v3.Release;
    /** The control-plane revision, if any. */
    public readonly revision: string | undefined;
    /** Namespace labels that enable automatic sidecar injection by this control plane. */
    public readonly namespaceInjectionLabels: Record<string, string>;
    /** Pod labels that request a sidecar from this control plane in a namespace without injection labels. */
    public readonly podInjectionLabels: Record<string, string>;

    constructor(name: string, args: IstioControlPlaneArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:istio:IstioControlPlane", name, {}, opts);

        this.revision = args.revision;
        this.namespaceInjectionLabels = args.revision ? { "istio.io/rev": args.revision } : { "istio-injection": "enabled" };
        this.podInjectionLabels = args.revision ? { "istio.io/rev": args.revision } : { "sidecar.istio.io/inject": "true" };

        const replicas = args.replicas ?? 1;
        const values: Record<string, unknown> = {
            replicaCount: replicas,
            autoscaleMin: replicas,
            autoscaleMax: Math.max(replicas, 5),
            ...(args.revision ? { revision: args.revision } : {}),
            ...(args.imageHub ? { global: { hub: args.imageHub } } : {}),
            ...(args.resources ? { resources: args.resources } : {}),
        };
        this.release = new k8s.helm.v3.Release(`${name}-istiod`, {
            name: args.revision ? `istiod-${args.revision}` : "istiod",
            namespace: args.base.namespaceName,
            ...chartReleaseArgs("istiod", args.charts),
            values,
            timeout: args.timeoutSeconds ?? 600,
        }, { parent: this, provider: args.provider, dependsOn: [args.base.release] });

        this.registerOutputs({ release: this.release.status });
    }
}
