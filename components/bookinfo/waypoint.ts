import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { KubernetesGateway, KubernetesGatewaySpec } from "../istio/gatewayApiResources";
import { istioGatewayName, programmedAwait } from "./gatewayApiIngress";

/** The waypoint's name, as `istioctl waypoint apply` names a namespace's waypoint. */
export const WAYPOINT_NAME = "waypoint";
/** The Gateway class of Istio's waypoints. */
export const WAYPOINT_CLASS = "istio-waypoint";

/**
 * The namespace labels that send every call to the namespace's Services through the waypoint: its own workloads'
 * callers (`istio.io/use-waypoint`) and the ingress gateways' (`istio.io/ingress-use-waypoint`, which Istio
 * otherwise lets pass the waypoint by).
 */
export const WAYPOINT_NAMESPACE_LABELS: Readonly<Record<string, string>> = {
    "istio.io/use-waypoint": WAYPOINT_NAME,
    "istio.io/ingress-use-waypoint": "true",
};

export interface BookinfoWaypointArgs {
    /** The Kubernetes provider of the target cluster. */
    provider: k8s.Provider;
    /** Bookinfo's namespace (labelled `WAYPOINT_NAMESPACE_LABELS`). */
    namespace: pulumi.Input<string>;
    /** What must exist first: the Gateway API's CRDs and the (ambient) istiod that deploys the waypoint. */
    readyBefore: pulumi.Resource[];
    /** The revision or tag whose istiod deploys the waypoint (`istio.io/rev`); unset: the default revision's. */
    revision?: string;
    /** Seconds to wait for istiod to report the waypoint `Programmed`. Defaults to 600. */
    timeoutSeconds?: number;
}

/**
 * Bookinfo's waypoint in ambient mode: the Gateway API `Gateway` `waypoint` of class `istio-waypoint` with its
 * HBONE listener on 15008, for the namespace's Services (`istio.io/waypoint-for: service`) — what `istioctl waypoint
 * apply` writes. istiod deploys the waypoint proxy (a Deployment, Service and service account named `waypoint`),
 * which `pulumi up` waits for (`Programmed`). The L7 rules of Bookinfo's authorization are aimed at its Services and
 * enforced here; ztunnel then only admits the waypoint's identity to the workloads.
 */
export class BookinfoWaypoint extends pulumi.ComponentResource {
    /** The waypoint's Gateway. */
    public readonly gateway: KubernetesGateway;
    /** `<namespace>/<name>` of the service account istiod creates for the waypoint. */
    public readonly serviceAccountId: pulumi.Output<string>;
    /** What must exist before the waypoint's identity is read and policies are aimed at it. */
    public readonly readyBefore: pulumi.Resource[];

    constructor(name: string, args: BookinfoWaypointArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:bookinfo:BookinfoWaypoint", name, {}, opts);
        const spec: KubernetesGatewaySpec = {
            gatewayClassName: WAYPOINT_CLASS,
            listeners: [{ name: "mesh", port: 15008, protocol: "HBONE" }],
        };
        this.gateway = new KubernetesGateway(`${name}-gateway`, {
            metadata: {
                name: WAYPOINT_NAME,
                namespace: args.namespace,
                labels: { "istio.io/waypoint-for": "service", ...(args.revision ? { "istio.io/rev": args.revision } : {}) },
                annotations: programmedAwait(args.timeoutSeconds ?? 600),
            },
            spec,
        }, { parent: this, provider: args.provider, dependsOn: args.readyBefore });
        this.serviceAccountId = this.gateway.metadata.apply((m) => `${m.namespace}/${istioGatewayName(WAYPOINT_NAME, WAYPOINT_CLASS)}`);
        this.readyBefore = [this.gateway];
        this.registerOutputs({ serviceAccountId: this.serviceAccountId });
    }
}
