/**
 * The program's configuration: every key, its type, default and rules, in one zod schema. `loadConfig` reads the
 * stack's configuration once, before any resource is registered, and either returns a typed `MeshConfig` or
 * throws one error that lists every problem, naming the key, the bad value and what is allowed.
 *
 * Keys live in the project namespace (`pks-istio-mesh:<key>`); scalar keys are also declared, with the same
 * defaults, in Pulumi.yaml (a test keeps the two in step).
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { z } from "zod";
import { NetworkProfileParameters } from "./pks/networkProfile";
import { TELEMETRY_ADDONS, telemetryAddonsOf } from "./telemetry/manifests";

export const PROJECT = "pks-istio-mesh";

/** Keys whose values are credentials: they must be stored as Pulumi secrets and are never echoed. */
const SECRET_KEYS = ["pksPassword", "pksClientSecret", "kubeconfig"] as const;

const NAME = /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/;
const NAME_RULE = "1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_LABEL_RULE = "a DNS label: 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit";
const HOSTNAME = /^(?=.{1,64}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const API_URL = /^(https:\/\/)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?\/?$/;
const SEMVER = /^(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?$/;
const IMAGE_HUB = /^[a-z0-9]+([._-][a-z0-9]+)*(:\d{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;
const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const TAG_PART = /^[^":,]+$/;

const show = (value: unknown) => JSON.stringify(value);

// Config values arrive as strings (objects as JSON text); these decode them before the rules apply.
const decodeInteger = (v: unknown) => (typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : v);
const decodeBoolean = (v: unknown) => (v === "true" ? true : v === "false" ? false : v);
const decodeJson = (v: unknown) => {
    if (typeof v !== "string") {
        return v;
    }
    try {
        return JSON.parse(v) as unknown;
    } catch {
        return v;
    }
};

const text = (pattern: RegExp, rule: string) =>
    z.string().regex(pattern, { error: (issue) => `${show(issue.input)} is not allowed: expected ${rule}` });

const integer = (min: number, max: number) => z.preprocess(decodeInteger, z.number({
    error: (issue) => `${show(issue.input)} is not an integer: expected an integer from ${min} to ${max}`,
}).int({ error: (issue) => `${show(issue.input)} is not an integer: expected an integer from ${min} to ${max}` })
    .min(min, { error: (issue) => `${show(issue.input)} is not allowed: expected an integer from ${min} to ${max}` })
    .max(max, { error: (issue) => `${show(issue.input)} is not allowed: expected an integer from ${min} to ${max}` }));

const boolean = () => z.preprocess(decodeBoolean, z.boolean({ error: (issue) => `${show(issue.input)} is not allowed: expected true or false` }));

const oneOf = <T extends string>(values: readonly [T, ...T[]]) =>
    z.enum(values, { error: (issue) => `${show(issue.input)} is not allowed: expected one of ${values.join(", ")}` });

const object = <T extends z.ZodType>(schema: T, what: string) =>
    z.preprocess(decodeJson, schema.refine(() => true, { error: `expected ${what}` }));

const secret = () => z.string().min(1, { error: "must not be empty" });

const uuidList = z.array(z.string().min(1), { error: "expected a list of NSX-T object ids" });

/** The documented fields of a PKS network profile's `parameters` (snake_case, as in PKS's JSON). */
const networkProfileParameters = z.strictObject({
    lb_size: oneOf(["small", "medium", "large"]).optional(),
    pod_ip_block_ids: uuidList.optional(),
    pod_subnet_prefix: z.number().int().min(1).max(32).optional(),
    pod_routable: z.boolean().optional(),
    fip_pool_ids: uuidList.optional(),
    t0_router_id: z.string().min(1).optional(),
    master_vms_nsgroup_id: z.string().min(1).optional(),
    node_ip_block_ids: uuidList.optional(),
    node_routable: z.boolean().optional(),
    node_subnet_prefix: z.number().int().min(1).max(32).optional(),
    nodes_dns: z.array(text(IPV4, "an IPv4 address"))
        .max(3, { error: (issue) => `has ${(issue.input as unknown[]).length} entries: PKS accepts at most 3 DNS servers` }).optional(),
    dns_lookup_mode: oneOf(["API", "API_INGRESS"]).optional(),
    ingress_prefix: z.string().min(1).optional(),
    single_tier_topology: z.boolean().optional(),
    infrastructure_networks: z.array(z.string().min(1)).optional(),
    failover_mode: oneOf(["PREEMPTIVE", "NON_PREEMPTIVE"]).optional(),
    cni_configurations: z.strictObject({ type: z.literal("nsxt"), parameters: z.record(z.string(), z.unknown()) }).optional(),
}, { error: (issue) => issue.code === "unrecognized_keys"
    ? `unknown field(s) ${issue.keys.join(", ")}: PKS network profiles take lb_size, pod_ip_block_ids, pod_subnet_prefix, pod_routable, fip_pool_ids, t0_router_id, master_vms_nsgroup_id, node_ip_block_ids, node_routable, node_subnet_prefix, nodes_dns, dns_lookup_mode, ingress_prefix, single_tier_topology, infrastructure_networks, failover_mode, cni_configurations`
    : "expected an object of PKS network profile parameters" });

/** An Istio release with the Helm value layout this program writes (1.24 and later). */
const istioVersion = () => z.string().refine((v) => {
    const m = SEMVER.exec(v);
    return m !== null && Number(m[1]) === 1 && Number(m[2]) >= 24;
}, { error: (issue) => `${show(issue.input)} is not allowed: expected an Istio release 1.24.0 or later, e.g. 1.30.3` });

/** Where Istio's charts come from. */
const chartRepository = () => z.string().refine((v) => /^(https:\/\/|oci:\/\/)\S+$/.test(v) || LOCAL_PATH.test(v), {
    error: (issue) => `${show(issue.input)} is not allowed: expected an https:// or oci:// chart repository, or a local directory (absolute, or starting with ./)`,
});
const LOCAL_PATH = /^(\/|\.\.?\/)/;

/** A control-plane revision's name: a DNS label, and not `default` (the unnamed revision). */
const revisionName = (why: string) => text(DNS_LABEL, DNS_LABEL_RULE).refine((v) => v !== "default", { error: `"default" is not allowed: ${why}` });

/** The requests the istiod chart (1.24 and later) sets when none are given. */
export const ISTIOD_DEFAULT_REQUESTS = { cpu: "500m", memory: "2048Mi" } as const;

const resourceList = z.strictObject({
    cpu: text(QUANTITY, "a Kubernetes CPU quantity such as 500m").optional(),
    memory: text(QUANTITY, "a Kubernetes memory quantity such as 2Gi").optional(),
});

/** Every configuration key of the program, with its rules and defaults. */
export const configSchema = z.strictObject({
    // Where the mesh goes
    clusterSource: oneOf(["pks", "existing"]).default("pks"),
    kubeconfig: secret().optional(),
    // PKS API and CLI
    pksCli: z.string().refine((v) => v === "pks" || v === "tkgi" || v.includes("/"), {
        error: (issue) => `${show(issue.input)} is not allowed: expected pks, tkgi, or a path to one of them`,
    }).default("pks"),
    pksApiUrl: text(API_URL, "the PKS API host or https URL, e.g. api.pks.example.com").optional(),
    pksUsername: z.string().min(1).optional(),
    pksPassword: secret().optional(),
    pksClientName: z.string().min(1).optional(),
    pksClientSecret: secret().optional(),
    pksSkipTlsValidation: boolean().default(false),
    pksCaCert: z.string().includes("-----BEGIN CERTIFICATE-----", { error: "expected the PEM text of a CA certificate" }).optional(),
    pksTimeoutMinutes: integer(1, 24 * 60).default(45),
    pksPollSeconds: integer(1, 600).default(30),
    // Network profile (optional: NSX-T only)
    networkProfileName: text(NAME, NAME_RULE).optional(),
    networkProfileDescription: z.string().default(""),
    networkProfileParameters: object(networkProfileParameters, "an object of PKS network profile parameters").default({ lb_size: "medium" }),
    // Cluster
    clusterName: text(NAME, NAME_RULE).optional(),
    clusterExternalHostname: text(HOSTNAME, "a hostname or IPv4 address of at most 64 characters").optional(),
    clusterPlan: z.string().regex(/^\S(.*\S)?$/, { error: "expected a PKS plan name, as listed by `pks plans`" }).optional(),
    clusterNumNodes: integer(1, 1000).optional(),
    clusterPlanMaxNodes: integer(1, 1000).default(50),
    clusterTags: object(z.record(
        z.string().regex(TAG_PART, { error: (issue) => `tag key ${show(issue.input)} is not allowed: keys must be non-empty and contain no '"', ':' or ','` }),
        z.string().regex(TAG_PART, { error: (issue) => `tag value ${show(issue.input)} is not allowed: values must be non-empty and contain no '"', ':' or ','` })
            .max(80, { error: "tag values are at most 80 characters" }),
        { error: "expected an object of tag names to values" },
    ), "an object of tag names to values").optional(),
    clusterProtect: boolean().default(false),
    // Istio
    istioVersion: istioVersion().default("1.30.3"),
    istioChartRepository: chartRepository().default("https://istio-release.storage.googleapis.com/charts"),
    imageHub: text(IMAGE_HUB, "an image registry and path without scheme or tag, e.g. harbor.example.com/istio").optional(),
    istioRevision: revisionName("leave istioRevision unset for the default revision").optional(),
    istioRevisions: object(z.array(z.strictObject({
        name: revisionName("every listed revision has a name of its own (default is the unnamed revision)"),
        version: istioVersion().optional(),
        chartRepository: chartRepository().optional(),
    }, { error: (issue) => issue.code === "unrecognized_keys" ? `unknown field(s) ${issue.keys.join(", ")}: a revision takes name, version, chartRepository` : "expected { name, version, chartRepository }" }),
    { error: "expected a list of revisions, e.g. [{\"name\": \"1-30-3\", \"version\": \"1.30.3\"}]" })
        .min(1, { error: "expected at least one revision" }), "a list of control-plane revisions").optional(),
    istioRevisionTags: object(z.record(text(DNS_LABEL, DNS_LABEL_RULE), z.string({ error: "expected a revision name" }), {
        error: "expected an object of tag names to revision names",
    }), "an object of tag names to revision names").optional(),
    istioCni: boolean().default(false),
    istioCniBinDir: text(/^\/\S*$/, "an absolute directory, e.g. /opt/cni/bin").optional(),
    istioCniConfDir: text(/^\/\S*$/, "an absolute directory, e.g. /etc/cni/net.d").optional(),
    gatewayRevision: z.string().min(1).optional(),
    meshNamespaces: object(z.record(text(DNS_LABEL, DNS_LABEL_RULE), z.string().min(1, { error: "expected a revision or tag" }), {
        error: "expected an object of namespace names to revisions or tags",
    }), "an object of namespace names to revisions or tags").optional(),
    istiodReplicas: integer(1, 10).default(1),
    istiodAutoscaleMax: integer(1, 50).default(5),
    istiodResources: object(z.strictObject({ requests: resourceList.optional(), limits: resourceList.optional() }, {
        error: "expected { requests: { cpu, memory }, limits: { cpu, memory } }",
    }), "Kubernetes resource requests/limits").optional(),
    ingressGatewayServiceType: oneOf(["LoadBalancer", "NodePort", "ClusterIP"]).default("LoadBalancer"),
    mtlsMode: oneOf(["STRICT", "PERMISSIVE"]).default("STRICT"),
    // Bookinfo
    bookinfoNamespace: text(DNS_LABEL, DNS_LABEL_RULE).default("bookinfo"),
    bookinfoCreateNamespace: boolean().default(true),
    injectionMode: oneOf(["namespace", "pod"]).default("namespace"),
    destinationRuleMtls: boolean().default(true),
    bookinfoRevision: z.string().min(1).optional(),
    bookinfoPodSecurity: oneOf(["privileged", "baseline", "restricted"]).optional(),
    // Verification
    verifyProductPage: boolean().default(true),
    verifyTimeoutSeconds: integer(10, 3600).default(600),
    // Authorization (least privilege by identity) and telemetry add-ons
    bookinfoAuthorization: boolean().default(true),
    meshDefaultDeny: boolean().default(false),
    trustDomain: text(/^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/,
        "a trust domain: lowercase letters, digits, '-' and '.', e.g. cluster.local or mesh.example.com").default("cluster.local"),
    telemetryPrometheus: boolean().default(false),
    telemetryGrafana: boolean().default(false),
    telemetryKiali: boolean().default(false),
    telemetryTracing: oneOf(["none", "jaeger"]).default("none"),
    telemetryTracingSampling: z.preprocess((v) => (typeof v === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v), z.number({
        error: (issue) => `${show(issue.input)} is not a number: expected a percentage from 0 to 100, e.g. 1 or 0.5`,
    }).min(0, { error: (issue) => `${show(issue.input)} is not allowed: expected a percentage from 0 to 100, e.g. 1 or 0.5` })
        .max(100, { error: (issue) => `${show(issue.input)} is not allowed: expected a percentage from 0 to 100, e.g. 1 or 0.5` })).optional(),
    telemetryAccessLogging: boolean().default(false),
    telemetryAddonsSource: z.string().refine((v) => /^https:\/\/[^\s/]+(\/\S*)?$/.test(v) || /^(\/|\.\.?\/)/.test(v), {
        error: (issue) => `${show(issue.input)} is not allowed: expected an https:// base URL or a local directory (absolute, or starting with ./) holding Istio's samples/addons manifests`,
    }).optional(),
}, {
    error: (issue) => issue.code === "unrecognized_keys" ? `unknown key(s) ${issue.keys.join(", ")}` : undefined,
});

type ConfigValues = z.output<typeof configSchema>;

/** Login and behaviour of the PKS CLI. */
export interface PksConnectionConfig {
    cli: string;
    apiUrl: string;
    username?: string;
    password?: pulumi.Output<string>;
    clientName?: string;
    clientSecret?: pulumi.Output<string>;
    skipTlsValidation: boolean;
    caCert?: string;
}

export interface PksClusterConfig {
    source: "pks";
    connection: PksConnectionConfig;
    timeoutMinutes: number;
    pollSeconds: number;
    networkProfile?: { name: string; description: string; parameters: NetworkProfileParameters };
    cluster: {
        name: string;
        externalHostname: string;
        plan: string;
        numNodes?: number;
        tags?: Record<string, string>;
        protect: boolean;
    };
}

export interface ExistingClusterConfig {
    source: "existing";
    kubeconfig: pulumi.Output<string>;
    /** The API server URL of the kubeconfig's current context: a stable identity for the cluster. */
    server: string;
    /** Where the kubeconfig came from, for messages. */
    origin: string;
}

export interface MeshConfig {
    cluster: PksClusterConfig | ExistingClusterConfig;
    istio: {
        /** The newest release among the control planes: the base chart's (CRDs) and the CNI agent's. */
        version: string;
        /** Where that release's charts come from. */
        chartRepository: string;
        imageHub?: string;
        /** The control planes, oldest listed first; a single unnamed one is the default revision. */
        revisions: ControlPlaneRevisionConfig[];
        /** Revision tags: tag → revision name. */
        tags: Record<string, string>;
        /** The revision behind the default validation webhook (and the `default` tag); unset: the unnamed one. */
        defaultRevision?: string;
        /** The revision or tag the ingress gateway selects; unset: the default revision. */
        gatewayRevision?: string;
        /** Install the Istio CNI node agent, so injected pods need no privileged init container. */
        cni: boolean;
        /** The kubelets' CNI directories, when not the chart's. */
        cniBinDir?: string;
        cniConfDir?: string;
        istiodReplicas: number;
        istiodAutoscaleMax: number;
        istiodResources?: { requests?: { cpu?: string; memory?: string }; limits?: { cpu?: string; memory?: string } };
        gatewayServiceType: "LoadBalancer" | "NodePort" | "ClusterIP";
        mtlsMode: "STRICT" | "PERMISSIVE";
    };
    bookinfo: {
        namespace: string;
        createNamespace: boolean;
        injectionMode: "namespace" | "pod";
        destinationRuleMtls: boolean;
        /** The revision or tag Bookinfo selects; unset: the default revision. */
        revision?: string;
        /** Pod Security Admission level enforced on Bookinfo's namespace. */
        podSecurity?: "privileged" | "baseline" | "restricted";
    };
    /** Namespaces the program labels for injection: namespace → revision or tag. */
    meshNamespaces: Record<string, string>;
    verify: { enabled: boolean; timeoutSeconds: number };
    /** Who may call whom (AuthorizationPolicies). */
    authorization: {
        /** Default-deny for Bookinfo's namespace plus ALLOW policies for exactly the calls Bookinfo makes. */
        bookinfo: boolean;
        /** An allow-nothing policy in the root namespace: every workload of the mesh denies what no policy allows. */
        meshDefaultDeny: boolean;
        /** The mesh's trust domain, the first part of every principal. */
        trustDomain: string;
    };
    /** Opt-in telemetry add-ons and Istio's Telemetry API settings. */
    telemetry: {
        prometheus: boolean;
        grafana: boolean;
        kiali: boolean;
        tracing: "none" | "jaeger";
        /** Percentage of requests traced (0-100); set only with a tracing backend. */
        tracingSampling?: number;
        accessLogging: boolean;
        /** Where the add-on manifests come from; unset: Istio's published samples for the Istio release. */
        addonsSource?: string;
    };
}

/** One control plane (istiod release). */
export interface ControlPlaneRevisionConfig {
    /** The revision's name; unset for the default revision (release `istiod`). */
    name?: string;
    /** Its Istio release. */
    version: string;
    /** Where its charts come from. */
    chartRepository: string;
}

/** Raised for bad configuration; Pulumi prints its message without a stack trace. */
export class ConfigError extends pulumi.RunError {}

interface Problem {
    key: string;
    message: string;
}

const PKS_ONLY_KEYS: ReadonlyArray<keyof ConfigValues> = [
    "pksApiUrl", "pksUsername", "pksPassword", "pksClientName", "pksClientSecret", "pksCaCert", "networkProfileName",
    "clusterName", "clusterExternalHostname", "clusterPlan", "clusterNumNodes", "clusterTags",
];

/** The edit distance between two keys, to suggest the intended key for a misspelt one. */
function distance(a: string, b: string): number {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        let prev = row[0];
        row[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const cur = row[j];
            row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
            prev = cur;
        }
    }
    return row[b.length];
}

function suggest(key: string): string {
    const known = Object.keys(configSchema.shape);
    const best = known.map((k) => ({ k, d: distance(key, k) })).sort((x, y) => x.d - y.d)[0];
    return best && best.d <= 3 ? `; did you mean ${best.k}?` : "";
}

/** Reads and checks the kubeconfig of an existing cluster; returns its current context's API server URL. */
function kubeconfigServer(kubeconfig: string, origin: string): string {
    let doc: unknown;
    try {
        doc = YAML.parse(kubeconfig);
    } catch (e) {
        throw new Error(`${origin} is not valid YAML: ${(e as Error).message.split("\n")[0]}`);
    }
    const config = doc as { "current-context"?: string; contexts?: Array<{ name: string; context?: { cluster?: string } }>; clusters?: Array<{ name: string; cluster?: { server?: string } }> } | null;
    const contextName = config?.["current-context"];
    const context = config?.contexts?.find((c) => c.name === contextName);
    const cluster = config?.clusters?.find((c) => c.name === context?.context?.cluster);
    const server = cluster?.cluster?.server;
    if (!contextName || !server) {
        throw new Error(`${origin} has no current-context with a cluster server URL`);
    }
    return server;
}

/**
 * istiod's resources as the chart renders them: the chart deep-merges the given requests and limits over its own
 * requests (ISTIOD_DEFAULT_REQUESTS), so a limit alone can end up below the chart's request, which the API server
 * rejects. Each limit is checked against the request it will meet.
 */
function resourceProblems(resources: ConfigValues["istiodResources"]): Problem[] {
    const problems: Problem[] = [];
    for (const resource of ["cpu", "memory"] as const) {
        const limit = resources?.limits?.[resource];
        const given = resources?.requests?.[resource];
        const request = given ?? ISTIOD_DEFAULT_REQUESTS[resource];
        if (limit !== undefined && quantity(limit) < quantity(request)) {
            problems.push({
                key: "istiodResources",
                message: given !== undefined
                    ? `limits.${resource} ${limit} is below requests.${resource} ${request}: a limit must be at least its request`
                    : `limits.${resource} ${limit} is below the istiod chart's default request of ${request}, which applies when requests.${resource} is unset: set requests.${resource} to at most ${limit} as well`,
            });
        }
    }
    return problems;
}

/** A Kubernetes quantity (as QUANTITY accepts it) in base units, for comparisons. */
export function quantity(text: string): number {
    const m = /^([0-9]+(?:\.[0-9]+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(text);
    if (!m) {
        throw new Error(`not a quantity: ${text}`);
    }
    const factors: Record<string, number> = { "": 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
    return Number(m[1]) * factors[m[2] ?? ""];
}

/** Rules of the control-plane revisions and tags, the namespaces that select them, CNI and Pod Security. */
function revisionProblems(v: ConfigValues): Problem[] {
    const problems: Problem[] = [];
    const listed = v.istioRevisions?.map((r) => r.name) ?? (v.istioRevision ? [v.istioRevision] : []);
    if (v.istioRevision !== undefined && v.istioRevisions !== undefined) {
        problems.push({ key: "istioRevisions", message: "cannot be combined with istioRevision: list every control plane in istioRevisions" });
    }
    const duplicates = listed.filter((name, i) => listed.indexOf(name) !== i);
    if (duplicates.length > 0) {
        problems.push({ key: "istioRevisions", message: `lists ${[...new Set(duplicates)].join(", ")} more than once: revision names must be unique` });
    }
    const tags = v.istioRevisionTags ?? {};
    for (const [tag, target] of Object.entries(tags)) {
        if (listed.length === 0) {
            problems.push({ key: "istioRevisionTags", message: `tag ${tag}: tags point at named revisions; set istioRevision or istioRevisions` });
        } else if (!listed.includes(target)) {
            problems.push({ key: "istioRevisionTags", message: `tag ${tag} points at ${show(target)}, which is not a revision (revisions: ${listed.join(", ")}); remove the tag or move it before removing a revision` });
        }
        if (listed.includes(tag)) {
            problems.push({ key: "istioRevisionTags", message: `tag ${tag} has the name of a revision: a namespace's istio.io/rev label could not tell them apart` });
        }
    }
    const selectable = [...listed, ...Object.keys(tags)];
    const selects = (key: string, value: string | undefined) => {
        if (value !== undefined && !selectable.includes(value)) {
            problems.push({ key, message: `${show(value)} is not a revision or revision tag (${selectable.length > 0 ? `have: ${selectable.join(", ")}` : "no revision is named: set istioRevision or istioRevisions"})` });
        }
    };
    if ((v.istioRevisions?.length ?? 0) > 1 && v.bookinfoRevision === undefined) {
        problems.push({ key: "bookinfoRevision", message: `is required with several revisions: the revision or tag Bookinfo's namespace selects (have: ${selectable.join(", ")})` });
    }
    selects("bookinfoRevision", v.bookinfoRevision);
    selects("gatewayRevision", v.gatewayRevision);
    for (const [namespace, selector] of Object.entries(v.meshNamespaces ?? {})) {
        selects(`meshNamespaces.${namespace}`, selector);
        if (["istio-system", "istio-ingress", "kube-system", v.bookinfoNamespace].includes(namespace)) {
            problems.push({ key: "meshNamespaces", message: `${show(namespace)} is not allowed: list only namespaces of your own workloads (not istio-system, istio-ingress, kube-system or Bookinfo's)` });
        }
    }
    for (const key of ["istioCniBinDir", "istioCniConfDir"] as const) {
        if (v[key] !== undefined && !v.istioCni) {
            problems.push({ key, message: "is only used when istioCni is true" });
        }
    }
    if (v.bookinfoPodSecurity === "restricted") {
        problems.push({ key: "bookinfoPodSecurity", message: "\"restricted\" is not supported: Bookinfo's sample containers declare no non-root user, seccomp profile or dropped capabilities, which restricted requires; use baseline" });
    } else if (v.bookinfoPodSecurity === "baseline" && !v.istioCni) {
        problems.push({ key: "bookinfoPodSecurity", message: "\"baseline\" needs istioCni: true: baseline forbids the NET_ADMIN and NET_RAW capabilities of the injected istio-init container, and the CNI node agent takes over its work" });
    }
    return problems;
}

/** Cross-key rules, checked once every key is valid on its own. */
function crossChecks(v: ConfigValues, env: NodeJS.ProcessEnv): Problem[] {
    const problems: Problem[] = [];
    const need = (key: keyof ConfigValues, why: string) => {
        if (v[key] === undefined) {
            problems.push({ key, message: `is required ${why}` });
        }
    };
    if (v.clusterSource === "pks") {
        const why = "when clusterSource is pks";
        need("pksApiUrl", why);
        need("clusterName", why);
        need("clusterExternalHostname", why);
        need("clusterPlan", why);
        if (v.kubeconfig !== undefined) {
            problems.push({ key: "kubeconfig", message: "is only used when clusterSource is existing" });
        }
        const userLogin = v.pksUsername !== undefined || v.pksPassword !== undefined;
        const clientLogin = v.pksClientName !== undefined || v.pksClientSecret !== undefined;
        if (userLogin && clientLogin) {
            problems.push({ key: "pksClientName", message: "cannot be combined with pksUsername/pksPassword: log in either as a user or as a client" });
        } else if (clientLogin) {
            need("pksClientName", "with pksClientSecret");
            need("pksClientSecret", "with pksClientName (set it with `pulumi config set --secret pksClientSecret`)");
        } else {
            need("pksUsername", "to log in to PKS (or use pksClientName/pksClientSecret)");
            need("pksPassword", "to log in to PKS (set it with `pulumi config set --secret pksPassword`)");
        }
        if (v.pksSkipTlsValidation && v.pksCaCert !== undefined) {
            problems.push({ key: "pksSkipTlsValidation", message: "cannot be true when pksCaCert is set: choose one" });
        } else if (!v.pksSkipTlsValidation && v.pksCaCert === undefined) {
            problems.push({ key: "pksCaCert", message: "is required to verify the PKS API certificate (PEM text), unless pksSkipTlsValidation is true" });
        }
        if (v.clusterNumNodes !== undefined && v.clusterNumNodes > v.clusterPlanMaxNodes) {
            problems.push({ key: "clusterNumNodes", message: `${v.clusterNumNodes} is not allowed: the plan allows 1 to ${v.clusterPlanMaxNodes} worker nodes (clusterPlanMaxNodes)` });
        }
    } else {
        for (const key of PKS_ONLY_KEYS) {
            if (v[key] !== undefined) {
                problems.push({ key, message: "is only used when clusterSource is pks; remove it, or set clusterSource: pks" });
            }
        }
        if (v.kubeconfig === undefined && !env.KUBECONFIG) {
            problems.push({ key: "kubeconfig", message: "is required when clusterSource is existing (or set the KUBECONFIG environment variable)" });
        } else if (v.kubeconfig === undefined && env.KUBECONFIG!.includes(path.delimiter)) {
            problems.push({ key: "kubeconfig", message: "is required: the KUBECONFIG environment variable lists several files" });
        }
    }
    if (v.istiodAutoscaleMax < v.istiodReplicas) {
        problems.push({ key: "istiodAutoscaleMax", message: `${v.istiodAutoscaleMax} is not allowed: it must be at least istiodReplicas (${v.istiodReplicas}), the autoscaler's minimum` });
    }
    problems.push(...resourceProblems(v.istiodResources));
    problems.push(...revisionProblems(v));
    if (v.verifyProductPage && v.ingressGatewayServiceType !== "LoadBalancer") {
        problems.push({ key: "verifyProductPage", message: `needs a LoadBalancer gateway (ingressGatewayServiceType is ${v.ingressGatewayServiceType}): set verifyProductPage to false` });
    }
    if (["istio-system", "istio-ingress", "kube-system"].includes(v.bookinfoNamespace)) {
        problems.push({ key: "bookinfoNamespace", message: `${show(v.bookinfoNamespace)} is not allowed: Bookinfo needs a namespace of its own (not istio-system, istio-ingress or kube-system)` });
    }
    const repositories = [{ key: "istioChartRepository", where: "", repo: v.istioChartRepository }];
    (v.istioRevisions ?? []).forEach((r, i) => r.chartRepository && repositories.push({ key: "istioRevisions", where: ` (at ${i}.chartRepository)`, repo: r.chartRepository }));
    for (const { key, where, repo } of repositories.filter((r) => LOCAL_PATH.test(r.repo))) {
        const missing = ["base", "istiod", "gateway", ...(v.istioCni ? ["cni"] : [])].filter((chart) => !fs.existsSync(path.resolve(repo, chart, "Chart.yaml")));
        if (missing.length > 0) {
            problems.push({ key, message: `${show(repo)} is not allowed: the local chart directory has no ${missing.map((c) => `${c}/Chart.yaml`).join(", ")}${where}` });
        }
    }
    problems.push(...authorizationAndTelemetryProblems(v));
    return problems;
}

/** The rules between the authorization and telemetry keys (and the add-ons' local manifests). */
function authorizationAndTelemetryProblems(v: ConfigValues): Problem[] {
    const problems: Problem[] = [];
    if (v.meshDefaultDeny && !v.bookinfoAuthorization) {
        problems.push({ key: "meshDefaultDeny", message: "needs bookinfoAuthorization: a mesh-wide deny without Bookinfo's ALLOW policies denies every call to Bookinfo, the ingress gateway's included" });
    }
    for (const [key, what] of [["telemetryGrafana", "Istio's Grafana dashboards query"], ["telemetryKiali", "Kiali draws its service graph from"]] as const) {
        if (v[key] && !v.telemetryPrometheus) {
            problems.push({ key, message: `needs telemetryPrometheus: ${what} the mesh's metrics in Prometheus; set telemetryPrometheus to true` });
        }
    }
    if (v.telemetryTracingSampling !== undefined && v.telemetryTracing === "none") {
        problems.push({ key: "telemetryTracingSampling", message: "needs a tracing backend: set telemetryTracing to jaeger, or remove telemetryTracingSampling" });
    }
    const addons = telemetryAddonsOf({ prometheus: v.telemetryPrometheus, grafana: v.telemetryGrafana, kiali: v.telemetryKiali, tracing: v.telemetryTracing });
    const source = v.telemetryAddonsSource;
    if (source !== undefined && addons.length === 0) {
        problems.push({ key: "telemetryAddonsSource", message: "is only used with an add-on: set telemetryPrometheus, telemetryGrafana, telemetryKiali or telemetryTracing, or remove it" });
    } else if (source !== undefined && LOCAL_PATH.test(source)) {
        const missing = addons.map((a) => TELEMETRY_ADDONS[a].file).filter((file) => !fs.existsSync(path.resolve(source, file)));
        if (missing.length > 0) {
            problems.push({ key: "telemetryAddonsSource", message: `${show(source)} is not allowed: the local add-on directory has no ${missing.join(", ")} (copy them from Istio's samples/addons)` });
        }
    }
    return problems;
}

/** Loads the stack's configuration; throws a `ConfigError` listing every problem. */
export function loadConfig(
    raw: Record<string, string> = pulumi.runtime.allConfig(),
    isSecret: (key: string) => boolean = configIsSecret,
    env: NodeJS.ProcessEnv = process.env,
): MeshConfig {
    const prefix = `${PROJECT}:`;
    const values: Record<string, string> = {};
    for (const [key, value] of Object.entries(raw)) {
        if (key.startsWith(prefix)) {
            values[key.slice(prefix.length)] = value;
        }
    }
    const problems: Problem[] = [];
    const result = configSchema.safeParse(values);
    if (!result.success) {
        for (const issue of result.error.issues) {
            if (issue.code === "unrecognized_keys" && issue.path.length === 0) {
                problems.push(...issue.keys.map((k) => ({ key: k, message: `is not a configuration key of this program${suggest(k)}` })));
            } else {
                const [key, ...rest] = issue.path.map(String);
                const secretKey = (SECRET_KEYS as readonly string[]).includes(key);
                const where = rest.length > 0 ? ` (at ${rest.join(".")})` : "";
                problems.push({ key, message: `${secretKey ? issue.message.replace(/"[^"]*"/g, "[secret]") : issue.message}${where}` });
            }
        }
    }
    for (const key of SECRET_KEYS) {
        if (values[key] !== undefined && !isSecret(`${prefix}${key}`)) {
            problems.push({ key, message: `must be a secret: run \`pulumi config set --secret ${key}\` (the plain-text value was not used)` });
        }
    }
    if (result.success) {
        problems.push(...crossChecks(result.data, env));
    }
    let existing: ExistingClusterConfig | undefined;
    if (problems.length === 0 && result.success && result.data.clusterSource === "existing") {
        const fromConfig = result.data.kubeconfig;
        const origin = fromConfig !== undefined ? `${PROJECT}:kubeconfig` : `the file in KUBECONFIG (${env.KUBECONFIG})`;
        try {
            const text = fromConfig ?? fs.readFileSync(env.KUBECONFIG!, "utf8");
            existing = { source: "existing", kubeconfig: pulumi.secret(text), server: kubeconfigServer(text, origin), origin };
        } catch (e) {
            problems.push({ key: "kubeconfig", message: (e as Error).message });
        }
    }
    if (problems.length > 0 || !result.success) {
        const lines = problems.map((p) => `  - ${prefix}${p.key}: ${p.message}`);
        throw new ConfigError(`invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${lines.join("\n")}`);
    }
    const v = result.data;
    const revisions = revisionsOf(v);
    const bookinfoRevision = v.bookinfoRevision ?? (revisions.length === 1 ? revisions[0].name : undefined);
    const resolve = (selector: string | undefined) => (selector === undefined ? undefined : v.istioRevisionTags?.[selector] ?? selector);
    return {
        cluster: existing ?? pksClusterConfig(v),
        istio: {
            ...newest(revisions),
            imageHub: v.imageHub,
            revisions,
            tags: v.istioRevisionTags ?? {},
            defaultRevision: v.istioRevisionTags?.default ?? resolve(bookinfoRevision),
            gatewayRevision: v.gatewayRevision ?? bookinfoRevision,
            cni: v.istioCni,
            cniBinDir: v.istioCniBinDir,
            cniConfDir: v.istioCniConfDir,
            istiodReplicas: v.istiodReplicas,
            istiodAutoscaleMax: v.istiodAutoscaleMax,
            istiodResources: v.istiodResources,
            gatewayServiceType: v.ingressGatewayServiceType,
            mtlsMode: v.mtlsMode,
        },
        bookinfo: {
            namespace: v.bookinfoNamespace,
            createNamespace: v.bookinfoCreateNamespace,
            injectionMode: v.injectionMode,
            destinationRuleMtls: v.destinationRuleMtls,
            revision: bookinfoRevision,
            podSecurity: v.bookinfoPodSecurity,
        },
        meshNamespaces: v.meshNamespaces ?? {},
        verify: { enabled: v.verifyProductPage, timeoutSeconds: v.verifyTimeoutSeconds },
        authorization: { bookinfo: v.bookinfoAuthorization, meshDefaultDeny: v.meshDefaultDeny, trustDomain: v.trustDomain },
        telemetry: {
            prometheus: v.telemetryPrometheus,
            grafana: v.telemetryGrafana,
            kiali: v.telemetryKiali,
            tracing: v.telemetryTracing,
            tracingSampling: v.telemetryTracingSampling,
            accessLogging: v.telemetryAccessLogging,
            addonsSource: v.telemetryAddonsSource,
        },
    };
}

/** The control planes the configuration asks for: `istioRevisions`, or the one of istioVersion/istioRevision. */
function revisionsOf(v: ConfigValues): ControlPlaneRevisionConfig[] {
    if (v.istioRevisions === undefined) {
        return [{ name: v.istioRevision, version: v.istioVersion, chartRepository: v.istioChartRepository }];
    }
    return v.istioRevisions.map((r) => ({ name: r.name, version: r.version ?? v.istioVersion, chartRepository: r.chartRepository ?? v.istioChartRepository }));
}

/** Orders two Istio releases (1.30.3 < 1.31.0-alpha.1 < 1.31.0). */
export function compareVersions(a: string, b: string): number {
    const [ma, mb] = [SEMVER.exec(a)!, SEMVER.exec(b)!];
    for (let i = 1; i <= 3; i++) {
        if (Number(ma[i]) !== Number(mb[i])) {
            return Number(ma[i]) - Number(mb[i]);
        }
    }
    return ma[4] === mb[4] ? 0 : ma[4] === undefined ? 1 : mb[4] === undefined ? -1 : ma[4] < mb[4] ? -1 : 1;
}

/** The newest release among the revisions, with its chart source (for the CRDs and the CNI agent). */
function newest(revisions: ControlPlaneRevisionConfig[]): { version: string; chartRepository: string } {
    const top = [...revisions].sort((a, b) => compareVersions(b.version, a.version))[0];
    return { version: top.version, chartRepository: top.chartRepository };
}

function pksClusterConfig(v: ConfigValues): PksClusterConfig {
    return {
        source: "pks",
        connection: {
            cli: v.pksCli,
            apiUrl: v.pksApiUrl!,
            username: v.pksUsername,
            password: v.pksPassword === undefined ? undefined : pulumi.secret(v.pksPassword),
            clientName: v.pksClientName,
            clientSecret: v.pksClientSecret === undefined ? undefined : pulumi.secret(v.pksClientSecret),
            skipTlsValidation: v.pksSkipTlsValidation,
            caCert: v.pksCaCert,
        },
        timeoutMinutes: v.pksTimeoutMinutes,
        pollSeconds: v.pksPollSeconds,
        networkProfile: v.networkProfileName === undefined ? undefined : {
            name: v.networkProfileName,
            description: v.networkProfileDescription,
            parameters: v.networkProfileParameters,
        },
        cluster: {
            name: v.clusterName!,
            externalHostname: v.clusterExternalHostname!,
            plan: v.clusterPlan!,
            numNodes: v.clusterNumNodes,
            tags: v.clusterTags,
            protect: v.clusterProtect,
        },
    };
}

/**
 * Whether the engine passed `key` as a secret. The Node SDK records the secret keys the engine sends
 * (PULUMI_CONFIG_SECRET_KEYS) but exposes the check only internally; this reads that same record.
 */
function configIsSecret(key: string): boolean {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: (k: string) => boolean };
    if (typeof runtimeConfig.isConfigSecret !== "function") {
        throw new Error("this @pulumi/pulumi version does not expose isConfigSecret; pin @pulumi/pulumi as package.json does");
    }
    return runtimeConfig.isConfigSecret(key);
}
