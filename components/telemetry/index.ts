/** Telemetry, opt-in: Istio's add-ons (verified and hardened) and the mesh's Telemetry resource. */
export * from "./manifests";
export * from "./verification";
export * from "./hardening";
export * from "./telemetryAddon";
export * from "./meshTelemetry";
