import * as k8s from "@pulumi/kubernetes";
import { compareMinors, minorOf } from "./releases";

/** Where Istio's Helm charts come from. */
export interface IstioChartSource {
    /**
     * An HTTPS Helm repository (default `https://blob.istio.io/istio-release/charts`), an OCI registry path
     * (`oci://ghcr.io/istio/release/charts`), or a local directory holding `base/`, `istiod/` and `gateway/`
     * (air-gapped sites); a relative directory is relative to the project directory.
     */
    repository: string;
    /** The Istio release, which is also the charts' version, e.g. `1.31.1`. */
    version: string;
    /**
     * An earlier minor whose behaviour the charts keep (their `compatibilityVersion`, e.g. `1.30`): applied to
     * the charts of a newer minor only, since a chart has profiles only for the minors before its own.
     */
    compatibilityVersion?: string;
}

/** The names of the official Istio charts this project installs. */
export type IstioChart = "base" | "istiod" | "gateway" | "cni" | "ztunnel";

/** The chart, version and repository arguments of a `helm.v3.Release` for one Istio chart. */
export function chartReleaseArgs(chart: IstioChart, source: IstioChartSource): Pick<k8s.helm.v3.ReleaseArgs, "chart" | "version" | "repositoryOpts"> {
    const repository = source.repository.replace(/\/+$/, "");
    if (repository.startsWith("oci://")) {
        return { chart: `${repository}/${chart}`, version: source.version };
    }
    if (repository.startsWith("https://")) {
        return { chart, version: source.version, repositoryOpts: { repo: repository } };
    }
    // A local chart directory carries its own version; Helm reads it from Chart.yaml.
    return { chart: `${repository}/${chart}` };
}

/** The chart values that keep an earlier minor's behaviour, for charts newer than it (else none). */
export function compatibilityValues(source: IstioChartSource): { compatibilityVersion?: string } {
    const keep = source.compatibilityVersion;
    return keep !== undefined && compareMinors(minorOf(source.version), keep) > 0 ? { compatibilityVersion: keep } : {};
}
