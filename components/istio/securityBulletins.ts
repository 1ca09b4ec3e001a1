/**
 * Istio's published security bulletins and advisories, as a table: which releases each affects and the first patch
 * of each minor line that fixes it, with the page it was read from. Plain data and pure functions (no Pulumi, no
 * I/O): the program warns at preview with it, and a policy pack can import it.
 *
 * How it is kept: when Istio publishes a bulletin (https://istio.io/latest/news/security/) or a patch release
 * whose notes carry a security update, add one row per affected minor line, with the bulletin's (or the release
 * announcement's) URL; never remove a row. README, "Security bulletins", says the same.
 */
import { compareIstioVersions, minorOf } from "./releases";

/** One bulletin (or advisory) as it affects one minor line. */
export interface IstioSecurityBulletin {
    /** The bulletin's name (`ISTIO-SECURITY-2026-006`) or, without a bulletin, the advisory's (`GHSA-…`). */
    id: string;
    /** What it is about, in a few words. */
    summary: string;
    /** The minor line, e.g. `1.30`. */
    minor: string;
    /** The first affected release of that line; unset: every release of the line before `fixedIn`. */
    firstAffected?: string;
    /** The first release of that line that is not affected. */
    fixedIn: string;
    /** Where this row was read. */
    source: string;
}

/** The table, newest first. */
export const ISTIO_SECURITY_BULLETINS: readonly IstioSecurityBulletin[] = [
    {
        id: "GHSA-qm8v-g4f9-qhjx", summary: "BackendTLSPolicy fails open to plain text on sidecars when its CA reference is unresolved",
        minor: "1.31", fixedIn: "1.31.1", source: "https://istio.io/latest/news/releases/1.31.x/announcing-1.31.1/",
    },
    {
        id: "ISTIO-SECURITY-2026-006", summary: "Envoy CVEs (CVSS up to 7.5) and Istio security fixes",
        minor: "1.30", fixedIn: "1.30.4", source: "https://istio.io/latest/news/releases/1.30.x/announcing-1.30.4/",
    },
    {
        id: "ISTIO-SECURITY-2026-006", summary: "Envoy CVEs (CVSS up to 7.5) and Istio security fixes",
        minor: "1.29", fixedIn: "1.29.7", source: "https://istio.io/latest/news/releases/1.29.x/announcing-1.29.7/",
    },
    {
        id: "ISTIO-SECURITY-2026-005", summary: "Envoy CVEs (CVSS up to 7.5) and Istio security fixes",
        minor: "1.30", firstAffected: "1.30.1", fixedIn: "1.30.3", source: "https://istio.io/latest/news/security/istio-security-2026-005/",
    },
    {
        id: "ISTIO-SECURITY-2026-005", summary: "Envoy CVEs (CVSS up to 7.5) and Istio security fixes",
        minor: "1.29", firstAffected: "1.29.4", fixedIn: "1.29.6", source: "https://istio.io/latest/news/security/istio-security-2026-005/",
    },
    {
        id: "ISTIO-SECURITY-2026-005", summary: "Envoy CVEs (CVSS up to 7.5) and Istio security fixes",
        minor: "1.28", firstAffected: "1.28.8", fixedIn: "1.28.10", source: "https://istio.io/latest/news/security/istio-security-2026-005/",
    },
];

/** The bulletins that affect an Istio release (pre-releases of a patch count as that patch's line). */
export function bulletinsAffecting(version: string, table: readonly IstioSecurityBulletin[] = ISTIO_SECURITY_BULLETINS): IstioSecurityBulletin[] {
    const minor = minorOf(version);
    return table.filter((b) => b.minor === minor
        && compareIstioVersions(version, b.fixedIn) < 0
        && (b.firstAffected === undefined || compareIstioVersions(version, b.firstAffected) >= 0));
}

/** The release that fixes every bulletin against `version`: the highest `fixedIn` among them. */
export function firstReleaseFixing(bulletins: readonly IstioSecurityBulletin[]): string | undefined {
    return [...bulletins].map((b) => b.fixedIn).sort(compareIstioVersions).pop();
}
