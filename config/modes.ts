/**
 * The rules of the ingress API (`ingressApi`: Istio's own `Gateway`/`VirtualService` through the `istio/gateway`
 * chart, or the Kubernetes Gateway API) and of the data plane (`dataPlane`: sidecars, or ambient mode with ztunnel
 * and an optional waypoint), and what they resolve to: the Gateway API release the newest control plane expects.
 */
import * as fs from "fs";
import * as path from "path";
import { GATEWAY_API_RELEASES, gatewayApiMinors, gatewayApiVersionFor } from "../programs/mesh/gatewayApiBundle";
import { compareIstioVersions, minorOf } from "../components/istio/releases";
import { isLocalSource } from "../components/telemetry/manifests";
import { revisionsOf } from "./istio";
import type { Problem } from "./rules";
import { ConfigValues, show } from "./schema";

/** What the ingress and data-plane settings resolve to. */
export interface ModeConfig {
    /** `istio`: the gateway chart with an Istio Gateway and VirtualService; `gateway-api`: a Gateway API Gateway and HTTPRoute. */
    ingressApi: "istio" | "gateway-api";
    /** `sidecar`: injected Envoys; `ambient`: ztunnel on every node, Bookinfo's namespace enrolled (no injection). */
    dataPlane: "sidecar" | "ambient";
    /** Ambient only: Bookinfo's waypoint, where its L7 rules are enforced. */
    waypoint: boolean;
    /**
     * The Gateway API release installed (the newest control plane's), when anything uses it (the Gateway API
     * ingress, or a waypoint); undefined otherwise.
     */
    gatewayApi?: { version: string; source?: string };
}

/** Whether the configuration uses Gateway API objects (and so needs the CRDs). */
const usesGatewayApi = (v: ConfigValues) => v.ingressApi === "gateway-api" || (v.dataPlane === "ambient" && v.ambientWaypoint);

/** The newest control plane's Istio release. */
const newestRelease = (v: ConfigValues) => revisionsOf(v).map((r) => r.version).sort(compareIstioVersions).pop()!;

/** The ingress and data-plane settings of a valid configuration. */
export function modeConfig(v: ConfigValues): ModeConfig {
    const version = usesGatewayApi(v) ? gatewayApiVersionFor(minorOf(newestRelease(v))) : undefined;
    return {
        ingressApi: v.ingressApi,
        dataPlane: v.dataPlane,
        waypoint: v.dataPlane === "ambient" && v.ambientWaypoint,
        gatewayApi: version === undefined ? undefined : { version, source: v.gatewayApiCrdsSource },
    };
}

/** The settings that only shape sidecar injection, with the value that means "nothing asked of injection". */
const INJECTION_ONLY: ReadonlyArray<{ key: keyof ConfigValues; unset: (v: ConfigValues) => boolean; why: string }> = [
    { key: "injectionMode", unset: (v) => v.injectionMode === "namespace", why: "pod-level injection labels give Bookinfo's pods sidecars" },
    { key: "meshNamespaces", unset: (v) => v.meshNamespaces === undefined, why: "it labels namespaces for sidecar injection" },
    { key: "bookinfoRevision", unset: (v) => v.bookinfoRevision === undefined, why: "it selects the control plane that injects Bookinfo's sidecars" },
    { key: "istioRevisionTags", unset: (v) => v.istioRevisionTags === undefined, why: "revision tags select injecting control planes" },
    { key: "istioRevision", unset: (v) => v.istioRevision === undefined, why: "the program runs ambient mode with the default revision only (ztunnel and the CNI agent follow one istiod); upgrade it in place" },
    { key: "istioRevisions", unset: (v) => v.istioRevisions === undefined, why: "the program runs ambient mode with the default revision only (ztunnel and the CNI agent follow one istiod); upgrade it in place" },
];

/** The rules of ingressApi, gatewayApiCrdsSource, dataPlane and ambientWaypoint. */
export function modeProblems(v: ConfigValues): Problem[] {
    const problems: Problem[] = [];
    if (v.gatewayApiCrdsSource !== undefined && !usesGatewayApi(v)) {
        problems.push({ key: "gatewayApiCrdsSource", message: "is only used when ingressApi is gateway-api (or with ambientWaypoint): remove it, or set ingressApi to gateway-api" });
    }
    if (v.ambientWaypoint && v.dataPlane !== "ambient") {
        problems.push({ key: "ambientWaypoint", message: "is only used when dataPlane is ambient: a waypoint is ambient mode's L7 proxy" });
    }
    if (usesGatewayApi(v)) {
        const release = newestRelease(v);
        const version = gatewayApiVersionFor(minorOf(release));
        if (version === undefined) {
            problems.push({
                key: v.ingressApi === "gateway-api" ? "ingressApi" : "ambientWaypoint",
                message: `needs the Gateway API CRDs of the release Istio ${release} expects, and the program pins them for Istio ${gatewayApiMinors().join(", ")} only: set istioVersion to one of those, or ingressApi to istio`,
            });
        } else if (v.gatewayApiCrdsSource !== undefined && isLocalSource(v.gatewayApiCrdsSource)) {
            const missing = Object.keys(GATEWAY_API_RELEASES[version].files).filter((file) => !fs.existsSync(path.resolve(v.gatewayApiCrdsSource!, file)));
            if (missing.length > 0) {
                problems.push({ key: "gatewayApiCrdsSource", message: `${show(v.gatewayApiCrdsSource)} is not allowed: the local directory has no ${missing.join(", ")} (copy config/crd/standard of the Gateway API's ${version})` });
            }
        }
    }
    if (v.ingressApi === "gateway-api" && v.bookinfoHosts?.includes("*") && v.bookinfoHosts.length > 1) {
        problems.push({ key: "bookinfoHosts", message: "\"*\" cannot be combined with other hosts when ingressApi is gateway-api: an HTTPRoute either lists host names or takes any host" });
    }
    if (v.dataPlane === "ambient") {
        for (const setting of INJECTION_ONLY) {
            if (!setting.unset(v)) {
                problems.push({ key: setting.key, message: `is not allowed when dataPlane is ambient: ${setting.why}; remove it, or set dataPlane to sidecar` });
            }
        }
        revisionsOf(v).forEach((r) => {
            if (isLocalSource(r.chartRepository)) {
                const missing = ["cni", "ztunnel"].filter((chart) => !fs.existsSync(path.resolve(r.chartRepository, chart, "Chart.yaml")));
                if (missing.length > 0) {
                    problems.push({ key: v.istioRevisions === undefined ? "istioChartRepository" : "istioRevisions", message: `${show(r.chartRepository)} is not allowed with dataPlane ambient: the local chart directory has no ${missing.map((c) => `${c}/Chart.yaml`).join(", ")}` });
                }
            }
        });
    }
    return problems;
}
