import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IstioControlPlane } from "./controlPlane";

/**
 * What writing Istio objects needs first: the root namespace they go to (for mesh-wide ones) and istiod's
 * validation webhook, ready, since it fails closed once istiod has started.
 */
export interface IstioValidation {
    /** The Istio root namespace, `istio-system`. */
    rootNamespace: pulumi.Output<string>;
    /** The default revision's istiod and the webhook that sends it Istio objects. */
    readyBefore: pulumi.Resource[];
}

export interface IstioDefaultValidatorArgs {
    /** The Kubernetes provider of the target cluster. */
    provider: k8s.Provider;
    /** The control plane whose istiod validates Istio objects that carry no `istio.io/rev` label. */
    controlPlane: IstioControlPlane;
}

/**
 * The default validation webhook (`istiod-default-validator`): every Istio object without an `istio.io/rev`
 * label — all the program writes — is validated by the default revision's istiod. It is what the base chart's
 * `defaultRevision` renders, made a resource of its own so that it is created, or moved to another revision,
 * only once that revision's istiod is ready: the base chart, which istiod needs first for the CRDs, would point it
 * at an istiod not installed yet, and refuse every Istio object in the meantime. istiod recognises it by its
 * `istio.io/rev` label, writes its CA into it and keeps it failing closed.
 */
export class IstioDefaultValidator extends pulumi.ComponentResource {
    /** The webhook configuration. */
    public readonly webhook: k8s.admissionregistration.v1.ValidatingWebhookConfiguration;
    /** What components that write Istio objects wait for. */
    public readonly validation: IstioValidation;

    constructor(name: string, args: IstioDefaultValidatorArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:istio:IstioDefaultValidator", name, {}, opts);
        const cp = args.controlPlane;
        this.webhook = new k8s.admissionregistration.v1.ValidatingWebhookConfiguration(`${name}-webhook`, {
            metadata: {
                name: "istiod-default-validator",
                labels: { app: "istiod", istio: "istiod", "istio.io/rev": cp.revision ?? "default" },
            },
            webhooks: [{
                name: "validation.istio.io",
                clientConfig: { service: { name: cp.serviceName, namespace: cp.namespaceName, path: "/validate" } },
                rules: [{
                    operations: ["CREATE", "UPDATE"],
                    apiGroups: ["security.istio.io", "networking.istio.io", "telemetry.istio.io", "extensions.istio.io"],
                    apiVersions: ["*"],
                    resources: ["*"],
                }],
                // Written once istiod answers, so failing closed from the start, as istiod keeps it.
                failurePolicy: "Fail",
                sideEffects: "None",
                admissionReviewVersions: ["v1"],
            }],
        }, { parent: this, provider: args.provider, dependsOn: cp.injection.readyBefore });
        this.validation = { rootNamespace: cp.namespaceName, readyBefore: [cp.release, this.webhook] };
        this.registerOutputs({ webhook: this.webhook.metadata.name });
    }
}
