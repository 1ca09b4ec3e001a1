/**
 * Bookinfo's authorization is on: wherever the stack runs Bookinfo, its namespace has the allow-nothing
 * AuthorizationPolicy `default-deny`, so that only the calls Bookinfo's ALLOW policies name get through
 * (bookinfoAuthorization).
 */
import { StackValidationPolicy } from "@pulumi/policy";
import { ISTIO_TYPES, Maybe, UNKNOWN, at, propertiesUnknown, stringAt } from "./resources";

/** The Deployment that tells Bookinfo is there: its product page (`bookinfo-productpage-v1` in the program). */
const PRODUCTPAGE = { type: "kubernetes:apps/v1:Deployment", name: "productpage-v1", app: "productpage" };

/** The namespace of Bookinfo's product page, if `r` is it (`UNKNOWN`: it is, in a namespace not known yet). */
function productPageNamespace(r: { type: string; name: string; props: unknown }): Maybe<string | undefined> | null {
    if (r.type !== PRODUCTPAGE.type) {
        return null;
    }
    if (propertiesUnknown(r.props)) {
        return r.name.endsWith(PRODUCTPAGE.name) ? UNKNOWN : null;
    }
    if (at(r.props, "metadata", "name") !== PRODUCTPAGE.name || at(r.props, "metadata", "labels", "app") !== PRODUCTPAGE.app) {
        return null;
    }
    return stringAt(r.props, "metadata", "namespace");
}

/** Whether an AuthorizationPolicy's spec allows nothing: no selector, no rules, action ALLOW (the default). */
function allowsNothing(spec: unknown): boolean {
    if (spec === undefined || spec === null) {
        return true;
    }
    const action = at(spec, "action");
    return typeof spec === "object" && at(spec, "selector") === undefined && at(spec, "rules") === undefined
        && (action === undefined || action === "ALLOW");
}

export const bookinfoAuthorization: StackValidationPolicy = {
    name: "bookinfo-authorization",
    description: "Bookinfo's namespace denies by default: an allow-nothing AuthorizationPolicy default-deny next to the ALLOW policies for the calls Bookinfo makes.",
    remediationSteps: "Set bookinfoAuthorization to true (the default) and run pulumi up.",
    severity: "high",
    validateStack: (args, report) => {
        // An AuthorizationPolicy whose properties the check does not see (a preview) may be the deny.
        const denies = args.resources
            .filter((r) => ISTIO_TYPES.authorizationPolicy.test(r.type) && (propertiesUnknown(r.props)
                || (at(r.props, "metadata", "name") === "default-deny" && allowsNothing(at(r.props, "spec")))))
            .map((r) => (propertiesUnknown(r.props) ? UNKNOWN : stringAt(r.props, "metadata", "namespace")));
        for (const r of args.resources) {
            const namespace = productPageNamespace(r);
            if (namespace === null) {
                continue;
            }
            if (!denies.some((ns) => ns === UNKNOWN || namespace === UNKNOWN || ns === namespace)) {
                report(`Bookinfo runs${namespace === UNKNOWN ? "" : ` in namespace ${namespace ?? "default"}`} without the allow-nothing AuthorizationPolicy default-deny: every workload there accepts calls from anyone in the mesh.`, r.urn);
            }
        }
    },
};
