import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IstioValidation } from "../istio/defaultValidator";
import { IstioIngressGateway } from "../istio/ingressGateway";
import { Gateway, VirtualService, VirtualServiceSpec } from "../istio/resources";
import { BOOKINFO_PORT } from "./app";
import { routedPaths } from "./authorization";
import { BookinfoEntry } from "./entry";

export interface BookinfoIngressArgs {
    /** The Kubernetes provider of the target cluster. */
    provider: k8s.Provider;
    /** The default validation webhook (ready), which admits these custom resources. */
    validation: IstioValidation;
    /** The ingress gateway that serves Bookinfo: its pod labels and HTTP port shape the `Gateway`. */
    gateway: IstioIngressGateway;
    /** Bookinfo's namespace. */
    namespace: pulumi.Input<string>;
    /**
     * Hosts the gateway accepts for Bookinfo: host names, `*.<domain>` wildcards, or `*` (any host). Defaults to
     * `["*"]`.
     */
    hosts?: string[];
}

/**
 * Bookinfo's routing (`samples/bookinfo/networking/bookinfo-gateway.yaml`): the Gateway `bookinfo-gateway` on the
 * ingress gateway's HTTP port, and the VirtualService `bookinfo` that sends the product page's paths to
 * `productpage:9080`. The sample's port 8080 only works with istioctl's gateway (80→8080); this Gateway takes
 * the port the Helm-installed gateway Service really exposes.
 */
export class BookinfoIngress extends pulumi.ComponentResource {
    public readonly gateway: Gateway;
    public readonly virtualService: VirtualService;
    /**
     * The Host header that reaches Bookinfo through the gateway: the first host (`productpage.<domain>` for a
     * wildcard `*.<domain>`); undefined when the gateway accepts any host.
     */
    public readonly host: string | undefined;
    /** `http://<gateway address>/productpage`, once the load balancer has an address. */
    public readonly gatewayUrl: pulumi.Output<string | undefined>;
    /** The product page as people open it: `http://<host>/productpage`, or the gateway URL when any host is accepted. */
    public readonly productPageUrl: pulumi.Output<string | undefined>;
    /** What Bookinfo's authorization needs of the gateway and its routes. */
    public readonly entry: BookinfoEntry;

    constructor(name: string, args: BookinfoIngressArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:bookinfo:BookinfoIngress", name, {}, opts);
        const childOpts = { parent: this, provider: args.provider };
        const hosts = args.hosts ?? ["*"];
        const port = args.gateway.httpPort;

        this.gateway = new Gateway(`${name}-gateway`, {
            metadata: { name: "bookinfo-gateway", namespace: args.namespace },
            spec: {
                selector: { ...args.gateway.selector },
                servers: [{ port: { number: port, name: "http", protocol: "HTTP" }, hosts }],
            },
        }, { ...childOpts, dependsOn: [...args.validation.readyBefore, args.gateway.release] });

        this.virtualService = new VirtualService(`${name}-virtualservice`, {
            metadata: { name: "bookinfo", namespace: args.namespace },
            spec: {
                hosts,
                gateways: ["bookinfo-gateway"],
                http: [{
                    match: [
                        { uri: { exact: "/productpage" } },
                        { uri: { prefix: "/static" } },
                        { uri: { exact: "/login" } },
                        { uri: { exact: "/logout" } },
                        { uri: { prefix: "/api/v1/products" } },
                    ],
                    route: [{ destination: { host: "productpage", port: { number: BOOKINFO_PORT } } }],
                }],
            },
        }, { ...childOpts, dependsOn: args.validation.readyBefore });

        const portSuffix = port === 80 ? "" : `:${port}`;
        this.host = hosts.includes("*") ? undefined : hosts[0].replace(/^\*\./, "productpage.");
        this.gatewayUrl = args.gateway.address.apply((address) =>
            address === undefined ? undefined : `http://${address}${portSuffix}/productpage`);
        this.productPageUrl = this.host === undefined ? this.gatewayUrl : pulumi.output(`http://${this.host}${portSuffix}/productpage`);

        // The gateway chart creates the gateway's service account, named after the release.
        const release = args.gateway.release.status;
        this.entry = {
            serviceAccountId: pulumi.interpolate`${release.namespace}/${release.name}`,
            productPagePaths: pulumi.output(this.virtualService.getInputs().spec as pulumi.Input<VirtualServiceSpec>).apply((spec) => routedPaths(spec, "productpage")),
            gatewayNamespace: release.namespace.apply((ns) => ns!),
            gatewayTarget: { selector: { matchLabels: { ...args.gateway.selector } } },
            gatewayPort: args.gateway.servicePorts.find((p) => p.port === port)?.targetPort ?? port,
            readyBefore: [args.gateway.release],
            productPageUrl: this.productPageUrl,
        };

        this.registerOutputs({ productPageUrl: this.productPageUrl });
    }
}
