import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IstioControlPlane } from "./controlPlane";
import { SidecarInjection, injectionLabels } from "./injection";

export interface IstioRevisionTagArgs {
    /** The Kubernetes provider of the target cluster. */
    provider: k8s.Provider;
    /** The tag, e.g. `prod-stable`; `default` also takes over the default revision's selectors. */
    tag: string;
    /** The revision the tag points at. Moving the tag is an in-place update of its webhook. */
    controlPlane: IstioControlPlane;
}

/** A webhook selector term, as Kubernetes takes it. */
type Requirement = { key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] };

/**
 * A revision tag: a stable name (`istio.io/rev=<tag>`) for namespaces and pods that follows whichever revision
 * it points at — what `istioctl tag set` makes and the istiod chart's `revisionTags` render: the
 * MutatingWebhookConfiguration `istio-revision-tag-<tag>`, whose webhooks select the tag and call the revision's
 * istiod (istiod recognises it by its `istio.io/rev` label and writes its CA into it), and the Service
 * `istiod-revision-tag-<tag>`, which selects the revision's istiod pods: istiod counts a tag as its own by either
 * (its tag watcher), and proxies and gateways of the tag can reach their control plane under the tag's name.
 *
 * The tag is a resource of its own rather than a value of a revision's istiod release, so that moving it is one
 * in-place update of one object (no Helm release has to let go of it before another takes it), ordered after
 * the new revision is ready and before the workloads that select the tag roll onto it.
 */
export class IstioRevisionTag extends pulumi.ComponentResource {
    /** The tag's webhook configuration. */
    public readonly webhook: k8s.admissionregistration.v1.MutatingWebhookConfiguration;
    /** The tag's Service (`istiod-revision-tag-<tag>`), selecting the istiod pods of the revision it points at. */
    public readonly service: k8s.core.v1.Service;
    /** Injection through the tag: labels select the tag; annotations name the revision it points at. */
    public readonly injection: SidecarInjection;

    constructor(name: string, args: IstioRevisionTagArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:istio:IstioRevisionTag", name, {}, opts);
        const cp = args.controlPlane;
        const revision = cp.revision ?? "default";
        const webhook = (prefix: string, namespaceSelector: Requirement[], objectSelector: Requirement[]): k8s.types.input.admissionregistration.v1.MutatingWebhook => ({
            name: `${prefix}sidecar-injector.istio.io`,
            clientConfig: { service: { name: cp.serviceName, namespace: cp.namespaceName, path: "/inject", port: 443 } },
            sideEffects: "None",
            rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"] }],
            failurePolicy: "Fail",
            reinvocationPolicy: "Never",
            admissionReviewVersions: ["v1"],
            namespaceSelector: { matchExpressions: namespaceSelector },
            objectSelector: { matchExpressions: objectSelector },
        });
        const notDisabled: Requirement = { key: "sidecar.istio.io/inject", operator: "NotIn", values: ["false"] };
        const webhooks = [
            // Namespaces labelled with the tag (and not with istio-injection).
            webhook("rev.namespace.", [{ key: "istio.io/rev", operator: "In", values: [args.tag] }, { key: "istio-injection", operator: "DoesNotExist" }], [notDisabled]),
            // Pods labelled with the tag in namespaces without injection labels.
            webhook("rev.object.", [{ key: "istio.io/rev", operator: "DoesNotExist" }, { key: "istio-injection", operator: "DoesNotExist" }],
                [notDisabled, { key: "istio.io/rev", operator: "In", values: [args.tag] }]),
        ];
        if (args.tag === "default") {
            // The default tag also answers the default revision's selectors.
            webhooks.push(
                webhook("namespace.", [{ key: "istio-injection", operator: "In", values: ["enabled"] }], [notDisabled]),
                webhook("object.", [{ key: "istio-injection", operator: "DoesNotExist" }, { key: "istio.io/rev", operator: "DoesNotExist" }],
                    [{ key: "sidecar.istio.io/inject", operator: "In", values: ["true"] }, { key: "istio.io/rev", operator: "DoesNotExist" }]),
            );
        }
        this.webhook = new k8s.admissionregistration.v1.MutatingWebhookConfiguration(`${name}-webhook`, {
            metadata: {
                name: `istio-revision-tag-${args.tag}`,
                labels: {
                    "istio.io/tag": args.tag, "istio.io/rev": revision, app: "sidecar-injector",
                    "operator.istio.io/component": "Pilot", "app.kubernetes.io/name": "istiod",
                },
            },
            webhooks,
        }, { parent: this, provider: args.provider, dependsOn: cp.injection.readyBefore });

        // As the istiod chart's revision-tags-svc.yaml renders it (a copy of istiod's own Service).
        this.service = new k8s.core.v1.Service(`${name}-service`, {
            metadata: {
                name: `istiod-revision-tag-${args.tag}`,
                namespace: cp.namespaceName,
                labels: {
                    "istio.io/rev": revision, "istio.io/tag": args.tag, app: "istiod", istio: "pilot",
                    "operator.istio.io/component": "Pilot", "app.kubernetes.io/name": "istiod",
                },
            },
            spec: {
                ports: [
                    { port: 15010, name: "grpc-xds", protocol: "TCP" },
                    { port: 15012, name: "https-dns", protocol: "TCP" },
                    { port: 443, name: "https-webhook", targetPort: 15017, protocol: "TCP" },
                    { port: 15014, name: "http-monitoring", protocol: "TCP" },
                ],
                selector: cp.revision ? { app: "istiod", "istio.io/rev": cp.revision } : { app: "istiod", istio: "pilot" },
            },
        }, { parent: this, provider: args.provider, dependsOn: cp.injection.readyBefore });

        this.injection = {
            selector: args.tag,
            ...injectionLabels(args.tag),
            workloadAnnotations: cp.injection.workloadAnnotations,
            readyBefore: [...cp.injection.readyBefore, this.webhook, this.service],
        };
        this.registerOutputs({ webhook: this.webhook.metadata.name, service: this.service.metadata.name });
    }
}
