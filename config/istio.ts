/**
 * The Istio releases a configuration installs and where from: the control planes it asks for, the rules of local
 * chart directories and of `istioCompatibilityVersion`, and the warnings a valid configuration still gets — a
 * release with a published security bulletin against it, a chart repository or image hub Istio is retiring.
 */
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { compareMinors, minorOf, retiredHostOf } from "../components/istio/releases";
import { bulletinsAffecting } from "../components/istio/securityBulletins";
import { isLocalSource } from "../components/telemetry/manifests";
import type { Problem } from "./rules";
import { ConfigValues, show } from "./schema";

/** One control plane's Istio release and chart source, and the key that sets them. */
export interface ControlPlaneRevision {
    /** The revision's name; unset for the default revision (release `istiod`). */
    name?: string;
    /** Its Istio release. */
    version: string;
    /** Where its charts come from. */
    chartRepository: string;
}

/** The control planes the configuration asks for: `istioRevisions`, or the one of istioVersion/istioRevision. */
export function revisionsOf(v: ConfigValues): ControlPlaneRevision[] {
    if (v.istioRevisions === undefined) {
        return [{ name: v.istioRevision, version: v.istioVersion, chartRepository: v.istioChartRepository }];
    }
    return v.istioRevisions.map((r) => ({ name: r.name, version: r.version ?? v.istioVersion, chartRepository: r.chartRepository ?? v.istioChartRepository }));
}

/** Where a revision's chart source and version are set, for messages. */
function keyOf(v: ConfigValues, index: number): { key: string; where: string } {
    return v.istioRevisions === undefined ? { key: "istioChartRepository", where: "" } : { key: "istioRevisions", where: ` (at ${index})` };
}

/**
 * Local chart directories (air-gapped sites, the local stack): they must hold the charts, at the release the
 * configuration names (Helm installs what Chart.yaml says, whatever `istioVersion` says), and the compatibility
 * profile asked for; and `istioCompatibilityVersion` must name an older minor than a control plane it applies to.
 */
export function chartSourceProblems(v: ConfigValues): Problem[] {
    const problems: Problem[] = [];
    const revisions = revisionsOf(v);
    const compatibility = v.istioCompatibilityVersion;
    if (compatibility !== undefined && !revisions.some((r) => compareMinors(minorOf(r.version), compatibility) > 0)) {
        problems.push({
            key: "istioCompatibilityVersion",
            message: `${show(compatibility)} has no effect: it keeps an earlier minor's behaviour, so it must be older than the control plane's release (${[...new Set(revisions.map((r) => minorOf(r.version)))].join(", ")}); remove it once the upgrade is done`,
        });
    }
    revisions.forEach((r, i) => {
        if (!isLocalSource(r.chartRepository)) {
            return;
        }
        const { key, where } = keyOf(v, i);
        const missing = ["base", "istiod", "gateway", ...(v.istioCni ? ["cni"] : [])].filter((chart) => !fs.existsSync(path.resolve(r.chartRepository, chart, "Chart.yaml")));
        if (missing.length > 0) {
            problems.push({ key, message: `${show(r.chartRepository)} is not allowed: the local chart directory has no ${missing.map((c) => `${c}/Chart.yaml`).join(", ")}${where}` });
            return;
        }
        const chartVersion = (YAML.parse(fs.readFileSync(path.resolve(r.chartRepository, "istiod", "Chart.yaml"), "utf8")) as { version?: unknown } | null)?.version;
        if (String(chartVersion) !== r.version) {
            problems.push({
                key, message: `${show(r.chartRepository)} holds the charts of Istio ${String(chartVersion)}, not ${r.version}: set ${v.istioRevisions === undefined ? "istioVersion" : "the revision's version"} to ${String(chartVersion)}, or point at ${r.version}'s charts${where}`,
            });
        }
        if (compatibility !== undefined && compareMinors(minorOf(r.version), compatibility) > 0
            && !fs.existsSync(path.resolve(r.chartRepository, "istiod", "files", `profile-compatibility-version-${compatibility}.yaml`))) {
            problems.push({ key: "istioCompatibilityVersion", message: `${show(compatibility)} is not allowed: the charts of Istio ${r.version} in ${show(r.chartRepository)} have no compatibility profile for it` });
        }
    });
    return problems;
}


/**
 * What a valid configuration is still warned about: each control plane's release that a published Istio security
 * bulletin affects (naming the bulletin, the first fixed patch and where it is published), and each chart
 * repository or image hub on a host Istio is retiring (naming the replacement).
 */
export function configWarnings(v: ConfigValues): Problem[] {
    const warnings: Problem[] = [];
    const revisions = revisionsOf(v);
    const seen = new Set<string>();
    revisions.forEach((r, i) => {
        const key = v.istioRevisions === undefined || v.istioRevisions[i].version === undefined ? "istioVersion" : "istioRevisions";
        const where = key === "istioRevisions" ? ` (at ${i}.version)` : "";
        for (const b of bulletinsAffecting(r.version)) {
            const text = `Istio ${r.version} is affected by ${b.id} (${b.summary}), fixed in ${b.fixedIn}: upgrade to ${b.fixedIn} or later (${b.source})${where}`;
            if (!seen.has(text)) {
                seen.add(text);
                warnings.push({ key, message: text });
            }
        }
    });
    const repositories = [
        { key: "istioChartRepository", where: "", location: v.istioChartRepository },
        ...(v.istioRevisions ?? []).map((r, i) => ({ key: "istioRevisions", where: ` (at ${i}.chartRepository)`, location: r.chartRepository })),
    ];
    for (const { key, where, location } of repositories) {
        const retired = location === undefined ? undefined : retiredHostOf(location, "charts");
        if (retired) {
            warnings.push({ key, message: `${show(location)} is on a retired host: ${retired.retirement}; use ${retired.replacement}${where}` });
        }
    }
    const hub = v.imageHub === undefined ? undefined : retiredHostOf(v.imageHub, "images");
    if (hub) {
        warnings.push({ key: "imageHub", message: `${show(v.imageHub)} is on a retired host: ${hub.retirement}; use ${hub.replacement}` });
    }
    return warnings;
}
