/**
 * What the cluster's mesh consists of right now: the installed control planes (istiod Deployments in the root
 * namespace, by revision), the revision tags (their webhooks, by the revision they point at) and every injected pod
 * (the revision that injected it and its proxy image). Run through
 * the command provider as
 *   node components/launcher/run.js components/istio/meshInventory.ts [NAMESPACE…]
 * with MESH_INVENTORY_KUBECONFIG (the kubeconfig's text, a secret) and MESH_INVENTORY_ROOT_NAMESPACE in the
 * environment; with namespaces given (MESH_INVENTORY_NAMESPACES), only their pods are listed; with
 * MESH_INVENTORY_OWN_NAMESPACES, which of the namespaces named there exist, and the stack mark each carries. It
 * prints one JSON `MeshInventory` on stdout, which carries no secret; errors are one line,
 * `mesh-inventory: <step>: <reason>`, with exit status 1.
 */
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api, V1Pod } from "@kubernetes/client-node";
import { StepError, apiMessage as reason, isNotFound, kubeconfigFromEnv, runScript } from "./kubeApi";

/** An installed control plane. */
export interface InstalledRevision {
    /** `default` for the unnamed revision. */
    revision: string;
    /** The istiod image tag (the Istio release). */
    version: string;
}

/** An injected pod. */
export interface InjectedPod {
    namespace: string;
    name: string;
    /** The revision that injected it (`default` for the unnamed one), from `sidecar.istio.io/status`. */
    revision: string;
    /** The tag of its proxy image (the Istio release of its sidecar). */
    proxyVersion: string;
    /** Its `app` label, if any. */
    app?: string;
}

/** The annotation that marks a namespace as a stack's (namespaceOwnership.ts). */
export const STACK_ANNOTATION = "pks-istio-mesh/stack";

/** A namespace asked about that exists, and the stack mark it carries, if any (namespaceOwnership.ts). */
export interface ExistingNamespace {
    name: string;
    mark?: string;
}

export interface MeshInventory {
    revisions: InstalledRevision[];
    /** Revision tags: tag → the revision its webhook (`istio-revision-tag-<tag>`) points at. */
    tags: Record<string, string>;
    pods: InjectedPod[];
    /** Of the namespaces asked about (MESH_INVENTORY_OWN_NAMESPACES), those that exist. */
    namespaces?: ExistingNamespace[];
}

/** The tag of an image reference (`registry/path/name:tag[@digest]`), or "unknown". */
export function imageTag(image: string | undefined): string {
    const withoutDigest = (image ?? "").split("@")[0];
    const lastSlash = withoutDigest.lastIndexOf("/");
    const colon = withoutDigest.indexOf(":", lastSlash + 1);
    return colon >= 0 ? withoutDigest.slice(colon + 1) : "unknown";
}

/** The injection facts of a pod, or undefined when no sidecar was injected. */
export function injectedPod(pod: V1Pod): InjectedPod | undefined {
    const status = pod.metadata?.annotations?.["sidecar.istio.io/status"];
    if (status === undefined || pod.metadata?.deletionTimestamp) {
        return undefined;
    }
    let revision = "default";
    try {
        revision = (JSON.parse(status) as { revision?: string }).revision || "default";
    } catch {
        // an annotation written by something else: count it as the default revision's
    }
    const proxy = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((c) => c.name === "istio-proxy");
    const app = pod.metadata?.labels?.app;
    return { namespace: pod.metadata?.namespace ?? "", name: pod.metadata?.name ?? "", revision, proxyVersion: imageTag(proxy?.image), ...(app ? { app } : {}) };
}

async function inventory(namespaces: string[]): Promise<MeshInventory> {
    const root = process.env.MESH_INVENTORY_ROOT_NAMESPACE || "istio-system";
    const kubeconfig = kubeconfigFromEnv("MESH_INVENTORY_KUBECONFIG");
    const apps = kubeconfig.makeApiClient(AppsV1Api);
    const core = kubeconfig.makeApiClient(CoreV1Api);
    const deployments = await apps.listNamespacedDeployment({ namespace: root, labelSelector: "app=istiod" }).catch((e: unknown) => {
        throw new StepError(`listing the control planes in ${root}: ${reason(e)}`);
    });
    const tagWebhooks = await kubeconfig.makeApiClient(AdmissionregistrationV1Api).listMutatingWebhookConfiguration({ labelSelector: "istio.io/tag" })
        .catch((e: unknown) => {
            throw new StepError(`listing the revision tags: ${reason(e)}`);
        });
    const tags = Object.fromEntries(tagWebhooks.items.map((w) => [w.metadata?.labels?.["istio.io/tag"] ?? "", w.metadata?.labels?.["istio.io/rev"] ?? "default"]));
    const revisions = deployments.items.map((d) => ({
        revision: d.metadata?.labels?.["istio.io/rev"] ?? "default",
        version: imageTag(d.spec?.template.spec?.containers.find((c) => c.name === "discovery")?.image),
    }));
    const pods: V1Pod[] = [];
    if (namespaces.length === 0) {
        pods.push(...(await core.listPodForAllNamespaces().catch((e: unknown) => {
            throw new StepError(`listing pods: ${reason(e)}`);
        })).items);
    } else {
        for (const namespace of namespaces) {
            pods.push(...(await core.listNamespacedPod({ namespace }).catch((e: unknown) => {
                throw new StepError(`listing pods in ${namespace}: ${reason(e)}`);
            })).items);
        }
    }
    const existing: ExistingNamespace[] = [];
    for (const name of (process.env.MESH_INVENTORY_OWN_NAMESPACES ?? "").split(",").filter((n) => n !== "")) {
        const namespace = await core.readNamespace({ name }).catch((e: unknown) => {
            if (isNotFound(e)) {
                return undefined;
            }
            throw new StepError(`reading namespace ${name}: ${reason(e)}`);
        });
        const mark = namespace?.metadata?.annotations?.[STACK_ANNOTATION];
        if (namespace !== undefined) {
            existing.push({ name, ...(mark !== undefined ? { mark } : {}) });
        }
    }
    return { revisions, tags, pods: pods.map(injectedPod).filter((p): p is InjectedPod => p !== undefined), namespaces: existing };
}

if (require.main === module) {
    runScript("mesh-inventory", async () => {
        if (process.argv[2] !== "inventory") {
            throw new StepError(`unknown operation '${process.argv[2] ?? ""}': expected inventory`);
        }
        const namespaces = (process.env.MESH_INVENTORY_NAMESPACES ?? "").split(",").filter((n) => n !== "");
        process.stdout.write(`${JSON.stringify(await inventory(namespaces))}\n`);
    });
}
