/**
 * Typed Istio resources: the spec fields this project uses of `networking.istio.io/v1` (Gateway, VirtualService,
 * DestinationRule) and `security.istio.io/v1` (PeerAuthentication), as Kubernetes custom resources. Field names
 * and enums follow Istio's API reference; the tests validate every object against Istio's OpenAPI schema.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export type PortProtocol = "HTTP" | "HTTPS" | "GRPC" | "HTTP2" | "MONGO" | "TCP" | "TLS";

export interface GatewayServer {
    port: { number: number; name: string; protocol: PortProtocol };
    hosts: string[];
}

export interface GatewaySpec {
    /** Labels of the gateway pods that apply this configuration. */
    selector: Record<string, string>;
    servers: GatewayServer[];
}

export type StringMatch = { exact: string } | { prefix: string } | { regex: string };

export interface HTTPRoute {
    match?: Array<{ uri?: StringMatch }>;
    route: Array<{ destination: { host: string; subset?: string; port?: { number: number } }; weight?: number }>;
}

export interface VirtualServiceSpec {
    hosts: string[];
    gateways?: string[];
    http?: HTTPRoute[];
}

export type ClientTLSMode = "DISABLE" | "SIMPLE" | "MUTUAL" | "ISTIO_MUTUAL";

export interface DestinationRuleSpec {
    host: string;
    trafficPolicy?: { tls?: { mode: ClientTLSMode } };
    subsets?: Array<{ name: string; labels: Record<string, string> }>;
}

export type PeerAuthenticationMode = "UNSET" | "DISABLE" | "PERMISSIVE" | "STRICT";

export interface PeerAuthenticationSpec {
    selector?: { matchLabels: Record<string, string> };
    mtls?: { mode: PeerAuthenticationMode };
}

/** Arguments of a typed Istio custom resource. */
export interface IstioResourceArgs<Spec> {
    metadata: k8s.types.input.meta.v1.ObjectMeta;
    spec: pulumi.Input<Spec>;
}

export const NETWORKING_API = "networking.istio.io/v1";
export const SECURITY_API = "security.istio.io/v1";

/** A custom resource whose `spec` has the given type. */
export class IstioResource<Spec> extends k8s.apiextensions.CustomResource {
    constructor(apiVersion: string, kind: string, name: string, args: IstioResourceArgs<Spec>, opts?: pulumi.CustomResourceOptions) {
        super(name, { apiVersion, kind, metadata: args.metadata, spec: args.spec }, opts);
    }
}

export class Gateway extends IstioResource<GatewaySpec> {
    constructor(name: string, args: IstioResourceArgs<GatewaySpec>, opts?: pulumi.CustomResourceOptions) {
        super(NETWORKING_API, "Gateway", name, args, opts);
    }
}

export class VirtualService extends IstioResource<VirtualServiceSpec> {
    constructor(name: string, args: IstioResourceArgs<VirtualServiceSpec>, opts?: pulumi.CustomResourceOptions) {
        super(NETWORKING_API, "VirtualService", name, args, opts);
    }
}

export class DestinationRule extends IstioResource<DestinationRuleSpec> {
    constructor(name: string, args: IstioResourceArgs<DestinationRuleSpec>, opts?: pulumi.CustomResourceOptions) {
        super(NETWORKING_API, "DestinationRule", name, args, opts);
    }
}

export class PeerAuthentication extends IstioResource<PeerAuthenticationSpec> {
    constructor(name: string, args: IstioResourceArgs<PeerAuthenticationSpec>, opts?: pulumi.CustomResourceOptions) {
        super(SECURITY_API, "PeerAuthentication", name, args, opts);
    }
}
