/**
 * Every configuration key of the program, its type, default and rule on its own, as one zod schema. Keys live in
 * the project namespace (`pks-istio-mesh:<key>`); scalar keys are also declared, with the same defaults, in
 * Pulumi.yaml (a test keeps the two in step). The rules between keys are in rules.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { OWNER_TAG } from "../programs/pksctl/contract";
import { BOSH_RESERVED_TAGS, PKS_NAME, PKS_NAME_RULE, PKS_TAG_KEY, PKS_TAG_PART } from "../programs/pksctl/names";
import { DEFAULT_ISTIO_VERSION, ISTIO_CHART_REPOSITORY, ISTIO_RELEASE } from "../components/istio/releases";
import { TELEMETRY_ADDONS, TelemetryAddonName, isLocalSource } from "../components/telemetry/manifests";

export const PROJECT = "pks-istio-mesh";

/** Raised for bad configuration; Pulumi prints its message without a stack trace. */
export class ConfigError extends pulumi.RunError {}

/** Keys whose values are credentials: they must be stored as Pulumi secrets and are never echoed. */
export const SECRET_KEYS = ["pksPassword", "pksClientSecret", "kubeconfig"] as const;

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_LABEL_RULE = "a DNS label: 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit";
const HOSTNAME = /^(?=.{1,64}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const API_URL = /^(https:\/\/)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?\/?$/;
const IMAGE_HUB = /^[a-z0-9]+([._-][a-z0-9]+)*(:\d{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;
const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/;
/** A host an Istio Gateway and VirtualService accept: a lowercase DNS name, a `*.<domain>` wildcard, or `*`. */
const INGRESS_HOST = /^(\*|(?=.{1,253}$)(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

export const show = (value: unknown) => JSON.stringify(value);

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

const object = <T extends z.ZodType>(schema: T) => z.preprocess(decodeJson, schema);

const secret = () => z.string().min(1, { error: "must not be empty" });
/** A password or client secret: pksctl keeps secrets of 4 or more characters out of every line it prints. */
const credential = () => z.string().min(4, { error: "must have at least 4 characters" });

const TELEMETRY_ADDON_NAMES = Object.keys(TELEMETRY_ADDONS) as TelemetryAddonName[];
const sha256 = z.string().regex(/^[0-9A-Fa-f]{64}$/, { error: (issue) => `${show(issue.input)} is not allowed: expected a sha256 digest, 64 hex digits` })
    .transform((v) => v.toLowerCase());

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
    const m = ISTIO_RELEASE.exec(v);
    return m !== null && Number(m[1]) === 1 && Number(m[2]) >= 24;
}, { error: (issue) => `${show(issue.input)} is not allowed: expected an Istio release 1.24.0 or later, e.g. ${DEFAULT_ISTIO_VERSION}` });

/** Where Istio's charts come from. */
const chartRepository = () => z.string().refine((v) => /^(https:\/\/|oci:\/\/)\S+$/.test(v) || isLocalSource(v), {
    error: (issue) => `${show(issue.input)} is not allowed: expected an https:// or oci:// chart repository, or a local directory (absolute, or starting with ./)`,
});

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
    pksPassword: credential().optional(),
    pksClientName: z.string().min(1).optional(),
    pksClientSecret: credential().optional(),
    pksSkipTlsValidation: boolean().default(false),
    pksCaCert: z.string().includes("-----BEGIN CERTIFICATE-----", { error: "expected the PEM text of a CA certificate" }).optional(),
    pksTimeoutMinutes: integer(1, 24 * 60).default(45),
    pksPollSeconds: integer(1, 600).default(30),
    pksAdoptExisting: boolean().default(false),
    // Network profile (optional: NSX-T only)
    networkProfileName: text(PKS_NAME, PKS_NAME_RULE).optional(),
    networkProfileDescription: z.string().default(""),
    networkProfileParameters: object(networkProfileParameters).default({ lb_size: "medium" }),
    networkProfileTilePodIpBlockId: z.string().regex(/^[^-\s]\S*$/, { error: "expected the NSX-T id of the tile's Pods IP Block" }).optional(),
    // Cluster
    clusterName: text(PKS_NAME, PKS_NAME_RULE).optional(),
    clusterExternalHostname: text(HOSTNAME, "a hostname or IPv4 address of at most 64 characters").optional(),
    clusterPlan: z.string().regex(/^\S(.*\S)?$/, { error: "expected a PKS plan name, as listed by `pks plans`" }).optional(),
    clusterNumNodes: integer(1, 1000).optional(),
    clusterPlanMaxNodes: integer(1, 1000).default(50),
    clusterTags: object(z.record(
        z.string().regex(PKS_TAG_KEY, { error: (issue) => `tag key ${show(issue.input)} is not allowed: keys must be non-empty, must not start with '-' and contain no '"', ':' or ','` })
            .refine((k) => !BOSH_RESERVED_TAGS.includes(k.toLowerCase()), {
                error: (issue) => `tag key ${show(issue.input)} is not allowed: BOSH reserves ${BOSH_RESERVED_TAGS.join(", ")} for its own metadata and TKGI ignores custom tags of these names`,
            })
            .refine((k) => k !== OWNER_TAG, { error: `tag key "${OWNER_TAG}" is not allowed: the program sets it itself (clusterOwnerTag)` }),
        z.string().regex(PKS_TAG_PART, { error: (issue) => `tag value ${show(issue.input)} is not allowed: values must be non-empty and contain no '"', ':' or ','` })
            .max(80, { error: "tag values are at most 80 characters" }),
        // A key's own problem (its rule above) is more telling than "invalid key".
        { error: (issue) => (issue.code === "invalid_key" ? issue.issues[0]?.message : "expected an object of tag names to values") },
    )).optional(),
    clusterProtect: boolean().default(false),
    clusterOwnerTag: boolean().default(true),
    clusterUpgrade: boolean().default(false),
    clusterUpgradeTimeoutMinutes: integer(1, 24 * 60).default(120),
    // Istio
    istioVersion: istioVersion().default(DEFAULT_ISTIO_VERSION),
    istioChartRepository: chartRepository().default(ISTIO_CHART_REPOSITORY),
    istioCompatibilityVersion: text(/^1\.\d{1,3}$/, "an earlier Istio minor release whose behaviour to keep, e.g. 1.30").optional(),
    imageHub: text(IMAGE_HUB, "an image registry and path without scheme or tag, e.g. harbor.example.com/istio").optional(),
    istioRevision: revisionName("leave istioRevision unset for the default revision").optional(),
    istioRevisions: object(z.array(z.strictObject({
        name: revisionName("every listed revision has a name of its own (default is the unnamed revision)"),
        version: istioVersion().optional(),
        chartRepository: chartRepository().optional(),
    }, { error: (issue) => issue.code === "unrecognized_keys" ? `unknown field(s) ${issue.keys.join(", ")}: a revision takes name, version, chartRepository` : "expected { name, version, chartRepository }" }),
    { error: "expected a list of revisions, e.g. [{\"name\": \"1-30-3\", \"version\": \"1.30.3\"}]" })
        .min(1, { error: "expected at least one revision" })).optional(),
    istioRevisionTags: object(z.record(text(DNS_LABEL, DNS_LABEL_RULE), z.string({ error: "expected a revision name" }), {
        error: "expected an object of tag names to revision names",
    })).optional(),
    istioCni: boolean().default(false),
    istioCniBinDir: text(/^\/\S*$/, "an absolute directory, e.g. /opt/cni/bin").optional(),
    istioCniConfDir: text(/^\/\S*$/, "an absolute directory, e.g. /etc/cni/net.d").optional(),
    gatewayRevision: z.string().min(1).optional(),
    meshNamespaces: object(z.record(text(DNS_LABEL, DNS_LABEL_RULE), z.string().min(1, { error: "expected a revision or tag" }), {
        error: "expected an object of namespace names to revisions or tags",
    })).optional(),
    istiodReplicas: integer(1, 10).default(1),
    istiodAutoscaleMax: integer(1, 50).default(5),
    istiodResources: object(z.strictObject({ requests: resourceList.optional(), limits: resourceList.optional() }, {
        error: "expected { requests: { cpu, memory }, limits: { cpu, memory } }",
    })).optional(),
    ingressGatewayServiceType: oneOf(["LoadBalancer", "NodePort", "ClusterIP"]).default("LoadBalancer"),
    mtlsMode: oneOf(["STRICT", "PERMISSIVE"]).default("STRICT"),
    // Ingress API and data plane (docs/ingress-and-data-plane.md)
    ingressApi: oneOf(["istio", "gateway-api"]).default("istio"),
    gatewayApiCrdsSource: z.string().refine((v) => /^https:\/\/[^\s/]+(\/\S*)?$/.test(v) || isLocalSource(v), {
        error: (issue) => `${show(issue.input)} is not allowed: expected an https:// base URL or a local directory (absolute, or starting with ./) holding the Gateway API release's config/crd/standard files`,
    }).optional(),
    dataPlane: oneOf(["sidecar", "ambient"]).default("sidecar"),
    ambientWaypoint: boolean().default(false),
    // Bookinfo
    bookinfoNamespace: text(DNS_LABEL, DNS_LABEL_RULE).default("bookinfo"),
    bookinfoCreateNamespace: boolean().default(true),
    injectionMode: oneOf(["namespace", "pod"]).default("namespace"),
    destinationRuleMtls: boolean().default(true),
    bookinfoRevision: z.string().min(1).optional(),
    bookinfoPodSecurity: oneOf(["privileged", "baseline", "restricted"]).optional(),
    bookinfoHosts: object(z.array(text(INGRESS_HOST, "a host name, a *.<domain> wildcard, or * (any host)"), {
        error: "expected a list of host names, e.g. [\"bookinfo.example.com\"]",
    }).min(1, { error: "expected at least one host" })).optional(),
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
    telemetryAddonsSource: z.string().refine((v) => /^https:\/\/[^\s/]+(\/\S*)?$/.test(v) || isLocalSource(v), {
        error: (issue) => `${show(issue.input)} is not allowed: expected an https:// base URL or a local directory (absolute, or starting with ./) holding Istio's samples/addons manifests`,
    }).optional(),
    telemetryAddonsSha256: object(z.strictObject(Object.fromEntries(TELEMETRY_ADDON_NAMES.map((addon) => [addon, sha256.optional()])) as Record<TelemetryAddonName, z.ZodOptional<typeof sha256>>, {
        error: (issue) => issue.code === "unrecognized_keys"
            ? `unknown add-on(s) ${issue.keys.join(", ")}: expected ${TELEMETRY_ADDON_NAMES.join(", ")}`
            : `expected an object of add-on names to sha256 digests, e.g. {"kiali": "<64 hex digits>"}`,
    })).optional(),
    // What the program may take over, trust and hand out
    adoptExistingObjects: boolean().default(false),
    allowInsecureKubeconfig: boolean().default(false),
    exportKubeconfig: boolean().default(false),
}, {
    error: (issue) => issue.code === "unrecognized_keys" ? `unknown key(s) ${issue.keys.join(", ")}` : undefined,
});

/** The configuration values, each valid on its own. */
export type ConfigValues = z.output<typeof configSchema>;

