import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IstioValidation } from "../istio/defaultValidator";
import { DestinationRule } from "../istio/resources";

/** Bookinfo's services and the subsets (versions) the sample's destination rules declare. */
export const BOOKINFO_SUBSETS: ReadonlyArray<{ host: string; versions: string[] }> = [
    { host: "productpage", versions: ["v1"] },
    { host: "reviews", versions: ["v1", "v2", "v3"] },
    { host: "ratings", versions: ["v1", "v2", "v2-mysql", "v2-mysql-vm"] },
    { host: "details", versions: ["v1", "v2"] },
];

export interface BookinfoDestinationRulesArgs {
    /** The Kubernetes provider of the target cluster. */
    provider: k8s.Provider;
    /** The default validation webhook (ready), which admits these custom resources. */
    validation: IstioValidation;
    /** Bookinfo's namespace. */
    namespace: pulumi.Input<string>;
    /**
     * Require Istio mutual TLS from clients (`trafficPolicy.tls.mode: ISTIO_MUTUAL`, as in
     * `destination-rule-all-mtls.yaml`). With `false` the rules only declare subsets and auto-mTLS applies.
     * Defaults to `true`.
     */
    mtls?: boolean;
}

/** Bookinfo's DestinationRules (`samples/bookinfo/networking/destination-rule-all-mtls.yaml`). */
export class BookinfoDestinationRules extends pulumi.ComponentResource {
    /** The rules by host. */
    public readonly rules: Record<string, DestinationRule> = {};

    constructor(name: string, args: BookinfoDestinationRulesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:bookinfo:BookinfoDestinationRules", name, {}, opts);
        const mtls = args.mtls ?? true;
        for (const { host, versions } of BOOKINFO_SUBSETS) {
            this.rules[host] = new DestinationRule(`${name}-${host}`, {
                metadata: { name: host, namespace: args.namespace },
                spec: {
                    host,
                    ...(mtls ? { trafficPolicy: { tls: { mode: "ISTIO_MUTUAL" } } } : {}),
                    subsets: versions.map((version) => ({ name: version, labels: { version } })),
                },
            }, { parent: this, provider: args.provider, dependsOn: args.validation.readyBefore });
        }
        this.registerOutputs({});
    }
}
