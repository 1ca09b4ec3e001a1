import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IstioValidation } from "./defaultValidator";
import { AuthorizationPolicy } from "./resources";

export interface MeshDefaultDenyArgs {
    /** The Kubernetes provider of the target cluster. */
    provider: k8s.Provider;
    /** The root namespace, and the default validation webhook, which admits the policy. */
    validation: IstioValidation;
    /**
     * What must exist first, and go last: the ALLOW policies (or components holding them) that the mesh's workloads
     * need, e.g. `BookinfoAuthorization`. Without them nothing in the mesh answers anyone.
     */
    after?: pulumi.Resource[];
}

/**
 * Zero trust for the whole mesh: the AuthorizationPolicy `default-deny`, with an empty spec, in the root namespace,
 * applies to every workload with a proxy, gateways included, in every namespace: each then refuses every request
 * that no ALLOW policy of its own admits. Workloads without a proxy (the telemetry add-ons, istiod) are not
 * affected, nor are probes and metrics scrapes (they go to the Istio agent's ports, outside Envoy's listeners).
 *
 * It is created after the ALLOW policies in `after`, and so deleted before them: a running mesh never sees the
 * deny without its exceptions.
 */
export class MeshDefaultDeny extends pulumi.ComponentResource {
    /** The root namespace's allow-nothing policy. */
    public readonly policy: AuthorizationPolicy;

    constructor(name: string, args: MeshDefaultDenyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:istio:MeshDefaultDeny", name, {}, opts);
        this.policy = new AuthorizationPolicy(`${name}-default-deny`, {
            metadata: { name: "default-deny", namespace: args.validation.rootNamespace },
            spec: {},
        }, { parent: this, provider: args.provider, dependsOn: [...args.validation.readyBefore, ...args.after ?? []] });
        this.registerOutputs({});
    }
}
