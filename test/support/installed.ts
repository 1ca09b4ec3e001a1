/**
 * What is installed, read back from the cluster rather than from the configuration: each Helm release as Helm
 * stored it (its Secret `sh.helm.release.v1.<release>.v<revision>`: the chart and version it installed), and the
 * image each istiod Deployment runs.
 */
import * as zlib from "zlib";
import { LocalCluster } from "../../local/localCluster";

/** A Helm release's current revision, as Helm keeps it in the cluster. */
export interface HelmRelease {
    name: string;
    namespace: string;
    /** The chart's name and version (from the stored chart's Chart.yaml). */
    chart: string;
    version: string;
    /** Helm's revision number and status (`deployed`, `superseded`, …). */
    revision: number;
    status: string;
}

interface HelmSecret {
    metadata: { name: string; namespace: string; labels?: Record<string, string> };
    data?: { release?: string };
}

/** Decodes Helm's storage: base64 (of the Secret) of base64 of gzip of the release's JSON. */
function decodeRelease(secret: HelmSecret): { name: string; version: number; info: { status: string }; chart: { metadata: { name: string; version: string } } } {
    const inner = Buffer.from(secret.data?.release ?? "", "base64").toString("utf8");
    return JSON.parse(zlib.gunzipSync(Buffer.from(inner, "base64")).toString("utf8")) as ReturnType<typeof decodeRelease>;
}

/** The deployed revision of every Helm release in the namespaces, by release name. */
export async function helmReleases(cluster: LocalCluster, namespaces: string[]): Promise<Record<string, HelmRelease>> {
    const found: Record<string, HelmRelease> = {};
    for (const namespace of namespaces) {
        const secrets = await cluster.json<{ items: HelmSecret[] }>(`/api/v1/namespaces/${namespace}/secrets?labelSelector=owner%3Dhelm,status%3Ddeployed`);
        for (const secret of secrets.items) {
            const release = decodeRelease(secret);
            found[release.name] = {
                name: release.name, namespace, chart: release.chart.metadata.name, version: release.chart.metadata.version,
                revision: release.version, status: release.info.status,
            };
        }
    }
    return found;
}

/** Chart version per release, e.g. `{ "istio-base": "1.31.0-rc.0", istiod: "1.31.0-rc.0", … }`. */
export async function chartVersions(cluster: LocalCluster, namespaces = ["istio-system", "istio-ingress"]): Promise<Record<string, string>> {
    return Object.fromEntries(Object.values(await helmReleases(cluster, namespaces)).map((r) => [r.name, r.version]));
}

/** The image tag of each istiod Deployment (`discovery` container), by its revision label. */
export async function istiodImages(cluster: LocalCluster): Promise<Record<string, string>> {
    const list = await cluster.json<{ items: Array<{ metadata: { labels?: Record<string, string> }; spec: { template: { spec: { containers: Array<{ name: string; image: string }> } } } }> }>(
        "/apis/apps/v1/namespaces/istio-system/deployments?labelSelector=app%3Distiod");
    return Object.fromEntries(list.items.map((d) => [
        d.metadata.labels?.["istio.io/rev"] ?? "default",
        d.spec.template.spec.containers.find((c) => c.name === "discovery")?.image ?? "",
    ]));
}
