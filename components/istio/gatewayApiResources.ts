/**
 * Typed Kubernetes Gateway API resources (`gateway.networking.k8s.io/v1`): the fields of `Gateway` and `HTTPRoute`
 * the program uses, as the Gateway API's CRDs name them; the tests validate every object against those CRDs (the
 * releases Istio 1.30 and 1.31 expect).
 */
import * as pulumi from "@pulumi/pulumi";
import { IstioResource, IstioResourceArgs } from "./resources";

export const GATEWAY_API = "gateway.networking.k8s.io/v1";

/** A listener's protocol: the Gateway API's, and Istio's `HBONE` for waypoints. */
export type GatewayProtocol = "HTTP" | "HTTPS" | "TCP" | "TLS" | "HBONE";

export interface GatewayListener {
    name: string;
    port: number;
    protocol: GatewayProtocol;
    /** Which namespaces' routes may attach (default: the Gateway's own). */
    allowedRoutes?: { namespaces?: { from: "Same" | "All" } };
}

export interface KubernetesGatewaySpec {
    /** `istio` (an ingress gateway istiod deploys), `istio-waypoint` (an ambient waypoint). */
    gatewayClassName: string;
    listeners: GatewayListener[];
}

/** The parts of a Gateway's status the program reads. */
export interface KubernetesGatewayStatus {
    addresses?: Array<{ type?: string; value: string }>;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
}

export interface HTTPPathMatch {
    type: "Exact" | "PathPrefix" | "RegularExpression";
    value: string;
}

export interface HTTPRouteRule {
    matches?: Array<{ path?: HTTPPathMatch }>;
    backendRefs?: Array<{ name: string; port?: number; weight?: number }>;
}

export interface HTTPRouteSpec {
    parentRefs: Array<{ name: string; namespace?: string; sectionName?: string }>;
    hostnames?: string[];
    rules: HTTPRouteRule[];
}

/** A Gateway API `Gateway` (Istio calls it a Kubernetes Gateway, to tell it from its own). */
export class KubernetesGateway extends IstioResource<KubernetesGatewaySpec> {
    constructor(name: string, args: IstioResourceArgs<KubernetesGatewaySpec>, opts?: pulumi.CustomResourceOptions) {
        super(GATEWAY_API, "Gateway", name, args, opts);
    }
}

/** A Gateway API `HTTPRoute`. */
export class KubernetesHTTPRoute extends IstioResource<HTTPRouteSpec> {
    constructor(name: string, args: IstioResourceArgs<HTTPRouteSpec>, opts?: pulumi.CustomResourceOptions) {
        super(GATEWAY_API, "HTTPRoute", name, args, opts);
    }
}

/**
 * The paths an HTTPRoute sends to `service`, as AuthorizationPolicy paths (`Exact` as is, `PathPrefix` as the
 * prefix itself and everything below it, `<prefix>/*`); undefined when a rule to it matches every path. Fails on a match an AuthorizationPolicy cannot
 * express (a regular expression).
 */
export function httpRoutePaths(spec: HTTPRouteSpec, service: string): string[] | undefined {
    const paths: string[] = [];
    for (const rule of spec.rules) {
        if (!(rule.backendRefs ?? []).some((b) => b.name === service)) {
            continue;
        }
        const matches = rule.matches ?? [];
        if (matches.length === 0 || matches.some((m) => m.path === undefined)) {
            return undefined;
        }
        for (const { path } of matches) {
            if (path!.type === "RegularExpression") {
                throw new Error(`the HTTPRoute matches ${service}'s paths with a regular expression (${path!.value}), which an AuthorizationPolicy cannot express`);
            }
            if (path!.type === "Exact") {
                paths.push(path!.value);
            } else {
                // A path prefix matches whole path elements (`/static` is `/static` and `/static/…`, not `/staticx`).
                const prefix = path!.value.replace(/\/+$/, "");
                paths.push(...(prefix === "" ? ["/*"] : [prefix, `${prefix}/*`]));
            }
        }
    }
    return [...new Set(paths)];
}
