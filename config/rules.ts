/**
 * The rules between configuration keys, checked once every key is valid on its own: what one key needs of
 * another, the revisions and tags and what selects them, istiod's resources against the chart's requests, the
 * kubeconfig of an existing cluster, and the local directories that must hold charts and manifests.
 */
import * as fs from "fs";
import * as path from "path";
import { TELEMETRY_ADDONS, isLocalSource, telemetryAddonsOf } from "../components/telemetry/manifests";
import { PINNED_ADDON_SHA256, unpinnedMessage } from "../components/telemetry/verification";
import { compareIstioVersions } from "../components/istio/releases";
import { chartSourceProblems, revisionsOf } from "./istio";
import { modeProblems } from "./modes";
import { ConfigValues, ISTIOD_DEFAULT_REQUESTS, configSchema, show } from "./schema";

/** One problem: the key (without namespace) and what is wrong. */
export interface Problem {
    key: string;
    message: string;
}

const PKS_ONLY_KEYS: ReadonlyArray<keyof ConfigValues> = [
    "pksApiUrl", "pksUsername", "pksPassword", "pksClientName", "pksClientSecret", "pksCaCert", "networkProfileName",
    "networkProfileTilePodIpBlockId", "clusterName", "clusterExternalHostname", "clusterPlan", "clusterNumNodes", "clusterTags",
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

export function suggest(key: string): string {
    const known = Object.keys(configSchema.shape);
    const best = known.map((k) => ({ k, d: distance(key, k) })).sort((x, y) => x.d - y.d)[0];
    return best && best.d <= 3 ? `; did you mean ${best.k}?` : "";
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
function quantity(text: string): number {
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
        if (v[key] !== undefined && !v.istioCni && v.dataPlane !== "ambient") {
            problems.push({ key, message: "is only used when istioCni is true (or dataPlane is ambient)" });
        }
    }
    if (v.bookinfoPodSecurity === "restricted") {
        problems.push({ key: "bookinfoPodSecurity", message: "\"restricted\" is not supported: Bookinfo's sample containers declare no non-root user, seccomp profile or dropped capabilities, which restricted requires; use baseline" });
    } else if (v.bookinfoPodSecurity === "baseline" && !v.istioCni && v.dataPlane !== "ambient") {
        problems.push({ key: "bookinfoPodSecurity", message: "\"baseline\" needs istioCni: true: baseline forbids the NET_ADMIN and NET_RAW capabilities of the injected istio-init container, and the CNI node agent takes over its work" });
    }
    return problems;
}

/** Cross-key rules, checked once every key is valid on its own. */
export function crossChecks(v: ConfigValues, env: NodeJS.ProcessEnv): Problem[] {
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
        if (v.networkProfileTilePodIpBlockId !== undefined && v.networkProfileName === undefined) {
            problems.push({ key: "networkProfileTilePodIpBlockId", message: "is only used with networkProfileName (attaching a profile to a cluster that has none)" });
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
    problems.push(...chartSourceProblems(v));
    problems.push(...authorizationAndTelemetryProblems(v));
    problems.push(...modeProblems(v));
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
    for (const key of ["telemetryAddonsSource", "telemetryAddonsSha256"] as const) {
        if (v[key] !== undefined && addons.length === 0) {
            problems.push({ key, message: "is only used with an add-on: set telemetryPrometheus, telemetryGrafana, telemetryKiali or telemetryTracing, or remove it" });
        }
    }
    // The add-ons are those of the newest control plane's release; each needs a pinned digest.
    const release = revisionsOf(v).map((r) => r.version).sort(compareIstioVersions).pop()!;
    const unpinned = addons.filter((a) => v.telemetryAddonsSha256?.[a] === undefined && PINNED_ADDON_SHA256[release]?.[a] === undefined);
    if (unpinned.length > 0) {
        problems.push({ key: "telemetryAddonsSha256", message: unpinnedMessage(unpinned, release) });
    }
    if (source !== undefined && addons.length > 0 && isLocalSource(source)) {
        const missing = addons.map((a) => TELEMETRY_ADDONS[a].file).filter((file) => !fs.existsSync(path.resolve(source, file)));
        if (missing.length > 0) {
            problems.push({ key: "telemetryAddonsSource", message: `${show(source)} is not allowed: the local add-on directory has no ${missing.join(", ")} (copy them from Istio's samples/addons)` });
        }
    }
    return problems;
}

