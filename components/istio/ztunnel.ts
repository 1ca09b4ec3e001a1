import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IstioBase } from "./base";
import { IstioChartSource, chartReleaseArgs, compatibilityValues } from "./chart";
import { IstioCni } from "./cni";
import { IstioControlPlane } from "./controlPlane";
import { CONTROL_PLANE_ANNOTATION, SidecarInjection } from "./injection";
import { ISTIO_IMAGE_HUB } from "./releases";

/** The namespace (or pod) label that enrolls workloads in ambient mode. */
export const AMBIENT_LABELS: Readonly<Record<string, string>> = { "istio.io/dataplane-mode": "ambient" };

export interface IstioZtunnelArgs {
    /** The Kubernetes provider of the target cluster. */
    provider: k8s.Provider;
    /** Where the chart comes from and which Istio release to install. */
    charts: IstioChartSource;
    /** The Istio base: the root namespace ztunnel runs in. */
    base: IstioBase;
    /** The (ambient) control plane ztunnel takes its certificates and workload configuration from. */
    controlPlane: IstioControlPlane;
    /** The CNI node agent in ambient mode, which hands enrolled pods' traffic to ztunnel. */
    cni: IstioCni;
    /** Registry for the `ztunnel` image (the chart's `hub`); unset: `docker.io/istio`. */
    imageHub?: string;
    /** Seconds Helm waits for ztunnel on every node. Defaults to 600. */
    timeoutSeconds?: number;
}

/**
 * Ambient mode's node proxy: the `ztunnel` chart (release `ztunnel`) in the root namespace, a DaemonSet that carries
 * every enrolled pod's traffic over mutual TLS (HBONE) and enforces layer-4 authorization, with the configuration
 * its control plane serves it. Istio's order: istiod (ambient profile), the CNI agent, ztunnel; the workloads come
 * after (`enrollment`).
 */
export class IstioZtunnel extends pulumi.ComponentResource {
    /** The `ztunnel` Helm release. */
    public readonly release: k8s.helm.v3.Release;
    /**
     * How workloads join ambient mode: their namespace labelled `istio.io/dataplane-mode=ambient` (no injection
     * label may stay: it would give their pods sidecars), created once istiod, the CNI agent and ztunnel are ready,
     * and rolled when they move to or from it (the pod template names the control plane and `+ambient`).
     */
    public readonly enrollment: SidecarInjection;

    constructor(name: string, args: IstioZtunnelArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:istio:IstioZtunnel", name, {}, opts);
        const cp = args.controlPlane;
        this.release = new k8s.helm.v3.Release(`${name}-ztunnel`, {
            name: "ztunnel",
            namespace: args.base.namespaceName,
            ...chartReleaseArgs("ztunnel", args.charts),
            values: {
                hub: args.imageHub ?? ISTIO_IMAGE_HUB,
                ...(cp.revision ? { revision: cp.revision } : {}),
                ...compatibilityValues(args.charts),
            },
            timeout: args.timeoutSeconds ?? 600,
        }, { parent: this, provider: args.provider, dependsOn: [cp.release, args.cni.release] });
        this.enrollment = {
            namespaceLabels: { ...AMBIENT_LABELS },
            podLabels: {},
            workloadAnnotations: { [CONTROL_PLANE_ANNOTATION]: `${cp.serviceName}@${cp.version}+ambient` },
            readyBefore: [cp.release, args.cni.release, this.release],
            blockingNamespaceLabels: { "istio-injection": null, "istio.io/rev": null },
        };
        this.registerOutputs({ release: this.release.status });
    }
}
