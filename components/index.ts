/** The program's components, one folder per layer (see DEVELOPMENT.md, "Layout"). */
export * from "./pks";
export * from "./istio";
export * from "./bookinfo";
export * from "./telemetry";
