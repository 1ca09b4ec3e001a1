import { TracingBackend, tracingExtensionProvider } from "../telemetry/meshTelemetry";

/** Istio's trust domain when none is configured (`meshConfig.trustDomain`). */
export const DEFAULT_TRUST_DOMAIN = "cluster.local";

/** The mesh-wide settings the authorization and telemetry features need from istiod. */
export interface MeshSettings {
    /** The mesh's trust domain, the first part of every workload identity (SPIFFE ID) and principal. */
    trustDomain: string;
    /** The tracing backend the Telemetry API may name, or `none`. */
    tracing: "none" | TracingBackend;
}

/**
 * The istiod chart's `meshConfig` for these settings: `trustDomain` when it is not Istio's default, and the tracing
 * backend as an extension provider. Undefined when everything is Istio's default, so the release keeps the chart's
 * own mesh configuration untouched.
 */
export function meshConfigOf(settings: MeshSettings): Record<string, unknown> | undefined {
    const meshConfig: Record<string, unknown> = {
        ...(settings.trustDomain !== DEFAULT_TRUST_DOMAIN ? { trustDomain: settings.trustDomain } : {}),
        ...(settings.tracing !== "none" ? { extensionProviders: [tracingExtensionProvider(settings.tracing)] } : {}),
    };
    return Object.keys(meshConfig).length > 0 ? meshConfig : undefined;
}
