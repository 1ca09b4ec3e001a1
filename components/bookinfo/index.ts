/** Bookinfo: the application with sidecars, its routing, mTLS rules, authorization, and the product page check. */
export * from "./app";
export * from "./ingress";
export * from "./entry";
export * from "./gatewayApiIngress";
export * from "./waypoint";
export * from "./destinationRules";
export * from "./productPageCheck";
export * from "./authorization";
