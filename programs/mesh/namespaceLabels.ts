/**
 * Removes namespace labels that would stop Istio's injection webhooks from selecting a namespace, and puts them
 * back when asked. Run by `NamespaceLabelRemoval` through the command provider as
 *   node components/launcher/run.js components/istio/namespaceLabels.ts <remove|restore>
 * with NAMESPACE_LABELS_KUBECONFIG (the kubeconfig's text, a secret), NAMESPACE_LABELS_NAMESPACE,
 * NAMESPACE_LABELS_REMOVE (JSON: label key → the one value to keep, or null to remove any value) and
 * NAMESPACE_LABELS_OWN_MANAGERS (JSON: the exact field-manager names of the program's own label patches) in the
 * environment.
 *
 * - `remove` deletes those labels from the namespace (unless a label has its value to keep) and prints
 *   `{"namespace": …, "uid": …, "removed": {key: value}}`: the namespace's uid, and what it found merged with
 *   what an earlier run found (PULUMI_COMMAND_STDOUT) on that same namespace, so that the original values survive
 *   any number of updates. A label that only the program's own patches set is removed but not recorded.
 * - `restore` puts each recorded label back (from PULUMI_COMMAND_STDOUT) unless the label was set again
 *   meanwhile, the namespace is gone, or it is not the namespace the labels were taken from (another uid: it was
 *   deleted and created again under the same name).
 *
 * stdout carries no secret; errors are one line, `namespace-labels: <step>: <reason>`, with exit status 1.
 */
import { CoreV1Api, PatchStrategy, V1ManagedFieldsEntry, V1Namespace, setHeaderOptions } from "@kubernetes/client-node";
import { StepError, apiMessage as reason, isNotFound, kubeconfigFromEnv, requiredEnv as required, runScript } from "./kubeApi";

/** What `remove` prints and `restore` reads. */
export interface RemovedLabels {
    namespace: string;
    /** The uid of the namespace the labels were removed from. */
    uid: string;
    /** The removed labels and their values. */
    removed: Record<string, string>;
}

/** What an earlier run recorded (PULUMI_COMMAND_STDOUT) about `namespace`, if anything. */
function previous(namespace: string): Partial<RemovedLabels> {
    const text = process.env.PULUMI_COMMAND_STDOUT?.trim();
    if (!text) {
        return {};
    }
    try {
        const doc = JSON.parse(text) as Partial<RemovedLabels>;
        return doc.namespace === namespace ? doc : {};
    } catch {
        return {};
    }
}

/** Whether every field manager that set this label is one of `own` (exact names). */
export function onlyOwnManagersSet(managedFields: V1ManagedFieldsEntry[], label: string, own: readonly string[]): boolean {
    const owners = managedFields.filter((entry) => {
        const labels = ((entry.fieldsV1 as Record<string, Record<string, unknown>> | undefined)?.["f:metadata"]?.["f:labels"] ?? {}) as Record<string, unknown>;
        return `f:${label}` in labels;
    }).map((entry) => entry.manager ?? "");
    return owners.length > 0 && owners.every((manager) => own.includes(manager));
}

function ownManagers(): string[] {
    const text = process.env.NAMESPACE_LABELS_OWN_MANAGERS;
    if (text === undefined) {
        return [];
    }
    let managers: unknown;
    try {
        managers = JSON.parse(text);
    } catch {
        managers = undefined;
    }
    if (!Array.isArray(managers) || !managers.every((m) => typeof m === "string")) {
        throw new StepError("reading inputs: NAMESPACE_LABELS_OWN_MANAGERS is not a JSON list of field-manager names");
    }
    return managers as string[];
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
    const own = ownManagers();
    const api = kubeconfigFromEnv("NAMESPACE_LABELS_KUBECONFIG").makeApiClient(CoreV1Api);
    const record = previous(namespace);
    if (operation === "remove") {
        const current = await api.readNamespace({ name: namespace }).catch((e: unknown) => {
            throw new StepError(`reading namespace ${namespace}: ${reason(e)}`);
        });
        const uid = current.metadata?.uid ?? "";
        // What an earlier run took from a namespace of this name that has since been deleted is not this one's.
        const known = record.uid === uid ? record.removed ?? {} : {};
        if (record.removed && Object.keys(record.removed).length > 0 && record.uid !== uid) {
            process.stderr.write(`namespace-labels: namespace ${namespace} was created again since labels were taken from it; forgetting ${Object.keys(record.removed).join(", ")}\n`);
        }
        const labels = current.metadata?.labels ?? {};
        const found = Object.fromEntries(Object.entries(rules)
            .filter(([k, keep]) => labels[k] !== undefined && labels[k] !== keep).map(([k]) => [k, labels[k]]));
        // A label only this program's own patches set (a label of an earlier configuration) is not the namespace's
        // own: it goes, but is not put back on destroy.
        const programs = Object.keys(found).filter((k) => onlyOwnManagersSet(current.metadata?.managedFields ?? [], k, own));
        if (Object.keys(found).length > 0) {
            await patchLabels(api, namespace, Object.fromEntries(Object.keys(found).map((k) => [k, null]))).catch((e: unknown) => {
                throw new StepError(`removing label(s) ${Object.keys(found).join(", ")} from namespace ${namespace}: ${reason(e)}`);
            });
            process.stderr.write(`namespace-labels: removed ${Object.entries(found).map(([k, v]) => `${k}=${v}`).join(", ")} from namespace ${namespace}\n`);
        }
        const original = Object.fromEntries(Object.entries(found).filter(([k]) => !programs.includes(k)));
        const result: RemovedLabels = { namespace, uid, removed: { ...original, ...known } };
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return;
    }
    if (operation === "restore") {
        const known = record.removed ?? {};
        if (Object.keys(known).length === 0) {
            return;
        }
        let current: V1Namespace;
        try {
            current = await api.readNamespace({ name: namespace });
        } catch (e) {
            if (isNotFound(e)) {
                process.stderr.write(`namespace-labels: namespace ${namespace} is gone; nothing to restore\n`);
                return;
            }
            throw new StepError(`reading namespace ${namespace}: ${reason(e)}`);
        }
        if (record.uid === undefined || current.metadata?.uid !== record.uid) {
            process.stderr.write(`namespace-labels: namespace ${namespace} is not the one labels were taken from (uid ${current.metadata?.uid ?? "unknown"}, recorded ${record.uid ?? "none"}); not restoring ${Object.keys(known).join(", ")}\n`);
            return;
        }
        const labels = current.metadata?.labels ?? {};
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
