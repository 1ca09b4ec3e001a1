import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { InjectionMode, SidecarInjection } from "../istio/injection";
import { MeshNamespace } from "../istio/meshNamespace";
import { ISTIO_IMAGE_HUB } from "../istio/releases";
import { stackAnnotations } from "../istio/namespaceOwnership";

/** Istio's Bookinfo release used by the 1.30 and 1.31 samples. */
export const BOOKINFO_IMAGE_TAG = "1.20.3";
/** The port every Bookinfo service listens on. */
export const BOOKINFO_PORT = 9080;

/** One Bookinfo workload: a Deployment `<app>-<version>` behind the Service `<app>`. */
interface Workload {
    app: "details" | "ratings" | "reviews" | "productpage";
    version: string;
}

/** Bookinfo's services, which are also its pods' `app` labels. */
export const BOOKINFO_APPS: ReadonlyArray<Workload["app"]> = ["details", "ratings", "reviews", "productpage"];
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
    /**
     * The control plane (a revision's, or a revision tag's) whose sidecars the pods get; they are created only
     * once its injection webhook is ready, and roll when it changes.
     */
    injection: SidecarInjection;
    /** Namespace for Bookinfo. Defaults to `bookinfo`. */
    namespace?: string;
    /**
     * Create the namespace (default). With `false` an existing namespace (e.g. `default`) is used
     * (`MeshNamespace`): Pulumi then only adds, and on destroy removes, its labels there, and never owns it.
     */
    createNamespace?: boolean;
    /** Sidecar injection mode. Defaults to `namespace`. */
    injectionMode?: InjectionMode;
    /**
     * The Pod Security Admission level the namespace enforces (`pod-security.kubernetes.io/enforce`), e.g.
     * `baseline`, which admits injected pods only when the Istio CNI agent replaces `istio-init`. Unset: none.
     */
    podSecurity?: "privileged" | "baseline" | "restricted";
    /** Registry for the Bookinfo images. Defaults to Istio's, `docker.io/istio`. */
    imageHub?: string;
    /**
     * The cluster's kubeconfig (a secret). Needed only with an existing namespace whose labels could block the
     * chosen injection (see `blockingLabels`): they are removed while the stack exists and restored on destroy.
     */
    kubeconfig?: pulumi.Input<string>;
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
    /** The existing namespace joined to the mesh, without `createNamespace`. */
    public readonly existingNamespace?: MeshNamespace;
    public readonly serviceAccounts: Record<string, k8s.core.v1.ServiceAccount> = {};
    public readonly services: Record<string, k8s.core.v1.Service> = {};
    /** The Deployments by name (`details-v1`, …, `productpage-v1`). */
    public readonly deployments: Record<string, k8s.apps.v1.Deployment> = {};

    constructor(name: string, args: BookinfoAppArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:bookinfo:BookinfoApp", name, {}, opts);
        const childOpts = { parent: this, provider: args.provider };
        const namespace = args.namespace ?? "bookinfo";
        const mode = args.injectionMode ?? "namespace";
        const podLabels = mode === "pod" ? args.injection.podLabels : {};
        const securityLabels: Record<string, string> = args.podSecurity ? { "pod-security.kubernetes.io/enforce": args.podSecurity } : {};

        if (args.createNamespace ?? true) {
            this.namespace = new k8s.core.v1.Namespace(`${name}-namespace`, {
                metadata: { name: namespace, labels: { ...(mode === "namespace" ? args.injection.namespaceLabels : {}), ...securityLabels }, annotations: stackAnnotations() },
            }, childOpts);
            this.namespaceName = this.namespace.metadata.name;
        } else {
            this.existingNamespace = new MeshNamespace(name, {
                provider: args.provider, namespace, injection: args.injection, mode, labels: securityLabels, kubeconfig: args.kubeconfig,
            }, { parent: this });
            this.namespaceName = this.existingNamespace.namespaceName;
        }

        for (const app of BOOKINFO_APPS) {
            this.serviceAccounts[app] = new k8s.core.v1.ServiceAccount(`${name}-${app}-sa`, {
                metadata: { name: `bookinfo-${app}`, namespace: this.namespaceName, labels: { account: app } },
            }, childOpts);
            this.services[app] = new k8s.core.v1.Service(`${name}-${app}`, {
                metadata: { name: app, namespace: this.namespaceName, labels: { app, service: app } },
                spec: { ports: [{ port: BOOKINFO_PORT, name: "http" }], selector: { app } },
            }, childOpts);
        }

        const hub = args.imageHub ?? ISTIO_IMAGE_HUB;
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
                            annotations: {
                                // A new control plane (revision or version) rolls the pods, so their sidecars match it.
                                ...args.injection.workloadAnnotations,
                                ...(w.app === "productpage"
                                    ? { "prometheus.io/scrape": "true", "prometheus.io/port": String(BOOKINFO_PORT), "prometheus.io/path": "/metrics" }
                                    : {}),
                            },
                        },
                        spec: podSpec(w, image),
                    },
                },
            }, {
                ...childOpts,
                // Pods created before istiod's injection webhook answers would start without a sidecar.
                dependsOn: [...args.injection.readyBefore, this.serviceAccounts[w.app]],
            });
        }

        this.registerOutputs({ namespace: this.namespaceName });
    }
}
