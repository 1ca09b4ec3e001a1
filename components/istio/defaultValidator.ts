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
    /** Set when the webhook belongs to the revision tag `default` (it then carries the tag's label, as upstream's). */
    tag?: "default";
}

/** The webhook's fields that istiod owns once it runs: it writes its CA in and switches it to fail closed. */
export const ISTIOD_OWNED_WEBHOOK_FIELDS = ["webhooks[*].failurePolicy", "webhooks[*].clientConfig.caBundle"];

/**
 * The default validation webhook (`istiod-default-validator`): every Istio object without an `istio.io/rev`
 * label — all the program writes — is validated by the default revision's istiod. It is what Istio renders for the
 * default revision (the `default` chart behind `istioctl tag set default`): created failing open (`Ignore`, no
 * CA), selecting only objects without an `istio.io/rev` label, so that an object of another revision goes to that
 * revision's own validator during a canary. istiod recognises it by its `istio.io/rev` label, writes its CA into
 * it and, once its own webhook refuses an invalid object, switches it to `Fail`: there is no moment in which the
 * API server refuses Istio objects because it cannot yet verify istiod's certificate.
 *
 * It is a resource of its own rather than the base chart's, so that it is created, or moved to another revision,
 * only once that revision's istiod is ready: the base chart, which istiod needs first for the CRDs, would point it
 * at an istiod not installed yet (and after an upgrade of the base chart it no longer fails open). The program
 * never takes back what istiod owns (`ISTIOD_OWNED_WEBHOOK_FIELDS`); a move re-applies the webhook with
 * `pulumi.com/patchForce`, which opens it for the moment until the new revision's istiod closes it again.
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
                labels: {
                    app: "istiod", istio: "istiod", "istio.io/rev": cp.revision ?? "default", "app.kubernetes.io/name": "istiod",
                    ...(args.tag ? { "istio.io/tag": args.tag } : {}),
                },
                // Applied over istiod's fields when the webhook moves to another revision (see above).
                annotations: { "pulumi.com/patchForce": "true" },
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
                // Fail open until istiod has written its CA in and checked its webhook; istiod then makes it Fail.
                failurePolicy: "Ignore",
                sideEffects: "None",
                admissionReviewVersions: ["v1"],
                objectSelector: { matchExpressions: [{ key: "istio.io/rev", operator: "DoesNotExist" }] },
            }],
        }, { parent: this, provider: args.provider, dependsOn: cp.injection.readyBefore, ignoreChanges: ISTIOD_OWNED_WEBHOOK_FIELDS });
        this.validation = { rootNamespace: cp.namespaceName, readyBefore: [cp.release, this.webhook] };
        this.registerOutputs({ webhook: this.webhook.metadata.name });
    }
}
