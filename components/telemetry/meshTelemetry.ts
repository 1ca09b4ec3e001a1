import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IstioValidation } from "../istio/defaultValidator";
import { Telemetry, TelemetrySpec } from "../istio/resources";
import { JAEGER_COLLECTOR } from "./manifests";

/** The tracing backends the program can point the mesh at. */
export type TracingBackend = "jaeger";

/** Istio's sampling percentage when none is set (`meshConfig.defaultConfig.tracing.sampling`'s default). */
export const DEFAULT_TRACING_SAMPLING = 1;

/**
 * The `meshConfig.extensionProviders` entry of a tracing backend, which a Telemetry resource names: Jaeger's
 * collector (the Jaeger add-on, in the root namespace) over OpenTelemetry (OTLP/gRPC).
 */
export function tracingExtensionProvider(backend: TracingBackend, rootNamespace = "istio-system"): Record<string, unknown> {
    return {
        name: backend,
        opentelemetry: { service: `${JAEGER_COLLECTOR.service}.${rootNamespace}.svc.cluster.local`, port: JAEGER_COLLECTOR.port },
    };
}

export interface MeshTelemetryArgs {
    /** The Kubernetes provider of the target cluster. */
    provider: k8s.Provider;
    /** The root namespace, and the default validation webhook, which admits the Telemetry. */
    validation: IstioValidation;
    /** Report the standard Istio metrics to Prometheus (the built-in `prometheus` provider). */
    metrics?: boolean;
    /**
     * Trace requests with this backend, which must be one of `meshConfig.extensionProviders` (see
     * `tracingExtensionProvider`); unset: no tracing.
     */
    tracing?: { backend: TracingBackend; samplingPercentage?: number };
    /** Write Envoy's access log of every request to the proxies' stdout (the built-in `envoy` provider). */
    accessLogging?: boolean;
}

/**
 * The mesh's telemetry, set with Istio's Telemetry API: the Telemetry `mesh-default` in the root namespace, which
 * applies to every workload of the mesh — metrics to Prometheus, tracing with a sampling percentage, access
 * logging on or off.
 */
export class MeshTelemetry extends pulumi.ComponentResource {
    /** The mesh-wide Telemetry. */
    public readonly telemetry: Telemetry;
    /** Its spec. */
    public readonly spec: TelemetrySpec;

    constructor(name: string, args: MeshTelemetryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:telemetry:MeshTelemetry", name, {}, opts);
        this.spec = {
            ...(args.metrics ? { metrics: [{ providers: [{ name: "prometheus" }] }] } : {}),
            ...(args.tracing ? {
                tracing: [{
                    providers: [{ name: args.tracing.backend }],
                    randomSamplingPercentage: args.tracing.samplingPercentage ?? DEFAULT_TRACING_SAMPLING,
                }],
            } : {}),
            accessLogging: [{ providers: [{ name: "envoy" }], disabled: !args.accessLogging }],
        };
        this.telemetry = new Telemetry(`${name}-default`, {
            metadata: { name: "mesh-default", namespace: args.validation.rootNamespace },
            spec: this.spec,
        }, { parent: this, provider: args.provider, dependsOn: args.validation.readyBefore });
        this.registerOutputs({});
    }
}
