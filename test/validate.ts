/**
 * Offline validation of the Kubernetes and Istio manifests the program produces, against the OpenAPI schemas
 * shipped by `kubernetes-models` (Kubernetes) and `@kubernetes-models/istio` (Istio CRDs).
 *
 * `@kubernetes-models/istio` 2.x (the last release for Node 20) carries Istio's `v1beta1` models; Istio serves
 * `networking.istio.io/v1` and `security.istio.io/v1` with the same schema as `v1beta1`, so `v1` objects are
 * checked against their `v1beta1` model.
 */
import { DestinationRule } from "@kubernetes-models/istio/networking.istio.io/v1beta1/DestinationRule";
import { Gateway } from "@kubernetes-models/istio/networking.istio.io/v1beta1/Gateway";
import { VirtualService } from "@kubernetes-models/istio/networking.istio.io/v1beta1/VirtualService";
import { PeerAuthentication } from "@kubernetes-models/istio/security.istio.io/v1beta1/PeerAuthentication";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { Registered } from "./harness";

interface Validatable {
    validate(): void;
}

type ModelFactory = (manifest: Record<string, unknown>) => Validatable;

/** Pulumi resource type → how to validate its manifest. */
const MODELS: Record<string, ModelFactory> = {
    "kubernetes:core/v1:Namespace": (m) => new Namespace(m as ConstructorParameters<typeof Namespace>[0]),
    // A patch carries a subset of the object's fields; it must still fit the object's schema.
    "kubernetes:core/v1:NamespacePatch": (m) => new Namespace({ ...m, kind: "Namespace" } as ConstructorParameters<typeof Namespace>[0]),
    "kubernetes:core/v1:Service": (m) => new Service(m as ConstructorParameters<typeof Service>[0]),
    "kubernetes:core/v1:ServiceAccount": (m) => new ServiceAccount(m as ConstructorParameters<typeof ServiceAccount>[0]),
    "kubernetes:apps/v1:Deployment": (m) => new Deployment(m as ConstructorParameters<typeof Deployment>[0]),
    "kubernetes:networking.istio.io/v1:Gateway": (m) => new Gateway({ ...m, apiVersion: "networking.istio.io/v1beta1" } as ConstructorParameters<typeof Gateway>[0]),
    "kubernetes:networking.istio.io/v1:VirtualService": (m) => new VirtualService({ ...m, apiVersion: "networking.istio.io/v1beta1" } as ConstructorParameters<typeof VirtualService>[0]),
    "kubernetes:networking.istio.io/v1:DestinationRule": (m) => new DestinationRule({ ...m, apiVersion: "networking.istio.io/v1beta1" } as ConstructorParameters<typeof DestinationRule>[0]),
    "kubernetes:security.istio.io/v1:PeerAuthentication": (m) => new PeerAuthentication({ ...m, apiVersion: "security.istio.io/v1beta1" } as ConstructorParameters<typeof PeerAuthentication>[0]),
};

/** Pulumi resource types that are not Kubernetes manifests (providers, Helm releases, commands). */
const NOT_MANIFESTS = /^(pulumi:providers:|kubernetes:helm\.sh\/|command:|pks-istio-mesh:)/;

/** Whether a registered resource is a manifest this module knows how to validate. */
export function isManifest(r: Registered): boolean {
    return !NOT_MANIFESTS.test(r.type);
}

/** Validates one registered manifest; throws with the schema's complaint. */
export function validateManifest(r: Registered): void {
    const model = MODELS[r.type];
    if (!model) {
        throw new Error(`no schema for ${r.type}: add its model to test/validate.ts`);
    }
    const { apiVersion, kind, metadata, spec } = r.inputs as Record<string, unknown>;
    const manifest: Record<string, unknown> = { apiVersion, kind, metadata };
    if (spec !== undefined) {
        manifest.spec = spec;
    }
    try {
        model(manifest).validate();
    } catch (e) {
        throw new Error(`${r.type} ${r.name} is invalid: ${(e as Error).message}`);
    }
}
