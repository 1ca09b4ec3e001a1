import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IstioControlPlane } from "../istio/controlPlane";

/**
 * How Bookinfo's pods get their Envoy sidecar:
 * - `namespace`: the namespace is labelled for automatic injection; every pod created there gets a sidecar.
 * - `pod`: only Bookinfo's pod templates ask for a sidecar and the namespace stays unlabelled, so other pods
 *   deployed there later get none (what the manual `istioctl kube-inject` route gave).
 */
export type InjectionMode = "namespace" | "pod";

/** Istio's Bookinfo release used by the 1.30 sample. */
export const BOOKINFO_IMAGE_TAG = "1.20.3";
/** Where Istio 1.30 publishes the Bookinfo images. */
export const BOOKINFO_DEFAULT_HUB = "registry.istio.io/release";
/** The port every Bookinfo service listens on. */
export const BOOKINFO_PORT = 9080;

/** One Bookinfo workload: a Deployment `<app>-<version>` behind the Service `<app>`. */
interface Workload {
    app: "details" | "ratings" | "reviews" | "productpage";
    version: string;
}

const SERVICES: ReadonlyArray<Workload["app"]> = ["details", "ratings", "reviews", "productpage"];
const WORKLOADS: readonly Workload[] = [
    { app: "details", version: "v1" },
    { app: "ratings", version: "v1" },
    { app: "reviews", version: "v1" },
    { app: "reviews", version: "v2" },
    { app: "reviews", version: "v3" },
    { app: "productpage", version: "v1" },
];

export interface BookinfoAppArgs {
    /** The Kubernetes provider of the target cluster. */
    provider: k8s.Provider;
    /** The control plane; pods are created only once its injection webhook is ready. */
    controlPlane: IstioControlPlane;
    /** Namespace for Bookinfo. Defaults to `bookinfo`. */
    namespace?: string;
    /**
     * Create the namespace (default). With `false` an existing namespace (e.g. `default`) is used; Pulumi then
     * only adds, and on destroy removes, the injection label there and never owns the namespace itself.
     */
    createNamespace?: boolean;
    /** Sidecar injection mode. Defaults to `namespace`. */
    injectionMode?: InjectionMode;
    /** Registry for the Bookinfo images. Defaults to `registry.istio.io/release`. */
    imageHub?: string;
}

function podSpec(w: Workload, image: string): k8s.types.input.core.v1.PodSpec {
    const container: k8s.types.input.core.v1.Container = {
        name: w.app,
        image,
        imagePullPolicy: "IfNotPresent",
        ports: [{ containerPort: BOOKINFO_PORT }],
    };
    if (w.app === "reviews") {
        return {
            serviceAccountName: "bookinfo-reviews",
            containers: [{
                ...container,
                env: [{ name: "LOG_DIR", value: "/tmp/logs" }],
                volumeMounts: [{ name: "tmp", mountPath: "/tmp" }, { name: "wlp-output", mountPath: "/opt/ibm/wlp/output" }],
            }],
            volumes: [{ name: "wlp-output", emptyDir: {} }, { name: "tmp", emptyDir: {} }],
        };
    }
    if (w.app === "productpage") {
        return {
            serviceAccountName: "bookinfo-productpage",
            containers: [{ ...container, volumeMounts: [{ name: "tmp", mountPath: "/tmp" }] }],
            volumes: [{ name: "tmp", emptyDir: {} }],
        };
    }
    return { serviceAccountName: `bookinfo-${w.app}`, containers: [container] };
}

/**
 * Istio's Bookinfo sample (`samples/bookinfo/platform/kube/bookinfo.yaml` of Istio 1.30) as typed objects: four
 * Services (port 9080, `http`), four ServiceAccounts `bookinfo-*` and six Deployments, with sidecar injection
 * per `injectionMode`.
 */
export class BookinfoApp extends pulumi.ComponentResource {
    /** The namespace's name, with a dependency on the namespace (and its injection label, if any). */
    public readonly namespaceName: pulumi.Output<string>;
    /** The namespace, when this component created it. */
    public readonly namespace?: k8s.core.v1.Namespace;
    /** The injection label added to an existing namespace, in `namespace` mode without `createNamespace`. */
    public readonly namespaceLabel?: k8s.core.v1.NamespacePatch;
    public readonly serviceAccounts: Record<string, k8s.core.v1.ServiceAccount> = {};
    public readonly services: Record<string, k8s.core.v1.Service> = {};
    /** The Deployments by name (`details-v1`, …, `productpage-v1`). */
    public readonly deployments: Record<string, k8s.apps.v1.Deployment> = {};

    constructor(name: string, args: BookinfoAppArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:bookinfo:BookinfoApp", name, {}, opts);
        const childOpts = { parent: this, provider: args.provider };
        const namespace = args.namespace ?? "bookinfo";
        const mode = args.injectionMode ?? "namespace";
        const namespaceLabels = mode === "namespace" ? args.controlPlane.namespaceInjectionLabels : {};
        const podLabels = mode === "pod" ? args.controlPlane.podInjectionLabels : {};

        if (args.createNamespace ?? true) {
            this.namespace = new k8s.core.v1.Namespace(`${name}-namespace`, {
                metadata: { name: namespace, labels: namespaceLabels },
            }, childOpts);
            this.namespaceName = this.namespace.metadata.name;
        } else if (mode === "namespace") {
            this.namespaceLabel = new k8s.core.v1.NamespacePatch(`${name}-injection-label`, {
                metadata: { name: namespace, labels: namespaceLabels },
            }, childOpts);
            this.namespaceName = this.namespaceLabel.metadata.apply((m) => m.name!);
        } else {
            this.namespaceName = pulumi.output(namespace);
        }

        for (const app of SERVICES) {
            this.serviceAccounts[app] = new k8s.core.v1.ServiceAccount(`${name}-${app}-sa`, {
                metadata: { name: `bookinfo-${app}`, namespace: this.namespaceName, labels: { account: app } },
            }, childOpts);
            this.services[app] = new k8s.core.v1.Service(`${name}-${app}`, {
                metadata: { name: app, namespace: this.namespaceName, labels: { app, service: app } },
                spec: { ports: [{ port: BOOKINFO_PORT, name: "http" }], selector: { app } },
            }, childOpts);
        }

        const hub = args.imageHub ?? BOOKINFO_DEFAULT_HUB;
        for (const w of WORKLOADS) {
            const deploymentName = `${w.app}-${w.version}`;
            const labels = { app: w.app, version: w.version };
            const image = `${hub}/examples-bookinfo-${w.app}-${w.version}:${BOOKINFO_IMAGE_TAG}`;
            this.deployments[deploymentName] = new k8s.apps.v1.Deployment(`${name}-${deploymentName}`, {
                metadata: { name: deploymentName, namespace: this.namespaceName, labels },
                spec: {
                    replicas: 1,
                    selector: { matchLabels: labels },
                    template: {
                        metadata: {
                            labels: { ...labels, ...podLabels },
                            ...(w.app === "productpage"
                                ? { annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": String(BOOKINFO_PORT), "prometheus.io/path": "/metrics" } }
                                : {}),
                        },
                        spec: podSpec(w, image),
                    },
                },
            }, {
                ...childOpts,
                // Pods created before istiod's injection webhook answers would start without a sidecar.
                dependsOn: [args.controlPlane.release, this.serviceAccounts[w.app]],
            });
        }

        this.registerOutputs({ namespace: this.namespaceName });
    }
}
