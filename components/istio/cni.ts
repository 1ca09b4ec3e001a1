import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IstioBase } from "./base";
import { IstioChartSource, chartReleaseArgs, compatibilityValues } from "./chart";
import { ISTIO_IMAGE_HUB } from "./releases";

export interface IstioCniArgs {
    /** The Kubernetes provider of the target cluster. */
    provider: k8s.Provider;
    /** Where the chart comes from and which Istio release to install. */
    charts: IstioChartSource;
    /** The Istio base: the root namespace the agent runs in. */
    base: IstioBase;
    /** Registry for the `install-cni` image (`global.hub`); unset: `docker.io/istio`. */
    imageHub?: string;
    /** The kubelet's CNI binary directory (`--cni-bin-dir`); unset for the chart's `/opt/cni/bin`. */
    cniBinDir?: string;
    /** The kubelet's CNI configuration directory (`--cni-conf-dir`); unset for the chart's `/etc/cni/net.d`. */
    cniConfDir?: string;
    /**
     * Ambient mode: the chart's `ambient` profile, with which the agent also moves the traffic of every pod enrolled
     * in ambient (`istio.io/dataplane-mode=ambient`) to the node's ztunnel.
     */
    ambient?: boolean;
    /** Seconds Helm waits for the agent on every node. Defaults to 600. */
    timeoutSeconds?: number;
}

/**
 * Istio's CNI node agent: the `cni` chart (release `istio-cni`) in the root namespace, a DaemonSet that chains
 * Istio's plugin into every node's CNI configuration. Pods are then redirected to their sidecar by the node,
 * not by an `istio-init` container with NET_ADMIN and NET_RAW, so workload namespaces can enforce Pod Security
 * `baseline`; only the agent, in the root namespace, runs privileged. Control planes must know (`cni: true`).
 */
export class IstioCni extends pulumi.ComponentResource {
    /** The `istio-cni` Helm release. */
    public readonly release: k8s.helm.v3.Release;

    constructor(name: string, args: IstioCniArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:istio:IstioCni", name, {}, opts);
        const cni: Record<string, string> = {};
        if (args.cniBinDir) {
            cni.cniBinDir = args.cniBinDir;
        }
        if (args.cniConfDir) {
            cni.cniConfDir = args.cniConfDir;
        }
        this.release = new k8s.helm.v3.Release(`${name}-cni`, {
            name: "istio-cni",
            namespace: args.base.namespaceName,
            ...chartReleaseArgs("cni", args.charts),
            values: {
                ...cni,
                global: { hub: args.imageHub ?? ISTIO_IMAGE_HUB },
                ...compatibilityValues(args.charts),
                ...(args.ambient ? { profile: "ambient" } : {}),
            },
            timeout: args.timeoutSeconds ?? 600,
        }, { parent: this, provider: args.provider, dependsOn: [args.base.release] });
        this.registerOutputs({ release: this.release.status });
    }
}
