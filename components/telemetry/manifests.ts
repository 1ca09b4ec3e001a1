/**
 * Istio's telemetry add-ons as its release ships them (`samples/addons/*.yaml`): which manifest is which add-on,
 * where the manifests come from (Istio's published samples for a release, a mirror the user runs, or a local
 * directory), their objects, their images (moved to a mirror registry) and how to open their UIs. The manifests
 * are read when the program runs; nothing of them is kept in this project. How they are verified is in
 * verification.ts, what the program changes in them in hardening.ts.
 */
import * as path from "path";
import * as YAML from "yaml";

/** The add-ons the program can install. */
export type TelemetryAddonName = "prometheus" | "grafana" | "kiali" | "jaeger";

/** The namespace Istio's add-on manifests install into (the mesh's root namespace). */
export const ADDONS_NAMESPACE = "istio-system";

/** How to reach an add-on's web UI: a Service port of the manifest, and the UI's path. */
export interface AddonUiPort {
    /** The Service's name. */
    service: string;
    /** The name of its port. */
    port: string;
    /** The UI's path under that port. */
    path: string;
}

export interface TelemetryAddonInfo {
    /** The manifest's file name in Istio's `samples/addons`. */
    file: string;
    /** The add-on's name for people. */
    title: string;
    /** Where its UI is. */
    ui: AddonUiPort;
}

/** The add-ons, in the order they are installed. */
export const TELEMETRY_ADDONS: Readonly<Record<TelemetryAddonName, TelemetryAddonInfo>> = {
    prometheus: { file: "prometheus.yaml", title: "Prometheus", ui: { service: "prometheus", port: "http", path: "/" } },
    grafana: { file: "grafana.yaml", title: "Grafana", ui: { service: "grafana", port: "service", path: "/" } },
    kiali: { file: "kiali.yaml", title: "Kiali", ui: { service: "kiali", port: "http", path: "/kiali" } },
    jaeger: { file: "jaeger.yaml", title: "Jaeger", ui: { service: "tracing", port: "http-query", path: "/jaeger" } },
};

/**
 * Jaeger's OTLP (gRPC) collector in `jaeger.yaml`, where the proxies send their spans: the mesh's tracing
 * provider points at it, and the Jaeger add-on checks that its manifest really has it.
 */
export const JAEGER_COLLECTOR = { service: "jaeger-collector", port: 4317 } as const;

/** Which add-ons the settings turn on, in installation order. */
export function telemetryAddonsOf(settings: { prometheus: boolean; grafana: boolean; kiali: boolean; tracing: "none" | "jaeger" }): TelemetryAddonName[] {
    const on: Record<TelemetryAddonName, boolean> = {
        prometheus: settings.prometheus, grafana: settings.grafana, kiali: settings.kiali, jaeger: settings.tracing === "jaeger",
    };
    return (Object.keys(TELEMETRY_ADDONS) as TelemetryAddonName[]).filter((name) => on[name]);
}

/** Where Istio publishes a release's add-on manifests (the `samples/addons` directory of its git tag). */
export function publishedAddons(istioVersion: string): string {
    return `https://raw.githubusercontent.com/istio/istio/${istioVersion}/samples/addons`;
}

/** Whether a source is a local directory (absolute, or relative to the project directory with ./ or ../). */
export function isLocalSource(source: string): boolean {
    return /^(\/|\.\.?\/)/.test(source);
}

/** The location of one manifest in a source: a file path, or a URL under the https base. */
export function manifestLocation(source: string, file: string): string {
    return isLocalSource(source) ? path.resolve(source, file) : `${source.replace(/\/+$/, "")}/${file}`;
}

/** A Kubernetes object of a manifest. */
export interface ManifestObject {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; [field: string]: unknown };
    [field: string]: unknown;
}

/** The objects of a multi-document YAML manifest; fails on YAML errors and on documents that are not objects. */
export function parseManifest(text: string, origin: string): ManifestObject[] {
    const objects: ManifestObject[] = [];
    for (const doc of YAML.parseAllDocuments(text)) {
        if (doc.errors.length > 0) {
            throw new Error(`${origin} is not valid YAML: ${doc.errors[0].message.split("\n")[0]}`);
        }
        const value = doc.toJS() as unknown;
        if (value === null || value === undefined) {
            continue;
        }
        const object = value as Partial<ManifestObject>;
        if (typeof object !== "object" || typeof object.apiVersion !== "string" || typeof object.kind !== "string" || typeof object.metadata?.name !== "string") {
            throw new Error(`${origin} has a document that is not a Kubernetes object (apiVersion, kind and metadata.name)`);
        }
        objects.push(object as ManifestObject);
    }
    return objects;
}

/**
 * An image moved to another registry: the registry part (the first path component when it names a host: it has a
 * dot or a port, or is `localhost`) is replaced by `hub`; the repository path and the tag or digest stay, e.g.
 * `docker.io/prom/prometheus:v3.10.0` → `harbor.example.com/istio/prom/prometheus:v3.10.0`.
 */
export function rehost(image: string, hub: string): string {
    const [first, ...rest] = image.split("/");
    const hasRegistry = rest.length > 0 && (first.includes(".") || first.includes(":") || first === "localhost");
    return `${hub.replace(/\/+$/, "")}/${hasRegistry ? rest.join("/") : image}`;
}

/** An environment variable of a container: a value, or a reference (`valueFrom`). */
export interface EnvVar {
    name: string;
    value?: string;
    valueFrom?: Record<string, unknown>;
}

/** The fields of a container that the program reads or changes. */
export interface Container {
    name: string;
    image?: string;
    args?: string[];
    env?: EnvVar[];
    volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
    securityContext?: { privileged?: boolean };
}

/** The fields of a pod spec that the program reads or changes. */
export interface PodSpec {
    containers?: Container[];
    initContainers?: Container[];
    ephemeralContainers?: Container[];
    volumes?: Array<{ name: string; hostPath?: unknown; [source: string]: unknown }>;
    hostNetwork?: boolean;
    hostPID?: boolean;
    hostIPC?: boolean;
    serviceAccountName?: string;
    serviceAccount?: string;
}

/** The pod spec of a workload object, if it has one. */
export function podSpecOf(object: ManifestObject): PodSpec | undefined {
    const spec = object.spec as { template?: { spec?: PodSpec }; jobTemplate?: { spec?: { template?: { spec?: PodSpec } } } } & PodSpec | undefined;
    switch (object.kind) {
        case "Pod":
            return spec;
        case "CronJob":
            return spec?.jobTemplate?.spec?.template?.spec;
        case "Deployment": case "StatefulSet": case "DaemonSet": case "ReplicaSet": case "Job": case "ReplicationController":
            return spec?.template?.spec;
        default:
            return undefined;
    }
}

/** Every container image of the objects' pod specs. */
export function imagesOf(objects: readonly ManifestObject[]): string[] {
    return objects.flatMap((o) => {
        const pod = podSpecOf(o);
        return [...pod?.initContainers ?? [], ...pod?.containers ?? [], ...pod?.ephemeralContainers ?? []].map((c) => c.image).filter((i): i is string => i !== undefined);
    });
}

/** The objects with every container image moved to `hub` (see `rehost`); the input is left as it was. */
export function withImageHub(objects: readonly ManifestObject[], hub: string | undefined): ManifestObject[] {
    // A deep copy without shared parts, so that no container is moved twice.
    const copies = JSON.parse(JSON.stringify(objects)) as ManifestObject[];
    if (hub === undefined) {
        return copies;
    }
    for (const object of copies) {
        const pod = podSpecOf(object);
        for (const container of [...pod?.initContainers ?? [], ...pod?.containers ?? [], ...pod?.ephemeralContainers ?? []]) {
            if (container.image !== undefined) {
                container.image = rehost(container.image, hub);
            }
        }
    }
    return copies;
}

interface ServicePort {
    name?: string;
    port: number;
    targetPort?: number | string;
}

/** A Service of the manifest, by name; fails when the manifest has none of that name. */
export function serviceOf(objects: readonly ManifestObject[], name: string, origin: string): ManifestObject & { spec: { ports: ServicePort[] } } {
    const service = objects.find((o) => o.kind === "Service" && o.metadata.name === name);
    if (!service) {
        throw new Error(`${origin} has no Service ${name}`);
    }
    return service as ManifestObject & { spec: { ports: ServicePort[] } };
}

/** How to open an add-on's UI from a workstation. */
export interface AddonUi {
    /** The Service, as `<namespace>/<name>`. */
    service: string;
    /** The command that forwards a local port to it. */
    portForward: string;
    /** The UI's address while the port is forwarded. */
    url: string;
    /** How to log in, for the UIs that ask (Grafana, Kiali). */
    login?: string;
}

/**
 * How to reach an add-on's UI: `kubectl port-forward` to its Service, on the local port the UI itself listens on
 * (the Service's target port when it is a number).
 */
export function addonUi(objects: readonly ManifestObject[], info: TelemetryAddonInfo, origin: string, login?: string): AddonUi {
    const service = serviceOf(objects, info.ui.service, origin);
    const port = service.spec.ports.find((p) => p.name === info.ui.port);
    if (!port) {
        throw new Error(`${origin}: Service ${info.ui.service} has no port named ${info.ui.port}`);
    }
    const namespace = service.metadata.namespace ?? "default";
    const local = typeof port.targetPort === "number" ? port.targetPort : port.port;
    return {
        service: `${namespace}/${info.ui.service}`,
        portForward: `kubectl -n ${namespace} port-forward svc/${info.ui.service} ${local}:${port.port}`,
        url: `http://localhost:${local}${info.ui.path}`,
        ...(login === undefined ? {} : { login }),
    };
}
