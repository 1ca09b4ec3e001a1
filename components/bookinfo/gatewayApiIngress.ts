import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { GATEWAY_API, HTTPRouteSpec, KubernetesGateway, KubernetesGatewaySpec, KubernetesGatewayStatus, KubernetesHTTPRoute, httpRoutePaths } from "../istio/gatewayApiResources";
import { GatewayServiceType } from "../istio/ingressGateway";
import { BOOKINFO_PORT } from "./app";
import { BookinfoEntry } from "./entry";

/** The Gateway API `Gateway` of Bookinfo's sample, and its class: istiod deploys the gateway for it. */
export const BOOKINFO_GATEWAY = { name: "bookinfo-gateway", className: "istio" } as const;

/** The listener port of Bookinfo's `Gateway` (plain HTTP): the gateway Service's port and its container's. */
export const BOOKINFO_GATEWAY_PORT = 80;

/**
 * The name istiod gives the Deployment, Service and service account it creates for a Gateway API `Gateway`:
 * `<gateway>-<class>` (pilot/pkg/config/kube/gatewaycommon: `GetDefaultName`), or the Gateway's own name for the
 * classes that disable the suffix (the waypoint class `istio-waypoint`), unless the Gateway's annotations
 * `gateway.istio.io/name-override` / `gateway.istio.io/service-account` say otherwise (the program sets neither).
 */
export function istioGatewayName(gateway: string, className: string): string {
    return className === "istio-waypoint" ? gateway : `${gateway}-${className}`;
}

/**
 * The annotations that make the Kubernetes provider wait, on create and update, until istiod reports the Gateway
 * `Programmed` (it has deployed the gateway and its Service has an address), up to `timeoutSeconds`.
 */
export function programmedAwait(timeoutSeconds: number): Record<string, string> {
    return { "pulumi.com/waitFor": "condition=Programmed", "pulumi.com/timeoutSeconds": String(timeoutSeconds) };
}

/** A Gateway as the cluster reports it now: its status is read on every preview and update, after it exists. */
export class KubernetesGatewayRead extends k8s.apiextensions.CustomResource {
    /** What istiod reports: the Gateway's addresses and conditions. */
    declare public readonly status: pulumi.Output<KubernetesGatewayStatus | undefined>;

    constructor(name: string, id: pulumi.Input<string>, opts: pulumi.CustomResourceOptions) {
        super(name, { apiVersion: GATEWAY_API, kind: "Gateway", status: undefined }, { ...opts, id });
    }
}

export interface BookinfoGatewayApiIngressArgs {
    /** The Kubernetes provider of the target cluster. */
    provider: k8s.Provider;
    /** Bookinfo's namespace, where the Gateway, its route and the gateway istiod deploys for it live. */
    namespace: pulumi.Input<string>;
    /**
     * What must exist first: the Gateway API's CRDs and the istiod that deploys the gateway (its revision's, or the
     * default one's).
     */
    readyBefore: pulumi.Resource[];
    /** The revision or tag whose istiod deploys the gateway (`istio.io/rev`); unset: the default revision's. */
    revision?: string;
    /**
     * The gateway Service's type; unset or `LoadBalancer` leaves istiod's default (LoadBalancer), others are set
     * with the Gateway's annotation `networking.istio.io/service-type`.
     */
    serviceType?: GatewayServiceType;
    /**
     * Host names the route accepts (`*.<domain>` wildcards allowed), or `["*"]` for any host, as Istio's sample.
     * Defaults to `["*"]`.
     */
    hosts?: string[];
    /** Seconds to wait for istiod to report the Gateway `Programmed`. Defaults to 600. */
    timeoutSeconds?: number;
}

/**
 * Bookinfo's ingress through the Kubernetes Gateway API, as Istio's own sample has it
 * (`samples/bookinfo/gateway-api/bookinfo-gateway.yaml`): the `Gateway` `bookinfo-gateway` of class `istio` with one
 * HTTP listener on port 80 for routes of its own namespace, and the `HTTPRoute` `bookinfo` that sends the product
 * page's paths to `productpage:9080`. No gateway chart: istiod deploys the gateway itself (a Deployment, a Service
 * and a service account named `bookinfo-gateway-istio`) and reports the Gateway `Programmed` once its Service has an
 * address, which `pulumi up` waits for. The product page URL comes from the Gateway's status (`addresses`), read on
 * every run.
 */
export class BookinfoGatewayApiIngress extends pulumi.ComponentResource {
    /** The Gateway API `Gateway`. */
    public readonly gateway: KubernetesGateway;
    /** The `HTTPRoute` to the product page. */
    public readonly route: KubernetesHTTPRoute;
    /** The Gateway as the cluster reports it now. */
    public readonly current: KubernetesGatewayRead;
    /** The name of what istiod deploys for the Gateway (Deployment, Service, service account). */
    public readonly deploymentName: string;
    /** The gateway's address, the first of the Gateway's `status.addresses`. */
    public readonly address: pulumi.Output<string | undefined>;
    /** `http://<gateway address>/productpage`, once the gateway has an address. */
    public readonly gatewayUrl: pulumi.Output<string | undefined>;
    /**
     * The Host header that reaches Bookinfo through the gateway: the first host (`productpage.<domain>` for a
     * wildcard `*.<domain>`); undefined when the route accepts any host.
     */
    public readonly host: string | undefined;
    /** The product page as people open it: `http://<host>/productpage`, or the gateway URL when any host is accepted. */
    public readonly productPageUrl: pulumi.Output<string | undefined>;
    /** What Bookinfo's authorization needs of the gateway and its route. */
    public readonly entry: BookinfoEntry;

    constructor(name: string, args: BookinfoGatewayApiIngressArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:bookinfo:BookinfoGatewayApiIngress", name, {}, opts);
        const childOpts = { parent: this, provider: args.provider };
        this.deploymentName = istioGatewayName(BOOKINFO_GATEWAY.name, BOOKINFO_GATEWAY.className);
        const serviceType = args.serviceType ?? "LoadBalancer";

        const spec: KubernetesGatewaySpec = {
            gatewayClassName: BOOKINFO_GATEWAY.className,
            listeners: [{ name: "http", port: BOOKINFO_GATEWAY_PORT, protocol: "HTTP", allowedRoutes: { namespaces: { from: "Same" } } }],
        };
        this.gateway = new KubernetesGateway(`${name}-gateway`, {
            metadata: {
                name: BOOKINFO_GATEWAY.name,
                namespace: args.namespace,
                ...(args.revision ? { labels: { "istio.io/rev": args.revision } } : {}),
                annotations: {
                    ...programmedAwait(args.timeoutSeconds ?? 600),
                    ...(serviceType === "LoadBalancer" ? {} : { "networking.istio.io/service-type": serviceType }),
                },
            },
            spec,
        }, { ...childOpts, dependsOn: args.readyBefore });

        const hosts = args.hosts ?? ["*"];
        const routeSpec: HTTPRouteSpec = {
            parentRefs: [{ name: BOOKINFO_GATEWAY.name }],
            ...(hosts.includes("*") ? {} : { hostnames: hosts }),
            rules: [{
                matches: [
                    { path: { type: "Exact", value: "/productpage" } },
                    { path: { type: "PathPrefix", value: "/static" } },
                    { path: { type: "Exact", value: "/login" } },
                    { path: { type: "Exact", value: "/logout" } },
                    { path: { type: "PathPrefix", value: "/api/v1/products" } },
                ],
                backendRefs: [{ name: "productpage", port: BOOKINFO_PORT }],
            }],
        };
        this.route = new KubernetesHTTPRoute(`${name}-route`, {
            metadata: { name: "bookinfo", namespace: args.namespace },
            spec: routeSpec,
        }, { ...childOpts, dependsOn: args.readyBefore });

        // Read once the Gateway exists (a first preview does not read a Gateway not created yet).
        this.current = new KubernetesGatewayRead(`${name}-gateway-status`,
            pulumi.all([this.gateway.metadata]).apply(([m]) => `${m.namespace}/${m.name}`), { ...childOpts, dependsOn: [this.gateway] });
        this.address = this.current.status.apply((status) => status?.addresses?.[0]?.value || undefined);
        this.gatewayUrl = this.address.apply((address) => (address === undefined ? undefined : `http://${address}/productpage`));
        this.host = hosts.includes("*") ? undefined : hosts[0].replace(/^\*\./, "productpage.");
        this.productPageUrl = this.host === undefined ? this.gatewayUrl : pulumi.output(`http://${this.host}/productpage`);

        this.entry = {
            serviceAccountId: pulumi.all([this.gateway.metadata]).apply(([m]) => `${m.namespace}/${this.deploymentName}`),
            productPagePaths: pulumi.output(httpRoutePaths(routeSpec, "productpage")),
            gatewayNamespace: pulumi.output(args.namespace),
            gatewayTarget: { targetRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: BOOKINFO_GATEWAY.name }] },
            gatewayPort: BOOKINFO_GATEWAY_PORT,
            readyBefore: [this.gateway],
            productPageUrl: this.productPageUrl,
        };

        this.registerOutputs({ address: this.address, gatewayUrl: this.gatewayUrl, productPageUrl: this.productPageUrl });
    }
}
