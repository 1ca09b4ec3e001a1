import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IstioChartSource, chartReleaseArgs, compatibilityValues } from "./chart";
import { stackAnnotations } from "./namespaceOwnership";

export interface IstioBaseArgs {
    /** The Kubernetes provider of the target cluster. */
    provider: k8s.Provider;
    /** Where the charts come from and which Istio release to install. */
    charts: IstioChartSource;
    /** Seconds Helm waits for the release's objects. Defaults to 600. */
    timeoutSeconds?: number;
}

/**
 * Istio's cluster-wide base: the `istio-system` namespace and the `base` chart (release `istio-base`), which
 * installs every Istio CRD (its default validation webhook is `IstioDefaultValidator`'s, not the chart's).
 *
 * Helm keeps the CRDs when the release is uninstalled (`helm.sh/resource-policy: keep`), as Istio documents, so
 * `pulumi destroy` leaves them in the cluster; delete them with
 * `kubectl get crd -oname | grep 'istio.io' | xargs kubectl delete` when the cluster itself stays.
 */
export class IstioBase extends pulumi.ComponentResource {
    /** The Istio root namespace, `istio-system`. */
    public readonly namespace: k8s.core.v1.Namespace;
    /** Its name, with a dependency on the namespace. */
    public readonly namespaceName: pulumi.Output<string>;
    /** The `istio-base` Helm release: the Istio CRDs. */
    public readonly release: k8s.helm.v3.Release;

    constructor(name: string, args: IstioBaseArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:istio:IstioBase", name, {}, opts);
        const childOpts = { parent: this, provider: args.provider };

        this.namespace = new k8s.core.v1.Namespace(`${name}-istio-system`, {
            // Marked as this stack's: the revision guard refuses an istio-system that is someone else's.
            metadata: { name: "istio-system", annotations: stackAnnotations() },
        }, childOpts);
        this.namespaceName = this.namespace.metadata.name;

        this.release = new k8s.helm.v3.Release(`${name}-istio-base`, {
            name: "istio-base",
            namespace: this.namespaceName,
            ...chartReleaseArgs("base", args.charts),
            // The default validation webhook is IstioDefaultValidator's, created once its istiod is ready.
            values: { defaultRevision: "", ...compatibilityValues(args.charts) },
            timeout: args.timeoutSeconds ?? 600,
        }, childOpts);

        this.registerOutputs({ namespaceName: this.namespaceName, release: this.release.status });
    }
}
