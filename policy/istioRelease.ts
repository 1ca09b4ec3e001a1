/**
 * No Istio release under a published security bulletin: every Istio chart the stack installs is checked against the
 * program's own table of Istio's bulletins (components/istio/securityBulletins.ts), the same table the program
 * warns with at preview. A bulletin the platform team has assessed (mitigated, or its feature unused) can be
 * accepted by its id in the rule's configuration.
 */
import { ResourceValidationPolicy } from "@pulumi/policy";
import { IstioSecurityBulletin, bulletinsAffecting, firstReleaseFixing } from "../components/istio/securityBulletins";
import { UNKNOWN, istioChartRelease } from "./resources";

/** The configuration of the bulletin rule. */
export interface BulletinConfig {
    /** Bulletin ids (`ISTIO-SECURITY-2026-006`, `GHSA-…`) accepted after review. */
    acceptedBulletins?: string[];
}

export const istioReleaseWithoutBulletin: ResourceValidationPolicy = {
    name: "istio-release-no-security-bulletin",
    description: "Every Istio chart the stack installs is a release that no published Istio security bulletin affects (the program's bulletin table).",
    remediationSteps: "Upgrade to the first fixed patch the message names (istioVersion, or the revision's version); or, once the team has assessed the bulletin, list its id in this rule's acceptedBulletins.",
    severity: "critical",
    configSchema: {
        properties: {
            acceptedBulletins: {
                type: "array",
                items: { type: "string" },
                default: [],
                description: "Ids of bulletins the team has assessed and accepts for now (e.g. ISTIO-SECURITY-2026-006).",
            },
        },
    },
    validateResource: (args, report) => {
        const release = istioChartRelease(args.type, args.props);
        if (release === undefined || release.version === UNKNOWN) {
            return;
        }
        if (release.version === undefined) {
            report(`cannot tell which Istio release the ${release.chart} chart ${release.reference} is (looked for it in ${release.versionSource}); pin the chart's version or give the chart directory's absolute path.`);
            return;
        }
        const accepted = new Set(args.getConfig<BulletinConfig>().acceptedBulletins ?? []);
        const affecting = bulletinsOf(release.version);
        if (affecting === undefined) {
            report(`the ${release.chart} chart's version ${release.version} is not an Istio release (e.g. 1.31.1): its bulletins cannot be checked.`);
            return;
        }
        const bulletins = affecting.filter((b) => !accepted.has(b.id));
        if (bulletins.length > 0) {
            const list = bulletins.map((b) => `${b.id} (${b.summary}; fixed in ${b.fixedIn}: ${b.source})`).join("; ");
            report(`Istio ${release.version} (chart ${release.chart}) is affected by ${list}. Upgrade to ${firstReleaseFixing(bulletins)} or later.`);
        }
    },
};

/** The bulletins against an Istio release; undefined when the version is not one. */
function bulletinsOf(version: string): IstioSecurityBulletin[] | undefined {
    try {
        return bulletinsAffecting(version);
    } catch {
        return undefined;
    }
}
