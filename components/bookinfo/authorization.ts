import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IstioValidation } from "../istio/defaultValidator";
import { DEFAULT_TRUST_DOMAIN } from "../istio/meshSettings";
import { AuthorizationPolicy, AuthorizationRule, VirtualServiceSpec } from "../istio/resources";
import { BOOKINFO_PORT, BookinfoApp } from "./app";
import { BookinfoEntry } from "./entry";

/** A Bookinfo service (and the `app` label of its pods). */
export type BookinfoService = "productpage" | "details" | "reviews" | "ratings";

/** One kind of call a Bookinfo service makes to another. */
export interface BookinfoCall {
    from: BookinfoService;
    to: BookinfoService;
    methods: string[];
    /** AuthorizationPolicy paths: exact, or a prefix ending in `*`. */
    paths: string[];
}

/**
 * The calls Bookinfo's services make to each other (the 1.20.3 sources): the product page reads a book's details
 * (`GET /details/<id>`) and reviews (`GET /reviews/<id>`); reviews v2 and v3 read its ratings (`GET /ratings/<id>`);
 * and the product page's JSON API (`/api/v1/products/<id>/ratings`, routed by the VirtualService) reads the
 * ratings itself.
 */
export const BOOKINFO_CALLS: readonly BookinfoCall[] = [
    { from: "productpage", to: "details", methods: ["GET"], paths: ["/details/*"] },
    { from: "productpage", to: "reviews", methods: ["GET"], paths: ["/reviews/*"] },
    { from: "reviews", to: "ratings", methods: ["GET"], paths: ["/ratings/*"] },
    { from: "productpage", to: "ratings", methods: ["GET"], paths: ["/ratings/*"] },
];

/** The methods the ingress gateway may use on the product page: its pages and its login form. */
export const PRODUCT_PAGE_METHODS = ["GET", "POST"] as const;

/**
 * The paths a VirtualService sends to `host`, as AuthorizationPolicy paths (`exact` as is, `prefix` with a trailing
 * `*`); undefined when a route to it matches every path. Fails on a match an AuthorizationPolicy cannot express
 * (a regular expression).
 */
export function routedPaths(spec: VirtualServiceSpec, host: string): string[] | undefined {
    const toHost = (h: string) => h === host || h.startsWith(`${host}.`);
    const paths: string[] = [];
    for (const route of spec.http ?? []) {
        if (!route.route.some((r) => toHost(r.destination.host))) {
            continue;
        }
        if (!route.match || route.match.length === 0 || route.match.some((m) => m.uri === undefined)) {
            return undefined;
        }
        for (const { uri } of route.match) {
            if (uri === undefined) {
                continue;
            }
            if ("exact" in uri) {
                paths.push(uri.exact);
            } else if ("prefix" in uri) {
                paths.push(`${uri.prefix}*`);
            } else {
                throw new Error(`the VirtualService matches ${host}'s paths with a regular expression (${uri.regex}), which an AuthorizationPolicy cannot express`);
            }
        }
    }
    return [...new Set(paths)];
}

/** A workload's principal in an AuthorizationPolicy: `<trust domain>/ns/<namespace>/sa/<service account>`. */
export function principalOf(trustDomain: string, serviceAccount: { metadata: pulumi.Output<k8s.types.output.meta.v1.ObjectMeta> }): pulumi.Output<string> {
    return serviceAccount.metadata.apply((m) => `${trustDomain}/ns/${m.namespace}/sa/${m.name}`);
}

export interface BookinfoAuthorizationArgs {
    /** The Kubernetes provider of the target cluster. */
    provider: k8s.Provider;
    /**
     * The provider the gateway's service account is read back with; defaults to `provider`. One that is never
     * replaced keeps the read valid when the cluster is replaced (see index.ts).
     */
    readProvider?: k8s.Provider;
    /** The default validation webhook (ready), which admits the policies. */
    validation: IstioValidation;
    /** Bookinfo: its namespace, its pods' `app` labels and its service accounts, the identities of its calls. */
    app: BookinfoApp;
    /**
     * Bookinfo's way in: the gateway, the only caller of the product page (by the identity of its service account),
     * and what its routes send to the product page, which is what the gateway may ask it for.
     */
    entry: BookinfoEntry;
    /** The mesh's trust domain (`meshConfig.trustDomain`). Defaults to `cluster.local`. */
    trustDomain?: string;
    /**
     * Also allow, on the ingress gateway itself, the requests it routes to Bookinfo (from anyone, on its HTTP port):
     * needed when the mesh denies by default (`MeshDefaultDeny`), which the gateway is part of. Defaults to false:
     * without a mesh-wide deny the gateway is open, as a public entry point is, and what reaches Bookinfo is still
     * only what the product page's policy allows.
     */
    allowAtGateway?: boolean;
    /**
     * Write the namespace-wide `default-deny`, which applies to every workload of the namespace. Defaults to true;
     * false where Bookinfo shares a namespace the program does not own: a namespace-wide deny would refuse every call
     * to the other workloads there. Bookinfo's own workloads deny by default either way, since each is selected by
     * an ALLOW policy here, and Istio refuses a request to a workload that no ALLOW policy applying to it admits.
     */
    namespaceDefaultDeny?: boolean;
    /**
     * Where the rules are enforced: by each workload's sidecar (default), or in ambient mode by ztunnel (L4 only:
     * callers and ports) and, with a waypoint, by the waypoint (L7: methods and paths).
     */
    enforcement?: BookinfoEnforcement;
}

/** Who enforces Bookinfo's rules. */
export type BookinfoEnforcement =
    | { dataPlane: "sidecar" }
    | {
        dataPlane: "ambient";
        /** The namespace's waypoint, through which every call into Bookinfo passes: where the L7 rules go. */
        waypoint?: { serviceAccountId: pulumi.Output<string>; readyBefore: pulumi.Resource[] };
    };

/** One call Bookinfo is allowed: who calls which service, and how (`paths` unset: any path). */
interface AllowedCall {
    to: BookinfoService;
    caller: pulumi.Output<string>;
    methods: string[];
    paths: pulumi.Output<string[] | undefined>;
}

/**
 * Least privilege for Bookinfo, by identity: the AuthorizationPolicy `default-deny` (an empty spec) makes every
 * Bookinfo workload refuse what no policy allows, and one ALLOW policy per service admits exactly the calls
 * Bookinfo makes, by the caller's mutual-TLS principal, method, path and port:
 *
 * - `productpage`: the ingress gateway, GET and POST on the paths its VirtualService routes there;
 * - `details`, `reviews`: the product page, GET; `ratings`: reviews (and the product page's JSON API), GET.
 *
 * Principals come from the service accounts the program created (Bookinfo's) and the gateway's (read back from the
 * cluster: the gateway chart names it after the release, istiod after the Gateway API `Gateway`), so a changed
 * namespace moves them along and a gateway without that account fails the update instead of locking Bookinfo out.
 *
 * Health and metrics are not affected: the sidecar injector rewrites kubelet probes to the Istio agent (port
 * 15021, and 15020 for the app's own probes), and Prometheus scrapes the agent's merged metrics on 15020; the
 * agent's ports are excluded from traffic capture, so these requests never reach Envoy's inbound listener, where
 * policies apply. (Bookinfo declares no probes.)
 *
 * In ambient mode (`enforcement`) ztunnel enforces what a policy with a `selector` says, and only at layer 4 — an
 * ALLOW rule that names methods or paths would match nothing there — so each service's policy admits its callers
 * by principal and port only. With a waypoint, every call reaches the workload from the waypoint: the service's
 * policy admits the waypoint's identity only, and a `waypoint-<service>` policy aimed at the Service
 * (`targetRefs`) holds the full rules (callers, methods, paths), which the waypoint enforces.
 *
 * The ALLOW policies are created before `default-deny` and deleted after it, so a running Bookinfo never sees
 * the deny without its exceptions.
 */
export class BookinfoAuthorization extends pulumi.ComponentResource {
    /** The policies by name (`default-deny`, `productpage`, `details`, `reviews`, `ratings`, and `bookinfo-ingress` on the gateway). */
    public readonly policies: Record<string, AuthorizationPolicy> = {};
    /** The principal of each caller: the Bookinfo services and `gateway`. */
    public readonly principals: Record<string, pulumi.Output<string>> = {};
    /** The gateway's service account, as the cluster has it. */
    public readonly gatewayServiceAccount: k8s.core.v1.ServiceAccount;
    /** What each policy allows, for people: policy name → one line per rule. */
    public readonly allowed: pulumi.Output<Record<string, string[]>>;
    /** Whether the namespace-wide `default-deny` was written (else only Bookinfo's workloads deny by default). */
    public readonly namespaceDefaultDeny: boolean;

    constructor(name: string, args: BookinfoAuthorizationArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:bookinfo:BookinfoAuthorization", name, {}, opts);
        const childOpts = { parent: this, provider: args.provider };
        const policyOpts = { ...childOpts, dependsOn: args.validation.readyBefore };
        const trustDomain = args.trustDomain ?? DEFAULT_TRUST_DOMAIN;
        const namespace = args.app.namespaceName;
        const port = String(BOOKINFO_PORT);

        this.gatewayServiceAccount = k8s.core.v1.ServiceAccount.get(`${name}-gateway-sa`, args.entry.serviceAccountId,
            { parent: this, provider: args.readProvider ?? args.provider, dependsOn: args.entry.readyBefore });
        this.principals.gateway = principalOf(trustDomain, this.gatewayServiceAccount);
        for (const [service, account] of Object.entries(args.app.serviceAccounts)) {
            this.principals[service] = principalOf(trustDomain, account);
        }
        const principal = (service: string) => {
            const p = this.principals[service];
            if (p === undefined) {
                throw new Error(`BookinfoAuthorization ${name}: Bookinfo has no service account for ${service}`);
            }
            return p;
        };

        const routed = args.entry.productPagePaths;
        const calls: AllowedCall[] = [
            { to: "productpage", caller: principal("gateway"), methods: [...PRODUCT_PAGE_METHODS], paths: routed },
            ...BOOKINFO_CALLS.map((c) => ({ to: c.to, caller: principal(c.from), methods: c.methods, paths: pulumi.output(c.paths) })),
        ];
        const enforcement = args.enforcement ?? { dataPlane: "sidecar" };
        const waypoint = enforcement.dataPlane === "ambient" ? enforcement.waypoint : undefined;
        if (waypoint) {
            const account = k8s.core.v1.ServiceAccount.get(`${name}-waypoint-sa`, waypoint.serviceAccountId, { parent: this, provider: args.readProvider ?? args.provider, dependsOn: waypoint.readyBefore });
            this.principals.waypoint = principalOf(trustDomain, account);
        }
        /** A rule admitting a call: its caller (or `from`), on Bookinfo's port, with its methods and paths unless L4 only. */
        const ruleOf = (c: AllowedCall, layer: "l4" | "l7" | "both", from = c.caller) => pulumi.all([from, c.paths]).apply(([caller, paths]): AuthorizationRule => ({
            from: [{ source: { principals: [caller] } }],
            to: [{ operation: { ...(layer === "l7" ? {} : { ports: [port] }), ...(layer === "l4" ? {} : { methods: c.methods, ...(paths ? { paths } : {}) }) } }],
        }));
        const unique = (rules: AuthorizationRule[]) => rules.filter((r, i) => rules.findIndex((x) => JSON.stringify(x) === JSON.stringify(r)) === i);
        const services: BookinfoService[] = ["productpage", "details", "reviews", "ratings"];
        const rules: Record<string, pulumi.Output<AuthorizationRule[]>> = {};
        const waypointRules: Record<string, pulumi.Output<AuthorizationRule[]>> = {};
        for (const service of services) {
            const toService = calls.filter((c) => c.to === service);
            if (enforcement.dataPlane === "sidecar") {
                rules[service] = pulumi.all(toService.map((c) => ruleOf(c, "both")));
            } else if (!waypoint) {
                rules[service] = pulumi.all(toService.map((c) => ruleOf(c, "l4"))).apply(unique);
            } else {
                rules[service] = pulumi.all([ruleOf(toService[0], "l4", principal("waypoint"))]);
                waypointRules[`waypoint-${service}`] = pulumi.all(toService.map((c) => ruleOf(c, "l7")));
            }
        }
        const allows: AuthorizationPolicy[] = [];
        for (const [service, serviceRules] of Object.entries(rules)) {
            this.policies[service] = new AuthorizationPolicy(`${name}-${service}`, {
                metadata: { name: service, namespace },
                spec: serviceRules.apply((r) => ({ selector: { matchLabels: { app: service } }, action: "ALLOW" as const, rules: r })),
            }, policyOpts);
            allows.push(this.policies[service]);
        }
        for (const [policy, policyRules] of Object.entries(waypointRules)) {
            const service = policy.replace(/^waypoint-/, "");
            this.policies[policy] = new AuthorizationPolicy(`${name}-${policy}`, {
                metadata: { name: policy, namespace },
                spec: policyRules.apply((r) => ({ targetRefs: [{ group: "" as const, kind: "Service" as const, name: service }], action: "ALLOW" as const, rules: r })),
            }, policyOpts);
            allows.push(this.policies[policy]);
        }

        const allowed: Record<string, pulumi.Output<AuthorizationRule[]>> = { ...rules, ...waypointRules };
        if (args.allowAtGateway) {
            const gatewayRules = routed.apply((paths) => [{
                to: [{ operation: { ports: [String(args.entry.gatewayPort)], methods: [...PRODUCT_PAGE_METHODS], ...(paths ? { paths } : {}) } }],
            }]);
            this.policies["bookinfo-ingress"] = new AuthorizationPolicy(`${name}-ingress`, {
                metadata: { name: "bookinfo-ingress", namespace: args.entry.gatewayNamespace },
                spec: gatewayRules.apply((r) => ({ ...args.entry.gatewayTarget, action: "ALLOW" as const, rules: r })),
            }, { ...policyOpts, dependsOn: [...args.validation.readyBefore, ...args.entry.readyBefore] });
            allows.push(this.policies["bookinfo-ingress"]);
            allowed["bookinfo-ingress"] = gatewayRules;
        }

        this.namespaceDefaultDeny = args.namespaceDefaultDeny ?? true;
        if (this.namespaceDefaultDeny) {
            this.policies["default-deny"] = new AuthorizationPolicy(`${name}-default-deny`, {
                metadata: { name: "default-deny", namespace },
                spec: {},
            }, { ...policyOpts, dependsOn: [...args.validation.readyBefore, ...allows] });
        }

        this.allowed = pulumi.all(allowed).apply((all) => Object.fromEntries(Object.entries(all).map(([policy, policyRules]) =>
            [policy, policyRules.map(describeRule)])));

        this.registerOutputs({ allowed: this.allowed });
    }
}

/** One rule for people: `<principals or anyone> → <methods> <paths> on port <ports>`. */
export function describeRule(rule: AuthorizationRule): string {
    const from = rule.from?.flatMap((f) => f.source.principals ?? []).join(", ") || "anyone";
    const operation = rule.to?.[0]?.operation;
    return `${from} → ${operation?.methods?.join(",") ?? "any method"} ${operation?.paths?.join(" ") ?? "any path"} on port ${operation?.ports?.join(",") ?? "any"}`;
}
