/**
 * Istio as it ships today: the release the program installs by default, where Istio publishes its charts and
 * images, which of its former hosts are retired, and how Istio releases compare. Plain data and pure functions
 * (no Pulumi, no I/O), so that a policy pack can import it as well as the program.
 */

/**
 * The Istio release installed when `istioVersion` is unset: the newest 1.31 patch whose release announcement could
 * be confirmed (https://istio.io/latest/news/releases/1.31.x/announcing-1.31.1/). The `istio.io/api` Go module
 * is tagged up to v1.31.4, but an API tag is not an Istio release.
 */
export const DEFAULT_ISTIO_VERSION = "1.31.1";

/** Istio's Helm chart repository over HTTPS (every release, 1.31 and later only here and on OCI). */
export const ISTIO_CHART_REPOSITORY = "https://blob.istio.io/istio-release/charts";

/** Istio's charts as OCI artifacts. */
export const ISTIO_OCI_CHART_REPOSITORY = "oci://ghcr.io/istio/release/charts";

/** Where Istio publishes its images (istiod, proxies, CNI, Bookinfo's samples). */
export const ISTIO_IMAGE_HUB = "docker.io/istio";

/** A former home of Istio's charts or images, and what replaces it. */
export interface RetiredIstioHost {
    /** The retired location, as a prefix of a chart repository or an image hub. */
    location: string;
    /** What was published there. */
    kind: "charts" | "images";
    /** Where the same artifacts are now. */
    replacement: string;
    /** What is happening to it. */
    retirement: string;
}

/**
 * Hosts Istio is retiring (Istio's announcement of its artifact move: charts leave the Google Cloud Storage bucket
 * and gcr.io in December 2026; 1.30 is the last minor published to gcr.io/istio-release, registry.istio.io/release
 * and that bucket).
 */
export const RETIRED_ISTIO_HOSTS: readonly RetiredIstioHost[] = [
    {
        location: "https://istio-release.storage.googleapis.com", kind: "charts", replacement: ISTIO_CHART_REPOSITORY,
        retirement: "Istio removes its charts from this bucket in December 2026 and publishes no release after 1.30 there",
    },
    {
        location: "oci://gcr.io/istio-release", kind: "charts", replacement: ISTIO_OCI_CHART_REPOSITORY,
        retirement: "Istio removes its charts from gcr.io in December 2026 and publishes no release after 1.30 there",
    },
    {
        location: "oci://registry.istio.io/release", kind: "charts", replacement: ISTIO_OCI_CHART_REPOSITORY,
        retirement: "Istio publishes no release after 1.30 to registry.istio.io",
    },
    {
        location: "gcr.io/istio-release", kind: "images", replacement: ISTIO_IMAGE_HUB,
        retirement: "Istio publishes no image after 1.30 to gcr.io/istio-release",
    },
    {
        location: "registry.istio.io/release", kind: "images", replacement: ISTIO_IMAGE_HUB,
        retirement: "Istio publishes no image after 1.30 to registry.istio.io/release",
    },
];

/** The retired host a chart repository or image hub points at, if any. */
export function retiredHostOf(location: string, kind: RetiredIstioHost["kind"]): RetiredIstioHost | undefined {
    const normalized = location.replace(/\/+$/, "");
    return RETIRED_ISTIO_HOSTS.find((h) => h.kind === kind && (normalized === h.location || normalized.startsWith(`${h.location}/`)));
}

/** An Istio release: `1.31.1`, or a pre-release such as `1.31.0-rc.0`. */
export const ISTIO_RELEASE = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$/;

/** The minor line of a release (`1.31.0-rc.0` → `1.31`). */
export function minorOf(version: string): string {
    const m = ISTIO_RELEASE.exec(version);
    if (!m) {
        throw new Error(`not an Istio release: ${version}`);
    }
    return `${Number(m[1])}.${Number(m[2])}`;
}

/** Compares two numeric dot-separated identifiers or versions (`1.30` < `1.31`). */
function compareNumbers(a: number[], b: number[]): number {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
        if ((a[i] ?? 0) !== (b[i] ?? 0)) {
            return (a[i] ?? 0) - (b[i] ?? 0);
        }
    }
    return 0;
}

/** Orders two minor lines (`1.30` < `1.31`). */
export function compareMinors(a: string, b: string): number {
    return compareNumbers(a.split(".").map(Number), b.split(".").map(Number));
}

/** Orders two pre-release tags as semantic versioning does (`alpha.1` < `beta` < `rc.0` < `rc.1`). */
function comparePreReleases(a: string, b: string): number {
    const [pa, pb] = [a.split("."), b.split(".")];
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
        if (pa[i] === undefined || pb[i] === undefined) {
            return pa[i] === undefined ? -1 : 1;
        }
        const [na, nb] = [/^\d+$/.test(pa[i]), /^\d+$/.test(pb[i])];
        if (na && nb && Number(pa[i]) !== Number(pb[i])) {
            return Number(pa[i]) - Number(pb[i]);
        }
        if (na !== nb) {
            return na ? -1 : 1;
        }
        if (pa[i] !== pb[i]) {
            return pa[i] < pb[i] ? -1 : 1;
        }
    }
    return 0;
}

/** Orders two Istio releases (1.30.3 < 1.31.0-rc.0 < 1.31.0 < 1.31.1). */
export function compareIstioVersions(a: string, b: string): number {
    const [ma, mb] = [ISTIO_RELEASE.exec(a), ISTIO_RELEASE.exec(b)];
    if (!ma || !mb) {
        throw new Error(`not an Istio release: ${!ma ? a : b}`);
    }
    const numeric = compareNumbers([1, 2, 3].map((i) => Number(ma[i])), [1, 2, 3].map((i) => Number(mb[i])));
    if (numeric !== 0) {
        return numeric;
    }
    if (ma[4] === undefined || mb[4] === undefined) {
        return ma[4] === mb[4] ? 0 : ma[4] === undefined ? 1 : -1;
    }
    return comparePreReleases(ma[4], mb[4]);
}
