/**
 * What istiod would enforce, without a data plane: the `xds-listeners` tool (tools/xds-listeners) asks
 * istiod over its plaintext xDS port for a workload's listeners, as that workload's Envoy would, and this module
 * evaluates the RBAC filters istiod put into them against a request the way Envoy's RBAC filter does (the subset of
 * its matchers that Istio generates for AuthorizationPolicies: principals, methods, paths and ports), failing on
 * any matcher it does not know rather than guessing.
 */
import { execFile } from "child_process";
import * as path from "path";
import { imageTag } from "../../programs/mesh/meshInventory";
import { LocalCluster } from "../../local/localCluster";

/** Envoy's StringMatcher, as protojson prints it (proto field names). */
interface StringMatcher {
    exact?: string;
    prefix?: string;
    suffix?: string;
    contains?: string;
    safe_regex?: { regex: string };
    ignore_case?: boolean;
}

interface HeaderMatcher {
    name: string;
    string_match?: StringMatcher;
    exact_match?: string;
    prefix_match?: string;
    present_match?: boolean;
    invert_match?: boolean;
}

/** Envoy's RBAC Permission (one of the fields is set). */
interface Permission {
    any?: boolean;
    and_rules?: { rules: Permission[] };
    or_rules?: { rules: Permission[] };
    not_rule?: Permission;
    header?: HeaderMatcher;
    url_path?: { path: StringMatcher };
    destination_port?: number;
}

/** Envoy's RBAC Principal (one of the fields is set). */
interface Principal {
    any?: boolean;
    and_ids?: { ids: Principal[] };
    or_ids?: { ids: Principal[] };
    not_id?: Principal;
    authenticated?: { principal_name?: StringMatcher };
    filter_state?: { key: string; string_match?: StringMatcher };
}

/** The RBAC configuration of an HTTP or network RBAC filter. */
export interface RbacConfig {
    rules?: {
        /** ALLOW when absent (protojson omits an enum's zero value). */
        action?: "ALLOW" | "DENY" | "LOG";
        policies?: Record<string, { permissions: Permission[]; principals: Principal[] }>;
    };
}

interface FilterChainDump {
    name: string;
    destinationPort?: number;
    transportProtocol?: string;
    applicationProtocols?: string[];
    rbac: Array<{ filter: string; level: "http" | "network"; config: RbacConfig }>;
    tracing?: { provider?: { name: string; typed_config?: Record<string, unknown> }; random_sampling?: { value?: number }; [field: string]: unknown };
    accessLog?: Array<{ name: string; typed_config?: Record<string, unknown> }>;
}

interface ListenerDump {
    name: string;
    address?: string;
    port?: number;
    trafficDirection?: string;
    filterChains: FilterChainDump[];
}

/** What the tool prints: istiod's listeners for one proxy. */
export interface XdsDump {
    node: string;
    version: string;
    listeners: ListenerDump[];
}

/** A pod as the xDS client presents it to istiod. */
export interface WorkloadPod {
    name: string;
    namespace: string;
    ip: string;
    serviceAccount: string;
    labels: Record<string, string>;
}

/** The running pods of a namespace with a label `app=<app>`, with their IPs (kwok gives every pod one). */
export async function podsOf(cluster: LocalCluster, namespace: string, selector: string): Promise<WorkloadPod[]> {
    const list = await cluster.json<{ items: Array<{ metadata: { name: string; namespace: string; labels?: Record<string, string>; deletionTimestamp?: string }; spec: { serviceAccountName?: string }; status?: { podIP?: string } }> }>(
        `/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(selector)}`);
    return list.items.filter((p) => !p.metadata.deletionTimestamp && p.status?.podIP).map((p) => ({
        name: p.metadata.name, namespace: p.metadata.namespace, ip: p.status!.podIP!, serviceAccount: p.spec.serviceAccountName ?? "default", labels: p.metadata.labels ?? {},
    }));
}

/** istiod's plaintext xDS address on loopback and its release (the first ready istiod). */
function xdsServer(cluster: LocalCluster): { address: string; release: string } {
    const istiod = cluster.istiod?.running().find((p) => p.ready);
    if (!istiod) {
        throw new Error("no ready istiod");
    }
    return { address: `127.0.0.1:${istiod.ports[15010]}`, release: imageTag(istiod.image) };
}

/**
 * Asks istiod for a pod's listeners, as the pod's sidecar (or, for `router`, a gateway) would, announcing the
 * proxy as one of istiod's own release (what injection gives it).
 */
export function listenersOf(toolsBin: string, cluster: LocalCluster, pod: WorkloadPod, type: "sidecar" | "router" | "waypoint" = "sidecar"): Promise<XdsDump> {
    const { address, release } = xdsServer(cluster);
    return xdsTool<XdsDump>(toolsBin, ["--xds", address, "--istio-version", release, "--type", type, "--pod", pod.name, "--namespace", pod.namespace, "--ip", pod.ip, "--service-account", pod.serviceAccount]);
}

/** Runs xds-listeners and parses what it prints. */
function xdsTool<T>(toolsBin: string, args: string[]): Promise<T> {
    return new Promise((resolve, reject) => {
        execFile(path.join(toolsBin, "xds-listeners"), args, { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 }, (error, stdout, stderr) => {
            if (error) {
                reject(new Error(`xds-listeners ${args.join(" ")}: ${stderr.trim() || error.message}`));
            } else {
                resolve(JSON.parse(stdout) as T);
            }
        });
    });
}

/** What istiod serves a ztunnel: the workloads it knows (HBONE: captured by ambient mode) and the L4 authorizations. */
export interface ZtunnelDump {
    node: string;
    workloads: Array<{ name: string; namespace: string; addresses: string[]; serviceAccount: string; trustDomain: string; tunnelProtocol: string; waypoint?: string }>;
    /** istio.security.Authorization, as JSON (proto field names). */
    authorizations: Array<{
        name: string; namespace: string; action?: string;
        groups?: Array<{ rules?: Array<{ matches?: Array<{ principals?: Array<{ exact?: string }>; service_accounts?: Array<{ namespace: string; serviceAccount: string }>; destination_ports?: number[] }> }> }>;
    }>;
}

/** Asks istiod for a ztunnel's configuration, as the ztunnel pod on the node would. */
export function ztunnelConfigOf(toolsBin: string, cluster: LocalCluster, pod: WorkloadPod): Promise<ZtunnelDump> {
    const { address, release } = xdsServer(cluster);
    return xdsTool<ZtunnelDump>(toolsBin, ["--xds", address, "--istio-version", release, "--type", "ztunnel", "--pod", pod.name, "--namespace", pod.namespace, "--ip", pod.ip, "--service-account", pod.serviceAccount]);
}

/** A request as the destination's Envoy sees it. */
export interface Request {
    /** The caller's mutual-TLS identity (`spiffe://…`), or undefined for plain text. */
    principal?: string;
    method: string;
    path: string;
    /** The destination (container) port. */
    port: number;
}

function unsupported(what: string, value: unknown): never {
    throw new Error(`unsupported RBAC ${what}: ${JSON.stringify(value)}`);
}

function matchString(m: StringMatcher, value: string | undefined): boolean {
    if (value === undefined) {
        return false;
    }
    const v = m.ignore_case ? value.toLowerCase() : value;
    const c = (s: string) => (m.ignore_case ? s.toLowerCase() : s);
    if (m.exact !== undefined) {
        return v === c(m.exact);
    }
    if (m.prefix !== undefined) {
        return v.startsWith(c(m.prefix));
    }
    if (m.suffix !== undefined) {
        return v.endsWith(c(m.suffix));
    }
    if (m.contains !== undefined) {
        return v.includes(c(m.contains));
    }
    if (m.safe_regex !== undefined) {
        return new RegExp(`^(?:${m.safe_regex.regex})$`).test(value);
    }
    return unsupported("string matcher", m);
}

function matchHeader(h: HeaderMatcher, request: Request): boolean {
    if (h.name !== ":method") {
        return unsupported("header", h);
    }
    let result: boolean;
    if (h.string_match) {
        result = matchString(h.string_match, request.method);
    } else if (h.exact_match !== undefined) {
        result = request.method === h.exact_match;
    } else if (h.prefix_match !== undefined) {
        result = request.method.startsWith(h.prefix_match);
    } else if (h.present_match !== undefined) {
        result = h.present_match;
    } else {
        return unsupported("header", h);
    }
    return h.invert_match ? !result : result;
}

function matchPermission(p: Permission, request: Request): boolean {
    if (p.any !== undefined) {
        return p.any;
    }
    if (p.and_rules) {
        return p.and_rules.rules.every((r) => matchPermission(r, request));
    }
    if (p.or_rules) {
        return p.or_rules.rules.some((r) => matchPermission(r, request));
    }
    if (p.not_rule) {
        return !matchPermission(p.not_rule, request);
    }
    if (p.header) {
        return matchHeader(p.header, request);
    }
    if (p.url_path) {
        return matchString(p.url_path.path, request.path.split("?")[0]);
    }
    if (p.destination_port !== undefined) {
        return p.destination_port === request.port;
    }
    return unsupported("permission", p);
}

function matchPrincipal(p: Principal, request: Request): boolean {
    if (p.any !== undefined) {
        return p.any;
    }
    if (p.and_ids) {
        return p.and_ids.ids.every((i) => matchPrincipal(i, request));
    }
    if (p.or_ids) {
        return p.or_ids.ids.some((i) => matchPrincipal(i, request));
    }
    if (p.not_id) {
        return !matchPrincipal(p.not_id, request);
    }
    if (p.authenticated) {
        return p.authenticated.principal_name ? matchString(p.authenticated.principal_name, request.principal) : request.principal !== undefined;
    }
    if (p.filter_state?.key === "io.istio.peer_principal" && p.filter_state.string_match) {
        return matchString(p.filter_state.string_match, request.principal);
    }
    return unsupported("principal", p);
}

/** Whether one RBAC filter lets the request through. */
function rbacAllows(config: RbacConfig, request: Request): boolean {
    if (!config.rules) {
        return true;
    }
    const matched = Object.values(config.rules.policies ?? {}).some((policy) =>
        policy.permissions.some((p) => matchPermission(p, request)) && policy.principals.some((p) => matchPrincipal(p, request)));
    switch (config.rules.action ?? "ALLOW") {
        case "ALLOW":
            return matched;
        case "DENY":
            return !matched;
        default:
            return true;
    }
}

/** Whether a filter chain lets the request through: every RBAC filter of it must. */
function chainAllows(chain: FilterChainDump, request: Request): boolean {
    return chain.rbac.every((f) => rbacAllows(f.config, request));
}

/**
 * The verdict of a workload's inbound listener for a request: the filter chains for the request's port (mutual
 * TLS and plain text alike) must agree; fails when there is none or they disagree.
 */
export function inboundAllows(dump: XdsDump, request: Request): boolean {
    const inbound = dump.listeners.find((l) => l.trafficDirection === "INBOUND");
    const chains = inbound?.filterChains.filter((c) => c.destinationPort === request.port) ?? [];
    if (chains.length === 0) {
        throw new Error(`${dump.node} has no inbound filter chain for port ${request.port} (listeners: ${dump.listeners.map((l) => l.name).join(", ")})`);
    }
    const verdicts = new Set(chains.map((c) => chainAllows(c, request)));
    if (verdicts.size !== 1) {
        throw new Error(`${dump.node}: the filter chains for port ${request.port} disagree on ${JSON.stringify(request)}`);
    }
    return [...verdicts][0];
}

/** The verdict of a gateway's listener on a port for a request. */
export function gatewayAllows(dump: XdsDump, request: Request): boolean {
    const listener = dump.listeners.find((l) => l.port === request.port);
    if (!listener || listener.filterChains.length === 0) {
        throw new Error(`${dump.node} has no listener on port ${request.port} (listeners: ${dump.listeners.map((l) => `${l.name}`).join(", ")})`);
    }
    const verdicts = new Set(listener.filterChains.map((c) => chainAllows(c, request)));
    if (verdicts.size !== 1) {
        throw new Error(`${dump.node}: the filter chains on port ${request.port} disagree on ${JSON.stringify(request)}`);
    }
    return [...verdicts][0];
}

/** One filter chain of a workload's inbound listener: its port (unset: every other port) and transport. */
export interface InboundChain {
    name: string;
    port?: number;
    /** The transport the chain matches: `tls` (mutual TLS), `raw_buffer` (plain text), or unset (either). */
    transport?: string;
}

/** The filter chains of a workload's inbound listener (the one Envoy's captured inbound traffic reaches). */
export function inboundChains(dump: XdsDump): InboundChain[] {
    const inbound = dump.listeners.find((l) => l.trafficDirection === "INBOUND");
    if (!inbound) {
        throw new Error(`${dump.node} has no inbound listener (listeners: ${dump.listeners.map((l) => l.name).join(", ")})`);
    }
    return inbound.filterChains.map((c) => ({ name: c.name, port: c.destinationPort, transport: c.transportProtocol }));
}
