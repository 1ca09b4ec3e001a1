import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IstioBase } from "./base";
import { IstioChartSource, chartReleaseArgs, compatibilityValues } from "./chart";
import { CONTROL_PLANE_ANNOTATION, SidecarInjection, injectionLabels } from "./injection";
import { ISTIO_IMAGE_HUB } from "./releases";

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
    /** Registry for istiod and the sidecar/gateway proxies (`global.hub`), e.g. a Harbor project; unset: `docker.io/istio`. */
    imageHub?: string;
    /**
     * istiod's minimum replicas. The chart autoscales istiod (a HorizontalPodAutoscaler on CPU, from this minimum
     * to `autoscaleMax`) and leaves the Deployment's replica count to it; with a minimum of 2 or more it also
     * creates a PodDisruptionBudget. Defaults to 1.
     */
    replicas?: number;
    /** istiod's maximum replicas under the autoscaler, at least `replicas`. Defaults to 5 (the chart's). */
    autoscaleMax?: number;
    /** istiod's resource requests/limits; unset for the chart's (500m CPU, 2Gi memory requested). */
    resources?: ResourceRequirements;
    /**
     * Mesh-wide settings (the chart's `meshConfig`, Istio's MeshConfig), e.g. `extensionProviders` for tracing
     * backends or `accessLogFile`; merged over the chart's own.
     */
    meshConfig?: Record<string, unknown>;
    /**
     * The Istio CNI node agent is installed (`IstioCni`): injected pods then get the unprivileged
     * `istio-validation` init container instead of `istio-init`, which needs NET_ADMIN and NET_RAW.
     */
    cni?: boolean;
    /**
     * Ambient mode: the charts' `ambient` profile (istiod serves ztunnel — `PILOT_ENABLE_AMBIENT` —, proxies speak
     * HBONE, images of the distroless variant), with the CNI node agent and ztunnel (`IstioZtunnel`).
     */
    ambient?: boolean;
    /** Seconds Helm waits for istiod to become ready. Defaults to 600. */
    timeoutSeconds?: number;
}

/**
 * The Istio control plane: the `istiod` chart in `istio-system` (release `istiod`, or `istiod-<revision>`). The
 * release waits until istiod is ready, so its webhooks answer before anything that depends on the release is
 * created: pods that need a sidecar (the injection webhook fails closed) and Istio objects (the validation webhook
 * fails closed once istiod has started, and always after an upgrade of the base chart).
 */
export class IstioControlPlane extends pulumi.ComponentResource {
    /** The istiod Helm release. */
    public readonly release: k8s.helm.v3.Release;
    /** The control-plane revision, if any. */
    public readonly revision: string | undefined;
    /** Its Istio release. */
    public readonly version: string;
    /** Where its charts came from. */
    public readonly charts: IstioChartSource;
    /** The istiod Service (`istiod` or `istiod-<revision>`), which its webhooks and proxies reach. */
    public readonly serviceName: string;
    /** Injection straight from this revision (`istio.io/rev=<revision>`, or the default revision's labels). */
    public readonly injection: SidecarInjection;
    /** The Istio root namespace istiod runs in. */
    public readonly namespaceName: pulumi.Output<string>;

    constructor(name: string, args: IstioControlPlaneArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:istio:IstioControlPlane", name, {}, opts);

        this.revision = args.revision;
        this.version = args.charts.version;
        this.charts = args.charts;
        this.serviceName = args.revision ? `istiod-${args.revision}` : "istiod";

        const replicas = args.replicas ?? 1;
        const values: Record<string, unknown> = {
            autoscaleEnabled: true,
            autoscaleMin: replicas,
            autoscaleMax: Math.max(replicas, args.autoscaleMax ?? 5),
            ...(args.revision ? { revision: args.revision } : {}),
            global: { hub: args.imageHub ?? ISTIO_IMAGE_HUB },
            ...compatibilityValues(args.charts),
            ...(args.resources ? { resources: args.resources } : {}),
            ...(args.meshConfig ? { meshConfig: args.meshConfig } : {}),
            ...(args.cni ? { cni: { enabled: true } } : {}),
            ...(args.ambient ? { profile: "ambient" } : {}),
        };
        this.release = new k8s.helm.v3.Release(`${name}-istiod`, {
            name: this.serviceName,
            namespace: args.base.namespaceName,
            ...chartReleaseArgs("istiod", args.charts),
            values,
            timeout: args.timeoutSeconds ?? 600,
        }, { parent: this, provider: args.provider, dependsOn: [args.base.release] });

        // The base's namespace (known in every preview), not the release's status (unknown while it changes).
        this.namespaceName = args.base.namespaceName;
        this.injection = {
            selector: args.revision,
            ...injectionLabels(args.revision),
            // With CNI, a different sidecar (no istio-init): turning it on or off rolls the workloads too.
            workloadAnnotations: { [CONTROL_PLANE_ANNOTATION]: `${this.serviceName}@${this.version}${args.cni ? "+cni" : ""}` },
            readyBefore: [this.release],
        };

        this.registerOutputs({ release: this.release.status, namespaceName: this.namespaceName });
    }
}
