/**
 * Mutual TLS, mesh-wide and strict: no PeerAuthentication that accepts plain text, no DestinationRule that sends
 * it, and a mesh-wide STRICT PeerAuthentication wherever the stack installs an istiod (Istio's default without
 * one is PERMISSIVE).
 */
import { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { HELM_RELEASE, ISTIO_TYPES, UNKNOWN, at, describe, elementsAt, entriesAt, istioChartRelease, propertiesUnknown, stringAt } from "./resources";

/** PeerAuthentication modes that accept plain text. */
const RELAXED_PEER_MODES = ["PERMISSIVE", "DISABLE"];

export const mtlsStrict: ResourceValidationPolicy = {
    name: "istio-mtls-strict",
    description: "Mutual TLS is never relaxed: no PeerAuthentication in PERMISSIVE or DISABLE mode (mesh-wide, per workload or per port), no DestinationRule with TLS mode DISABLE.",
    remediationSteps: "Set mtlsMode to STRICT (pulumi config set mtlsMode STRICT); for a workload that must accept plain text, keep it outside the mesh instead of relaxing mutual TLS.",
    severity: "critical",
    validateResource: (args, report) => {
        if (ISTIO_TYPES.peerAuthentication.test(args.type)) {
            const modes: Array<[string, unknown]> = [
                ["spec.mtls.mode", at(args.props, "spec", "mtls", "mode")],
                ...entriesAt(args.props, "spec", "portLevelMtls").map(([port, mtls]): [string, unknown] => [`spec.portLevelMtls[${port}].mode`, at(mtls, "mode")]),
            ];
            for (const [where, mode] of modes) {
                if (typeof mode === "string" && RELAXED_PEER_MODES.includes(mode)) {
                    report(`PeerAuthentication ${describe(args.props)} sets ${where} to ${mode}: workloads would accept plain text; use STRICT.`);
                }
            }
        }
        if (ISTIO_TYPES.destinationRule.test(args.type)) {
            const policies: Array<[string, unknown]> = [
                ["spec.trafficPolicy", at(args.props, "spec", "trafficPolicy")],
                ...elementsAt(args.props, "spec", "subsets").map((subset, i): [string, unknown] => [`spec.subsets[${i}].trafficPolicy`, at(subset, "trafficPolicy")]),
            ];
            for (const [where, policy] of policies) {
                const tls: Array<[string, unknown]> = [
                    [`${where}.tls.mode`, at(policy, "tls", "mode")],
                    ...elementsAt(policy, "portLevelSettings").map((p, i): [string, unknown] => [`${where}.portLevelSettings[${i}].tls.mode`, at(p, "tls", "mode")]),
                ];
                for (const [path, mode] of tls) {
                    if (mode === "DISABLE") {
                        report(`DestinationRule ${describe(args.props)} sets ${path} to DISABLE: clients would send plain text; use ISTIO_MUTUAL or leave it to auto-mTLS.`);
                    }
                }
            }
        }
    },
};

export const meshMtlsRequired: StackValidationPolicy = {
    name: "istio-mesh-mtls-required",
    description: "A stack that installs an istiod also declares the mesh-wide PeerAuthentication of its root namespace, without a selector, in STRICT mode.",
    remediationSteps: "Keep the program's MeshMtls component (mtlsMode STRICT); it writes the PeerAuthentication `default` in istio-system.",
    severity: "critical",
    validateStack: (args, report) => {
        const rootNamespaces = args.resources.flatMap((r) => {
            if (r.type === HELM_RELEASE && propertiesUnknown(r.props)) {
                // A preview: the program's istiod releases are `…istiod`.
                return /(^|-)istiod$/.test(r.name) ? [{ urn: r.urn, namespace: UNKNOWN }] : [];
            }
            const release = istioChartRelease(r.type, r.props);
            if (release?.chart !== "istiod") {
                return [];
            }
            const root = stringAt(r.props, "values", "meshConfig", "rootNamespace");
            const namespace = root === undefined ? stringAt(r.props, "namespace") : root;
            return [{ urn: r.urn, namespace }];
        });
        // A PeerAuthentication whose properties the check does not see (a preview) may be the mesh-wide one.
        const meshWide = args.resources.filter((r) => ISTIO_TYPES.peerAuthentication.test(r.type) && (propertiesUnknown(r.props)
            || (at(r.props, "spec", "mtls", "mode") === "STRICT" && Object.keys(at(r.props, "spec", "selector", "matchLabels") ?? {}).length === 0)))
            .map((r) => (propertiesUnknown(r.props) ? UNKNOWN : stringAt(r.props, "metadata", "namespace")));
        for (const { urn, namespace } of rootNamespaces) {
            const covered = meshWide.some((ns) => ns === UNKNOWN || namespace === UNKNOWN || ns === namespace);
            if (!covered) {
                report(`the istiod release installs a mesh${namespace === UNKNOWN ? "" : ` in namespace ${String(namespace)}`} without a mesh-wide STRICT PeerAuthentication there: Istio then accepts plain text (PERMISSIVE) everywhere.`, urn);
            }
        }
    },
};
