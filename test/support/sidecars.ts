/**
 * Reading what istiod's injection webhook did to the pods of the local cluster: which containers and init
 * containers a pod carries, which revision injected it (`sidecar.istio.io/status`) and which istiod its proxy
 * will talk to (the `discoveryAddress` of the proxy's `PROXY_CONFIG` when the injection set one, else its
 * `CA_ADDR`: the istiod that serves it certificates and configuration on port 15012).
 */
import { LocalCluster } from "../../local/localCluster";

interface PodContainer {
    name: string;
    image: string;
    env?: Array<{ name: string; value?: string }>;
    securityContext?: { capabilities?: { add?: string[] }; privileged?: boolean };
}

interface Pod {
    metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string>; deletionTimestamp?: string };
    spec: { containers: PodContainer[]; initContainers?: PodContainer[] };
    status?: { phase?: string };
}

/** A pod as the injection left it. */
export interface InjectedPod {
    name: string;
    app: string;
    containers: string[];
    initContainers: string[];
    /** The revision that injected it (from `sidecar.istio.io/status`), or undefined when nothing did. */
    revision?: string;
    /** The istiod address the proxy connects to. */
    discoveryAddress?: string;
    /** The proxy image. */
    proxyImage?: string;
    /** Capabilities an init container adds (istio-init needs NET_ADMIN, NET_RAW). */
    addedCapabilities: string[];
}

function describe(pod: Pod): InjectedPod {
    const status = pod.metadata.annotations?.["sidecar.istio.io/status"];
    const proxy = pod.spec.containers.find((c) => c.name === "istio-proxy");
    const env = (name: string) => proxy?.env?.find((e) => e.name === name)?.value;
    const proxyConfig = env("PROXY_CONFIG");
    return {
        name: pod.metadata.name,
        app: pod.metadata.labels?.app ?? "",
        containers: pod.spec.containers.map((c) => c.name),
        initContainers: (pod.spec.initContainers ?? []).map((c) => c.name),
        revision: status ? (JSON.parse(status) as { revision?: string }).revision : undefined,
        discoveryAddress: (proxyConfig ? (JSON.parse(proxyConfig) as { discoveryAddress?: string }).discoveryAddress : undefined) ?? env("CA_ADDR"),
        proxyImage: proxy?.image,
        addedCapabilities: (pod.spec.initContainers ?? []).flatMap((c) => c.securityContext?.capabilities?.add ?? []),
    };
}

/** The live (not terminating) pods of a namespace, as injected. */
export async function injectedPods(cluster: LocalCluster, namespace: string): Promise<InjectedPod[]> {
    const pods = await cluster.json<{ items: Pod[] }>(`/api/v1/namespaces/${namespace}/pods`);
    return pods.items.filter((p) => !p.metadata.deletionTimestamp).map(describe);
}

/** The istiod address a revision's proxies use. */
export function discoveryAddressOf(revision: string | undefined): string {
    return `${revision ? `istiod-${revision}` : "istiod"}.istio-system.svc:15012`;
}
