/** In production, Istio's ingress names its hosts: no Gateway server or VirtualService accepts any host (`*`). */
import { ResourceValidationPolicy } from "@pulumi/policy";
import { PackEnvironment } from "./environment";
import { ISTIO_TYPES, describe, elementsAt } from "./resources";
import { productionScopeSchema, requireProductionScope } from "./scope";

/** Whether a Gateway or VirtualService host (`[namespace/]dnsName`) matches every host name. */
export function isAnyHost(host: string): boolean {
    return host.split("/").pop() === "*";
}

export function hostsNotWildcard(environment: PackEnvironment): ResourceValidationPolicy {
    return {
        name: "istio-hosts-not-wildcard",
        description: "In production, Istio Gateways and VirtualServices name the hosts they serve: none accepts `*` (any host).",
        remediationSteps: "Set bookinfoHosts to the host names Bookinfo is published under, e.g. pulumi config set --path 'bookinfoHosts[0]' bookinfo.example.com.",
        severity: "high",
        configSchema: productionScopeSchema,
        validateResource: (args, report) => {
            const gateway = ISTIO_TYPES.gateway.test(args.type);
            const virtualService = ISTIO_TYPES.virtualService.test(args.type);
            if (!gateway && !virtualService) {
                return;
            }
            requireProductionScope(environment, args);
            const hosts = gateway
                ? elementsAt(args.props, "spec", "servers").flatMap((server, i) => elementsAt(server, "hosts").map((h) => [`spec.servers[${i}].hosts`, h] as const))
                : elementsAt(args.props, "spec", "hosts").map((h) => ["spec.hosts", h] as const);
            for (const [where, host] of hosts) {
                if (typeof host === "string" && isAnyHost(host)) {
                    report(`${gateway ? "Gateway" : "VirtualService"} ${describe(args.props)} accepts any host (${where} has ${JSON.stringify(host)}); name the hosts it serves.`);
                }
            }
        },
    };
}
