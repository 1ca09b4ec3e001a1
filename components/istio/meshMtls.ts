import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IstioValidation } from "./defaultValidator";
import { PeerAuthentication } from "./resources";

export interface MeshMtlsArgs {
    /** The Kubernetes provider of the target cluster. */
    provider: k8s.Provider;
    /** The root namespace, and the default validation webhook, which must answer first. */
    validation: IstioValidation;
    /** `STRICT` (only mutual TLS between workloads) or `PERMISSIVE` (mutual TLS and plain text). Defaults to `STRICT`. */
    mode?: "STRICT" | "PERMISSIVE";
}

/**
 * Mesh-wide mutual TLS: the PeerAuthentication `default`, without a selector, in the root namespace. It is
 * today's form of what Istio 1.0's `istio-demo-auth.yaml` did with its mesh policy.
 */
export class MeshMtls extends pulumi.ComponentResource {
    /** The mesh-wide PeerAuthentication. */
    public readonly peerAuthentication: PeerAuthentication;

    constructor(name: string, args: MeshMtlsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:istio:MeshMtls", name, {}, opts);
        this.peerAuthentication = new PeerAuthentication(`${name}-default`, {
            metadata: { name: "default", namespace: args.validation.rootNamespace },
            spec: { mtls: { mode: args.mode ?? "STRICT" } },
        }, { parent: this, provider: args.provider, dependsOn: args.validation.readyBefore });
        this.registerOutputs({});
    }
}
