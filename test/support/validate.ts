/**
 * Offline validation of the manifests the program produces:
 * - Kubernetes kinds against the OpenAPI schemas shipped by `kubernetes-models`;
 * - Istio kinds against the CustomResourceDefinitions of both Istio releases the project is tested with (the base
 *   chart's `crd-all.gen.yaml` of 1.31, what users install by default, and of 1.30, which stays supported), the
 *   way kube-apiserver checks a custom resource on create — unknown fields, the structural schema, list types
 *   and the CEL rules — by `crd-validate` (tools/crd-validate: apiextensions-apiserver of the local
 *   control plane's release). Both come from the tool cache (`tools/tools.sh istio_charts
 *   istio_charts_previous crd_validate`, which `npm test` runs first).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { MutatingWebhookConfiguration } from "kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration";
import { ValidatingWebhookConfiguration } from "kubernetes-models/admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { toolVersions, toolsBin } from "../../local/workspace";
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
    "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration": (m) => new MutatingWebhookConfiguration(m as ConstructorParameters<typeof MutatingWebhookConfiguration>[0]),
    "kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration": (m) => new ValidatingWebhookConfiguration(m as ConstructorParameters<typeof ValidatingWebhookConfiguration>[0]),
};

/** Istio's API groups: their kinds are checked against Istio's CRDs. */
const ISTIO_TYPE = /^kubernetes:[a-z.]*istio\.io\/[a-z0-9]+:/;

/** Pulumi resource types that are not Kubernetes manifests (providers, Helm releases, commands). */
const NOT_MANIFESTS = /^(pulumi:providers:|kubernetes:helm\.sh\/|command:|pks-istio-mesh:)/;

/** Whether a registered resource is a manifest this module knows how to validate. */
export function isManifest(r: Registered): boolean {
    return !NOT_MANIFESTS.test(r.type);
}

function manifestOf(r: Registered): Record<string, unknown> {
    const { apiVersion, kind, metadata, spec, webhooks } = r.inputs as Record<string, unknown>;
    return { apiVersion, kind, metadata, ...(spec === undefined ? {} : { spec }), ...(webhooks === undefined ? {} : { webhooks }) };
}

/** The Istio releases whose CRDs every Istio object must pass: the default one and the previous minor. */
export const VALIDATED_ISTIO_RELEASES = [toolVersions().ISTIO_VERSION, toolVersions().ISTIO_PREVIOUS_VERSION];

/** Where the validator and a release's Istio CRDs are; fails with what to run when the tool cache lacks them. */
function istioValidator(release: string): { binary: string; crds: string } {
    const bin = toolsBin();
    const binary = path.join(bin, "crd-validate");
    const crds = path.join(bin, `istio-charts-${release}`, "base", "files", "crd-all.gen.yaml");
    for (const file of [binary, crds]) {
        if (!fs.existsSync(file)) {
            throw new Error(`${file} is missing: run \`tools/tools.sh istio_charts istio_charts_previous crd_validate\` (npm test runs it first)`);
        }
    }
    return { binary, crds };
}

/**
 * One line per problem of the Istio objects, as kube-apiserver with each release's CRDs would report them on
 * create (each error names the release).
 */
export function istioProblems(objects: Array<Record<string, unknown>>, releases: readonly string[] = VALIDATED_ISTIO_RELEASES): Array<{ name: string; kind: string; errors: string[] }> {
    const results = releases.map((release) => {
        const { binary, crds } = istioValidator(release);
        const run = spawnSync(binary, [crds], { input: JSON.stringify(objects), encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
        if (run.status !== 0) {
            throw new Error(`crd-validate failed (${run.status ?? run.signal}): ${run.stderr}`);
        }
        return (JSON.parse(run.stdout) as Array<{ name: string; kind: string; errors: string[] }>)
            .map((r) => ({ ...r, errors: r.errors.map((e) => `Istio ${release}: ${e}`) }));
    });
    return objects.map((_, i) => ({ ...results[0][i], errors: results.flatMap((r) => r[i].errors) }));
}

/** Validates the registered manifests; throws with every schema complaint. */
export function validateManifests(registered: Registered[]): void {
    const problems: string[] = [];
    const istio = registered.filter((r) => ISTIO_TYPE.test(r.type));
    for (const r of registered.filter((r) => !ISTIO_TYPE.test(r.type))) {
        const model = MODELS[r.type];
        if (!model) {
            problems.push(`no schema for ${r.type}: add its model to test/validate.ts`);
            continue;
        }
        try {
            model(manifestOf(r)).validate();
        } catch (e) {
            problems.push(`${r.type} ${r.name} is invalid: ${(e as Error).message}`);
        }
    }
    if (istio.length > 0) {
        istioProblems(istio.map(manifestOf)).forEach((result, i) => {
            if (result.errors.length > 0) {
                problems.push(`${istio[i].type} ${istio[i].name} is invalid: ${result.errors.join("; ")}`);
            }
        });
    }
    if (problems.length > 0) {
        throw new Error(problems.join("\n"));
    }
}

/** Validates one registered manifest; throws with the schema's complaint. */
export function validateManifest(r: Registered): void {
    validateManifests([r]);
}
