import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IstioChartSource, chartReleaseArgs, compatibilityValues } from "./chart";
import { SidecarInjection } from "./injection";
import { stackAnnotations } from "./namespaceOwnership";

/** How the gateway Service is exposed. */
export type GatewayServiceType = "LoadBalancer" | "NodePort" | "ClusterIP";

/** A port of the gateway Service, as the gateway chart's `service.ports` takes it. */
export interface GatewayServicePort {
    name: string;
    port: number;
    targetPort: number;
    protocol: "TCP";
}

export interface IstioIngressGatewayArgs {
    /** The Kubernetes provider of the target cluster. */
    provider: k8s.Provider;
    /**
     * The provider the gateway's Service is read back with; defaults to `provider`. One that is never replaced
     * keeps the read valid when the cluster is replaced (see index.ts).
     */
    readProvider?: k8s.Provider;
    /** Where the charts come from and which Istio release to install. */
    charts: IstioChartSource;
    /**
     * The control plane (a revision's, or a revision tag's) whose injection webhook fills in the gateway's
     * proxy; the gateway rolls when it changes.
     */
    injection: SidecarInjection;
    /** The gateway's own namespace. Defaults to `istio-ingress`. */
    namespace?: string;
    /** Service type. Defaults to `LoadBalancer` (one NSX-T virtual server per port on PKS). */
    serviceType?: GatewayServiceType;
    /** Seconds Helm waits for the gateway (including its load-balancer address). Defaults to 600. */
    timeoutSeconds?: number;
}

/** The release name; the chart names the Deployment and Service after it and labels the pods `app=<name>`. */
export const GATEWAY_RELEASE_NAME = "istio-ingressgateway";

/**
 * The Istio ingress gateway: the `gateway` chart (release `istio-ingressgateway`) in its own namespace.
 *
 * The chart maps Service port 80 to container port 80 (unlike istioctl's 80→8080), so an Istio `Gateway` must
 * listen on a port the Service exposes: `httpPort`. Its pods carry `selector`, the labels a `Gateway` selects.
 * Both are set here explicitly, in the chart values, so the Bookinfo Gateway can be derived from them.
 */
export class IstioIngressGateway extends pulumi.ComponentResource {
    /** The gateway's namespace. */
    public readonly namespace: k8s.core.v1.Namespace;
    /** The gateway Helm release. */
    public readonly release: k8s.helm.v3.Release;
    /** Labels of the gateway pods: the selector of an Istio `Gateway` served by this gateway. */
    public readonly selector: Record<string, string> = { istio: "ingressgateway" };
    /** The ports of the gateway Service (port → container port). */
    public readonly servicePorts: GatewayServicePort[] = [
        { name: "status-port", port: 15021, targetPort: 15021, protocol: "TCP" },
        { name: "http2", port: 80, targetPort: 80, protocol: "TCP" },
        { name: "https", port: 443, targetPort: 443, protocol: "TCP" },
    ];
    /** The Service port for plain HTTP, which an Istio `Gateway` server must use. */
    public readonly httpPort: number;
    /** The gateway Service as the cluster reports it (read after the release is installed). */
    public readonly service: k8s.core.v1.Service;
    /** The load balancer's IP or hostname (`status.loadBalancer.ingress[0]`); undefined for other service types. */
    public readonly address: pulumi.Output<string | undefined>;

    constructor(name: string, args: IstioIngressGatewayArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:istio:IstioIngressGateway", name, {}, opts);
        const childOpts = { parent: this, provider: args.provider };
        this.httpPort = this.servicePorts.find((p) => p.name === "http2")!.port;

        this.namespace = new k8s.core.v1.Namespace(`${name}-namespace`, {
            metadata: { name: args.namespace ?? "istio-ingress", annotations: stackAnnotations() },
        }, childOpts);

        const revision = args.injection.selector;
        this.release = new k8s.helm.v3.Release(`${name}-gateway`, {
            name: GATEWAY_RELEASE_NAME,
            namespace: this.namespace.metadata.name,
            ...chartReleaseArgs("gateway", args.charts),
            values: {
                labels: { ...this.selector },
                // A new control plane (revision or version) rolls the gateway, so its proxy matches it.
                podAnnotations: { ...args.injection.workloadAnnotations },
                service: { type: args.serviceType ?? "LoadBalancer", ports: this.servicePorts },
                ...(revision ? { revision } : {}),
                ...compatibilityValues(args.charts),
            },
            timeout: args.timeoutSeconds ?? 600,
        }, { ...childOpts, dependsOn: args.injection.readyBefore });

        // The release status is unknown until it is installed, so a first preview does not read a missing Service.
        this.service = k8s.core.v1.Service.get(`${name}-service`,
            pulumi.interpolate`${this.release.status.namespace}/${this.release.status.name}`,
            { parent: this, provider: args.readProvider ?? args.provider, dependsOn: [this.release] });
        this.address = this.service.status.apply((status) => {
            const ingress = status?.loadBalancer?.ingress?.[0];
            return ingress?.ip || ingress?.hostname || undefined;
        });

        this.registerOutputs({ release: this.release.status, address: this.address });
    }
}
