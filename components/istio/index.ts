/**
 * Istio: CRDs, CNI, control planes and revision tags, validation, mutual TLS, the ingress gateway, namespaces; the
 * Gateway API's CRDs and ztunnel (ambient).
 */
export * from "./base";
export * from "./cni";
export * from "./controlPlane";
export * from "./dataPlaneVersions";
export * from "./defaultValidator";
export * from "./injection";
export * from "./meshNamespace";
export * from "./namespaceOwnership";
export * from "./namespaceLabelRemoval";
export * from "./revisionGuard";
export * from "./revisionTag";
export * from "./ingressGateway";
export * from "./meshMtls";
export * from "./resources";
export * from "./meshSettings";
export * from "./meshDefaultDeny";
export * from "./gatewayApiCrds";
export * from "./gatewayApiResources";
export * from "./ztunnel";
export type { IstioChartSource } from "./chart";
