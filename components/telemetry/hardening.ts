/**
 * What the program changes in Istio's add-on manifests once they are verified (verification.ts), before applying
 * them, and what it adds beside them. Istio ships the add-ons as demos: Grafana with anonymous admin access,
 * Kiali anonymous and able to change every Istio object, Prometheus with its lifecycle endpoints. Here:
 *
 * - Prometheus: the flags that open write or control endpoints (`--web.enable-lifecycle`, and the admin API,
 *   remote-write and OTLP receivers should a manifest have them) are removed; so is the config reloader, whose
 *   only job is calling the lifecycle endpoint `/-/reload` (a changed configuration restarts the pod instead,
 *   through a `checksum/config` annotation). Its ClusterRole keeps read verbs only (Istio's has nothing else).
 * - Grafana: anonymous access off, and the `admin` password from a generated Secret instead of `admin`.
 * - Kiali: `auth.strategy: token` (log in with a Kubernetes token), `view_only_mode`, a generated login-token
 *   signing key (it encrypts the session cookie that holds the token) from a Secret instead of the published
 *   `CHANGEME00000000`, and a ClusterRole with read verbs only — except what Kiali's own view-only role keeps:
 *   `pods/portforward` (istiod's status and each proxy's Envoy configuration) and `tokenreviews`.
 * - Every add-on: a NetworkPolicy that admits only what the add-ons need of each other (Grafana and Kiali query
 *   Prometheus, Prometheus scrapes Kiali's and Jaeger's metrics) and the proxies' spans to Jaeger's collector;
 *   the UIs stay reachable through `kubectl port-forward`, which the kubelet relays to the pod's own loopback
 *   interface, where no NetworkPolicy applies. The add-ons run without sidecars, so AuthorizationPolicies would
 *   not apply.
 */
import * as crypto from "crypto";
import * as YAML from "yaml";
import { ADDONS_NAMESPACE, Container, ManifestObject, PodSpec, TelemetryAddonName } from "./manifests";

/** The labels that select each add-on's pods: its Deployment's selector in Istio's manifests. */
export const ADDON_POD_LABELS: Readonly<Record<TelemetryAddonName, Readonly<Record<string, string>>>> = {
    prometheus: { "app.kubernetes.io/component": "server", "app.kubernetes.io/name": "prometheus", "app.kubernetes.io/instance": "prometheus" },
    grafana: { "app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": "grafana" },
    kiali: { "app.kubernetes.io/name": "kiali", "app.kubernetes.io/instance": "kiali" },
    jaeger: { app: "jaeger" },
};

/** A Secret the program generates for an add-on (in `ADDONS_NAMESPACE`): one random value under one key. */
export interface AddonSecret {
    /** The Secret's name. */
    name: string;
    /** The key of the value. */
    key: string;
}

/** Grafana's `admin` password. */
export const GRAFANA_ADMIN_SECRET: AddonSecret = { name: "grafana-admin", key: "admin-password" };
/** Kiali's login-token signing key, as Kiali reads it from `/kiali-override-secrets/login-token-signing-key/value.txt`. */
export const KIALI_SIGNING_KEY_SECRET: AddonSecret = { name: "kiali-login-token-signing-key", key: "value.txt" };
const KIALI_SIGNING_KEY_PATH = "/kiali-override-secrets/login-token-signing-key";

/** The Secret each add-on needs, if any. */
export const ADDON_SECRETS: Readonly<Partial<Record<TelemetryAddonName, AddonSecret>>> = { grafana: GRAFANA_ADMIN_SECRET, kiali: KIALI_SIGNING_KEY_SECRET };

/** A random value for a generated Secret: 32 characters (Kiali's key must be 16, 24 or 32 bytes). */
export function randomSecretValue(): string {
    return crypto.randomBytes(24).toString("base64url");
}

/** How to log in to an add-on's UI, for those that ask. */
export function addonLogin(addon: TelemetryAddonName): string | undefined {
    switch (addon) {
        case "grafana":
            return `user admin, password: kubectl -n ${ADDONS_NAMESPACE} get secret ${GRAFANA_ADMIN_SECRET.name} -o jsonpath='{.data.${GRAFANA_ADMIN_SECRET.key}}' | base64 -d`;
        case "kiali":
            return `token: kubectl -n ${ADDONS_NAMESPACE} create token kiali`;
        default:
            return undefined;
    }
}

/** The NetworkPolicy spec of an add-on (`policyTypes: [Ingress]`; egress stays open, for scraping). */
export interface AddonNetworkPolicySpec {
    podSelector: { matchLabels: Record<string, string> };
    policyTypes: Array<"Ingress">;
    ingress: Array<{ from?: Array<{ podSelector: { matchLabels: Record<string, string> } }>; ports: Array<{ protocol: "TCP"; port: number }> }>;
}

const tcp = (...ports: number[]) => ports.map((port) => ({ protocol: "TCP" as const, port }));
const pods = (...addons: TelemetryAddonName[]) => addons.map((a) => ({ podSelector: { matchLabels: { ...ADDON_POD_LABELS[a] } } }));

/** Jaeger's span receivers (OTLP gRPC and HTTP, Zipkin, Jaeger gRPC and HTTP), which every proxy may reach. */
export const JAEGER_RECEIVER_PORTS = [4317, 4318, 9411, 14250, 14268];

/**
 * Who may connect to an add-on's pods, besides the node they run on (the kubelet's probes, `kubectl
 * port-forward`): Prometheus's API (9090) from Grafana and Kiali; Kiali's (9090) and Jaeger's (8888) metrics from
 * Prometheus; Jaeger's receivers from anywhere; nothing else — no UI port from any pod.
 */
export function addonNetworkPolicy(addon: TelemetryAddonName): AddonNetworkPolicySpec {
    const ingress: Record<TelemetryAddonName, AddonNetworkPolicySpec["ingress"]> = {
        prometheus: [{ from: pods("grafana", "kiali"), ports: tcp(9090) }],
        grafana: [],
        kiali: [{ from: pods("prometheus"), ports: tcp(9090) }],
        jaeger: [{ ports: tcp(...JAEGER_RECEIVER_PORTS) }, { from: pods("prometheus"), ports: tcp(8888) }],
    };
    return { podSelector: { matchLabels: { ...ADDON_POD_LABELS[addon] } }, policyTypes: ["Ingress"], ingress: ingress[addon] };
}

/** An RBAC rule. */
interface PolicyRule {
    apiGroups?: string[];
    resources?: string[];
    resourceNames?: string[];
    nonResourceURLs?: string[];
    verbs: string[];
}

const READ_VERBS = ["get", "list", "watch"];

/** Non-read verbs a role keeps on exactly these resources. */
interface RuleException {
    apiGroup: string;
    resource: string;
    verbs: string[];
}

/** What Kiali's own view-only role keeps besides reading: port-forwarding (to istiod and the proxies) and token reviews. */
const KIALI_VIEWER_EXCEPTIONS: RuleException[] = [
    { apiGroup: "", resource: "pods/portforward", verbs: ["create", "post"] },
    { apiGroup: "authentication.k8s.io", resource: "tokenreviews", verbs: ["create"] },
];

/** The rules with read verbs only (`*` read as get, list, watch), but for the exceptions; empty rules dropped. */
export function readOnlyRules(rules: readonly PolicyRule[], exceptions: readonly RuleException[] = []): PolicyRule[] {
    return rules.flatMap((rule) => {
        const excepted = exceptions.find((e) => (rule.apiGroups ?? []).every((g) => g === e.apiGroup) && (rule.resources ?? []).length > 0
            && (rule.resources ?? []).every((r) => r === e.resource));
        const verbs = rule.verbs.includes("*") ? [...READ_VERBS] : rule.verbs.filter((v) => READ_VERBS.includes(v) || (excepted?.verbs.includes(v) ?? false));
        return verbs.length === 0 ? [] : [{ ...rule, verbs }];
    });
}

/** The flags that open Prometheus's write or control endpoints. */
export const PROMETHEUS_WRITE_FLAGS = ["--web.enable-lifecycle", "--web.enable-admin-api", "--web.enable-remote-write-receiver", "--web.enable-otlp-receiver"];

/** The objects, deep-copied, with helpers that find what a change needs or fail naming what is missing. */
class Manifest {
    readonly objects: ManifestObject[];

    constructor(objects: readonly ManifestObject[], private readonly origin: string) {
        this.objects = JSON.parse(JSON.stringify(objects)) as ManifestObject[];
    }

    fail(what: string): never {
        throw new Error(`${this.origin}: ${what}; the program cannot harden this add-on, and does not apply it`);
    }

    find(kind: string, name: string): ManifestObject {
        return this.objects.find((o) => o.kind === kind && o.metadata.name === name) ?? this.fail(`no ${kind} ${name}`);
    }

    /** The Deployment's pod template, after checking that it selects the add-on's pods as its NetworkPolicy does. */
    podTemplate(addon: TelemetryAddonName): { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec } {
        const deployment = this.find("Deployment", addon) as ManifestObject & { spec?: { selector?: { matchLabels?: Record<string, string> }; template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: PodSpec } } };
        const selector = deployment.spec?.selector?.matchLabels ?? {};
        const template = deployment.spec?.template;
        const labels = template?.metadata?.labels ?? {};
        const wanted = ADDON_POD_LABELS[addon];
        if (JSON.stringify(Object.entries(selector).sort()) !== JSON.stringify(Object.entries(wanted).sort())
            || Object.entries(wanted).some(([k, v]) => labels[k] !== v)) {
            this.fail(`Deployment ${addon} does not select its pods by ${JSON.stringify(wanted)}, which its NetworkPolicy selects`);
        }
        if (template?.spec === undefined) {
            this.fail(`Deployment ${addon} has no pod template`);
        }
        template.metadata ??= {};
        return template as { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec };
    }

    container(pod: PodSpec, name: string): Container {
        return pod.containers?.find((c) => c.name === name) ?? this.fail(`no container ${name}`);
    }

    /** Reduces a ClusterRole to read verbs (but for the exceptions). */
    readOnlyClusterRole(name: string, exceptions: readonly RuleException[] = []): void {
        const role = this.find("ClusterRole", name) as ManifestObject & { rules?: PolicyRule[] };
        role.rules = readOnlyRules(role.rules ?? [], exceptions);
    }
}

/** A digest of configuration data, for a pod annotation that rolls the pods when the configuration changes. */
const checksum = (data: unknown) => crypto.createHash("sha256").update(JSON.stringify(data)).digest("hex");

function hardenPrometheus(m: Manifest): void {
    const template = m.podTemplate("prometheus");
    const server = m.container(template.spec, "prometheus-server");
    server.args = (server.args ?? []).filter((a) => !PROMETHEUS_WRITE_FLAGS.some((flag) => a === flag || a.startsWith(`${flag}=`)));
    // The config reloader only ever calls /-/reload, a lifecycle endpoint.
    template.spec.containers = template.spec.containers?.filter((c) => !(c.args ?? []).some((a) => a.startsWith("--reload-url=")));
    template.metadata.annotations = { ...template.metadata.annotations, "checksum/config": checksum(m.find("ConfigMap", "prometheus").data) };
    m.readOnlyClusterRole("prometheus");
}

function hardenGrafana(m: Manifest): void {
    const grafana = m.container(m.podTemplate("grafana").spec, "grafana");
    const env = (grafana.env ?? []).filter((e) => !["GF_AUTH_ANONYMOUS_ENABLED", "GF_AUTH_ANONYMOUS_ORG_ROLE", "GF_SECURITY_ADMIN_PASSWORD", "GF_SECURITY_ADMIN_USER"].includes(e.name));
    grafana.env = [
        ...env,
        { name: "GF_AUTH_ANONYMOUS_ENABLED", value: "false" },
        { name: "GF_SECURITY_ADMIN_USER", value: "admin" },
        { name: "GF_SECURITY_ADMIN_PASSWORD", valueFrom: { secretKeyRef: { name: GRAFANA_ADMIN_SECRET.name, key: GRAFANA_ADMIN_SECRET.key } } },
    ];
}

interface KialiConfig {
    auth?: Record<string, unknown>;
    deployment?: Record<string, unknown>;
    login_token?: Record<string, unknown>;
    [section: string]: unknown;
}

function hardenKiali(m: Manifest): void {
    const configMap = m.find("ConfigMap", "kiali") as ManifestObject & { data?: Record<string, string> };
    const text = configMap.data?.["config.yaml"] ?? m.fail("ConfigMap kiali has no config.yaml");
    const config = YAML.parse(text) as KialiConfig | null;
    if (typeof config !== "object" || config === null || typeof config.auth !== "object") {
        m.fail("ConfigMap kiali's config.yaml has no auth section");
    }
    config.auth = { ...config.auth, strategy: "token" };
    config.deployment = { ...config.deployment, view_only_mode: true };
    // Empty: the key is read from the Secret's file; without that file Kiali refuses to start rather than use a known key.
    config.login_token = { ...config.login_token, signing_key: "" };
    configMap.data = { ...configMap.data, "config.yaml": YAML.stringify(config) };

    const template = m.podTemplate("kiali");
    template.metadata.annotations = { ...template.metadata.annotations, "checksum/config": checksum(configMap.data) };
    template.spec.volumes = [...template.spec.volumes ?? [], { name: KIALI_SIGNING_KEY_SECRET.name, secret: { secretName: KIALI_SIGNING_KEY_SECRET.name } }];
    const kiali = m.container(template.spec, "kiali");
    kiali.volumeMounts = [...kiali.volumeMounts ?? [], { name: KIALI_SIGNING_KEY_SECRET.name, mountPath: KIALI_SIGNING_KEY_PATH, readOnly: true }];
    m.readOnlyClusterRole("kiali", KIALI_VIEWER_EXCEPTIONS);
}

/**
 * An add-on's verified objects as the program applies them (see the module's description); the input is left as
 * it was. Fails, naming the manifest, when an object a change needs is not there.
 */
export function hardenAddon(addon: TelemetryAddonName, objects: readonly ManifestObject[], origin: string): ManifestObject[] {
    const m = new Manifest(objects, origin);
    switch (addon) {
        case "prometheus":
            hardenPrometheus(m);
            break;
        case "grafana":
            hardenGrafana(m);
            break;
        case "kiali":
            hardenKiali(m);
            break;
        case "jaeger":
            m.podTemplate("jaeger");
            break;
    }
    return m.objects;
}
