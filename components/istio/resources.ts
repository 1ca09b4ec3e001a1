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

/** A request a rule of an AuthorizationPolicy matches (`security.istio.io/v1` `Operation`). */
export interface AuthorizationOperation {
    /** Ports of the workload (its container ports, not Service ports), as strings. */
    ports?: string[];
    methods?: string[];
    /** Exact paths, prefixes (`/static*`) or suffixes (`*.png`). */
    paths?: string[];
}

/** Who a rule of an AuthorizationPolicy matches (`security.istio.io/v1` `Source`). */
export interface AuthorizationSource {
    /** Peer identities from mutual TLS: `<trust domain>/ns/<namespace>/sa/<service account>`. */
    principals?: string[];
    namespaces?: string[];
}

export interface AuthorizationRule {
    from?: Array<{ source: AuthorizationSource }>;
    to?: Array<{ operation: AuthorizationOperation }>;
}

export type AuthorizationAction = "ALLOW" | "DENY" | "AUDIT";

/**
 * What a policy applies to instead of the pods a `selector` picks: a Gateway API `Gateway` (a gateway, or an ambient
 * waypoint itself) or a `Service` (its traffic, at the waypoint that serves it). Group `""` is the core group.
 */
export interface PolicyTargetReference {
    group: "" | "gateway.networking.k8s.io";
    kind: "Service" | "Gateway";
    name: string;
}

/** An empty spec (no selector, no rules) in a namespace allows nothing there: every request is denied. */
export interface AuthorizationPolicySpec {
    selector?: { matchLabels: Record<string, string> };
    /** Set instead of `selector`: the policy applies where these are served (ambient waypoints, Gateway API gateways). */
    targetRefs?: PolicyTargetReference[];
    action?: AuthorizationAction;
    rules?: AuthorizationRule[];
}

/** A provider of an extension (`meshConfig.extensionProviders`, or a built-in one such as `envoy` or `prometheus`). */
export interface TelemetryProviderRef {
    name: string;
}

/** `telemetry.istio.io/v1` Telemetry: metrics, tracing and access logging of the workloads it applies to. */
export interface TelemetrySpec {
    selector?: { matchLabels: Record<string, string> };
    metrics?: Array<{ providers: TelemetryProviderRef[] }>;
    tracing?: Array<{ providers: TelemetryProviderRef[]; randomSamplingPercentage?: number }>;
    accessLogging?: Array<{ providers: TelemetryProviderRef[]; disabled?: boolean }>;
}

export const TELEMETRY_API = "telemetry.istio.io/v1";

export class AuthorizationPolicy extends IstioResource<AuthorizationPolicySpec> {
    constructor(name: string, args: IstioResourceArgs<AuthorizationPolicySpec>, opts?: pulumi.CustomResourceOptions) {
        super(SECURITY_API, "AuthorizationPolicy", name, args, opts);
    }
}

export class Telemetry extends IstioResource<TelemetrySpec> {
    constructor(name: string, args: IstioResourceArgs<TelemetrySpec>, opts?: pulumi.CustomResourceOptions) {
        super(TELEMETRY_API, "Telemetry", name, args, opts);
    }
}
