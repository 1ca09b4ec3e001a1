/**
 * Removes namespace labels that would stop Istio's injection webhooks from selecting a namespace, and puts them
 * back when asked. Run by `NamespaceLabelRemoval` through the command provider as
 *   node components/launcher/run.js components/istio/namespaceLabels.ts <remove|restore>
 * with NAMESPACE_LABELS_KUBECONFIG (the kubeconfig's text, a secret), NAMESPACE_LABELS_NAMESPACE and
 * NAMESPACE_LABELS_REMOVE (JSON: label key → the one value to keep, or null to remove any value) in the
 * environment.
 *
 * - `remove` deletes those labels from the namespace (unless a label has its value to keep) and prints `{"namespace": …, "removed": {key: value}}`:
 *   what it found, merged with what an earlier run found (PULUMI_COMMAND_STDOUT), so that the original values
 *   survive any number of updates.
 * - `restore` puts each recorded label back (from PULUMI_COMMAND_STDOUT) unless the label was set again
 *   meanwhile or the namespace is gone.
 *
 * stdout carries no secret; errors are one line, `namespace-labels: <step>: <reason>`, with exit status 1.
 */
import { CoreV1Api, PatchStrategy, V1ManagedFieldsEntry, setHeaderOptions } from "@kubernetes/client-node";
import { StepError, apiMessage as reason, isNotFound, kubeconfigFromEnv, requiredEnv as required, runScript } from "./kubeApi";

/** What `remove` prints and `restore` reads. */
export interface RemovedLabels {
    namespace: string;
    /** The removed labels and their values. */
    removed: Record<string, string>;
}

function previous(namespace: string): Record<string, string> {
    const text = process.env.PULUMI_COMMAND_STDOUT?.trim();
    if (!text) {
        return {};
    }
    try {
        const doc = JSON.parse(text) as Partial<RemovedLabels>;
        return doc.namespace === namespace && doc.removed ? doc.removed : {};
    } catch {
        return {};
    }
}

/** Whether every field manager that set this label is a Pulumi Kubernetes provider's. */
function onlyPulumiOwns(managedFields: V1ManagedFieldsEntry[], label: string): boolean {
    const owners = managedFields.filter((entry) => {
        const labels = ((entry.fieldsV1 as Record<string, Record<string, unknown>> | undefined)?.["f:metadata"]?.["f:labels"] ?? {}) as Record<string, unknown>;
        return `f:${label}` in labels;
    }).map((entry) => entry.manager ?? "");
    return owners.length > 0 && owners.every((manager) => manager.startsWith("pulumi-kubernetes"));
}

async function patchLabels(api: CoreV1Api, namespace: string, labels: Record<string, string | null>): Promise<void> {
    await api.patchNamespace({ name: namespace, body: { metadata: { labels } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
}

async function main(operation: string | undefined): Promise<void> {
    if (operation !== "remove" && operation !== "restore") {
        throw new StepError(`unknown operation '${operation ?? ""}': expected remove or restore`);
    }
    const namespace = required("NAMESPACE_LABELS_NAMESPACE");
    let rules: Record<string, string | null>;
    try {
        rules = JSON.parse(required("NAMESPACE_LABELS_REMOVE")) as Record<string, string | null>;
    } catch {
        throw new StepError("reading inputs: NAMESPACE_LABELS_REMOVE is not a JSON object of label keys");
    }
    const api = kubeconfigFromEnv("NAMESPACE_LABELS_KUBECONFIG").makeApiClient(CoreV1Api);
    const known = previous(namespace);
    if (operation === "remove") {
        const current = await api.readNamespace({ name: namespace }).catch((e: unknown) => {
            throw new StepError(`reading namespace ${namespace}: ${reason(e)}`);
        });
        const labels = current.metadata?.labels ?? {};
        const found = Object.fromEntries(Object.entries(rules)
            .filter(([k, keep]) => labels[k] !== undefined && labels[k] !== keep).map(([k]) => [k, labels[k]]));
        // A label only this program's own patches set (a label of an earlier configuration) is not the namespace's
        // own: it goes, but is not put back on destroy.
        const programs = Object.keys(found).filter((k) => onlyPulumiOwns(current.metadata?.managedFields ?? [], k));
        if (Object.keys(found).length > 0) {
            await patchLabels(api, namespace, Object.fromEntries(Object.keys(found).map((k) => [k, null]))).catch((e: unknown) => {
                throw new StepError(`removing label(s) ${Object.keys(found).join(", ")} from namespace ${namespace}: ${reason(e)}`);
            });
            process.stderr.write(`namespace-labels: removed ${Object.entries(found).map(([k, v]) => `${k}=${v}`).join(", ")} from namespace ${namespace}\n`);
        }
        const original = Object.fromEntries(Object.entries(found).filter(([k]) => !programs.includes(k)));
        const result: RemovedLabels = { namespace, removed: { ...original, ...known } };
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return;
    }
    if (operation === "restore") {
        if (Object.keys(known).length === 0) {
            return;
        }
        let labels: Record<string, string>;
        try {
            labels = (await api.readNamespace({ name: namespace })).metadata?.labels ?? {};
        } catch (e) {
            if (isNotFound(e)) {
                process.stderr.write(`namespace-labels: namespace ${namespace} is gone; nothing to restore\n`);
                return;
            }
            throw new StepError(`reading namespace ${namespace}: ${reason(e)}`);
        }
        const restore = Object.fromEntries(Object.entries(known).filter(([k]) => labels[k] === undefined));
        if (Object.keys(restore).length > 0) {
            await patchLabels(api, namespace, restore).catch((e: unknown) => {
                throw new StepError(`restoring label(s) on namespace ${namespace}: ${reason(e)}`);
            });
            process.stderr.write(`namespace-labels: restored ${Object.entries(restore).map(([k, v]) => `${k}=${v}`).join(", ")} on namespace ${namespace}\n`);
        }
    }
}

if (require.main === module) {
    runScript("namespace-labels", () => main(process.argv[2]));
}
