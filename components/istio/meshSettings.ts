/** Istio's trust domain when none is configured (`meshConfig.trustDomain`). */
export const DEFAULT_TRUST_DOMAIN = "cluster.local";

/** The mesh-wide settings the authorization and telemetry features need from istiod. */
export interface MeshSettings {
    /** The mesh's trust domain, the first part of every workload identity (SPIFFE ID) and principal. */
    trustDomain: string;
    /**
     * The `meshConfig.extensionProviders` entry of the tracing backend the Telemetry API may name
     * (telemetry/meshTelemetry.ts's `tracingExtensionProvider`); unset: no tracing.
     */
    tracingProvider?: Record<string, unknown>;
}

/**
 * The istiod chart's `meshConfig` for these settings: `trustDomain` when it is not Istio's default, and the tracing
 * backend as an extension provider. Undefined when everything is Istio's default, so the release keeps the chart's
 * own mesh configuration untouched.
 */
export function meshConfigOf(settings: MeshSettings): Record<string, unknown> | undefined {
    const meshConfig: Record<string, unknown> = {
        ...(settings.trustDomain !== DEFAULT_TRUST_DOMAIN ? { trustDomain: settings.trustDomain } : {}),
        ...(settings.tracingProvider !== undefined ? { extensionProviders: [settings.tracingProvider] } : {}),
    };
    return Object.keys(meshConfig).length > 0 ? meshConfig : undefined;
}
