/**
 * How the program makes sure that what it applies for an add-on is Istio's own manifest and nothing else:
 *
 * - every manifest must have the sha256 pinned for it — Istio's own `samples/addons/<file>` at the release's tag
 *   (`PINNED_ADDON_SHA256`), or the user's pin (`telemetryAddonsSha256`) for a release the program does not
 *   pin —, whatever the source: Istio's published samples, an https mirror or a local directory;
 * - a download follows no redirect and stops past `MAX_MANIFEST_BYTES`; a local file must be a regular file of at
 *   most that size;
 * - the verified manifest must hold exactly the objects the add-on is known to have (`EXPECTED_OBJECTS`: kinds,
 *   names, `istio-system`, and the cluster-scoped RBAC of Prometheus and Kiali bound to their own service
 *   accounts only), and no pod of it may use the host's network, processes or files, run privileged, or borrow
 *   another service account.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as https from "https";
import {
    ADDONS_NAMESPACE, JAEGER_COLLECTOR, ManifestObject, TELEMETRY_ADDONS, TelemetryAddonName, isLocalSource, manifestLocation, parseManifest,
    podSpecOf, serviceOf,
} from "./manifests";

/**
 * The sha256 of each add-on manifest of the Istio releases the program pins: Istio's `samples/addons/<file>` at
 * the release's git tag (istio/istio, tags 1.30.3 and 1.31.0-rc.0; the same files are in the release archives).
 */
export const PINNED_ADDON_SHA256: Readonly<Record<string, Readonly<Record<TelemetryAddonName, string>>>> = {
    "1.30.3": {
        prometheus: "429abcb6cb74b6045d8787c66add166aa6ca77889835107bdea8dfb46dd1eca8",
        grafana: "1f9ee332c828a29e7c4418661b80d7b766fba2d8a5234b892071ef0a0361b13e",
        kiali: "0784c980cbffb4ea64e28268dc49df707b58127b5de689186f07c12dc739c38a",
        jaeger: "0bb1cc1dfa2cc4af25c0747b29d6536a9d7c05270f8a2271804910c6c57ed733",
    },
    "1.31.0-rc.0": {
        prometheus: "429abcb6cb74b6045d8787c66add166aa6ca77889835107bdea8dfb46dd1eca8",
        grafana: "1f9ee332c828a29e7c4418661b80d7b766fba2d8a5234b892071ef0a0361b13e",
        kiali: "e2c786d65ab926dc49562d37808d2c838d7c953b701b0f15bcf39188ccebba5c",
        jaeger: "e57bc1054b1f22c98b9cf7487e1013bacde164b183f582a0de29a978496e8741",
    },
};

/** The largest add-on manifest the program reads (Istio's largest, grafana.yaml, is about 240 kB). */
export const MAX_MANIFEST_BYTES = 2 * 1024 * 1024;

/** The digest an add-on's manifest must have, and where that digest comes from (for messages). */
export interface ManifestPin {
    sha256: string;
    /** e.g. `Istio 1.30.3's samples/addons/kiali.yaml` or `telemetryAddonsSha256.kiali`. */
    pinnedBy: string;
}

/** Why the program will not install add-ons of a release it does not pin, unless the user pins them. */
export function unpinnedMessage(addons: readonly TelemetryAddonName[], istioVersion: string): string {
    return `has no sha256 for ${addons.map((a) => TELEMETRY_ADDONS[a].file).join(", ")} of Istio ${istioVersion}, whose add-on manifests ` +
        `this program does not pin (it pins those of ${Object.keys(PINNED_ADDON_SHA256).join(", ")}), and it never applies an unverified ` +
        `manifest: take each file from Istio's ${istioVersion} release archive (checked against its published .sha256) and pin it, ` +
        `e.g. \`pulumi config set --path telemetryAddonsSha256.${addons[0]} $(tar -xzOf istio-${istioVersion}-linux-amd64.tar.gz ` +
        `istio-${istioVersion}/samples/addons/${TELEMETRY_ADDONS[addons[0]].file} | sha256sum | cut -d' ' -f1)\` (see README, Telemetry)`;
}

/**
 * The pin an add-on's manifest is checked against: the user's (`telemetryAddonsSha256.<addon>`) when set, else
 * the program's for the Istio release; fails, naming the setting, when neither exists.
 */
export function manifestPin(addon: TelemetryAddonName, istioVersion: string, userSha256?: string): ManifestPin {
    if (userSha256 !== undefined) {
        return { sha256: userSha256.toLowerCase(), pinnedBy: `telemetryAddonsSha256.${addon}` };
    }
    const pinned = PINNED_ADDON_SHA256[istioVersion]?.[addon];
    if (pinned === undefined) {
        throw new Error(`telemetryAddonsSha256 ${unpinnedMessage([addon], istioVersion)}`);
    }
    return { sha256: pinned, pinnedBy: `Istio ${istioVersion}'s samples/addons/${TELEMETRY_ADDONS[addon].file}` };
}

/** Options of `readManifest`. */
export interface ReadOptions {
    /** Give up a download after this long (default 60 s). */
    timeoutMs?: number;
    /** Refuse a manifest larger than this (default `MAX_MANIFEST_BYTES`). */
    maxBytes?: number;
    /** Certificate authorities to trust instead of Node's (which NODE_EXTRA_CA_CERTS extends); for tests. */
    ca?: string;
    /** What the file is, for messages (default `the add-on manifest`). */
    what?: string;
    /** The setting that names the source, for messages (default `telemetryAddonsSource`). */
    sourceKey?: string;
}

/** What a manifest is and which setting names its source, for messages. */
interface Naming {
    what: string;
    sourceKey: string;
}

const namingOf = (options: ReadOptions): Naming => ({ what: options.what ?? "the add-on manifest", sourceKey: options.sourceKey ?? "telemetryAddonsSource" });

/** A short reason of a failed request or file operation. */
function reasonOf(e: unknown, timeoutMs: number): string {
    const error = e as NodeJS.ErrnoException;
    if (error.name === "AbortError" || error.name === "TimeoutError" || error.code === "ABORT_ERR") {
        return `no complete answer within ${Math.round(timeoutMs / 1000)} s`;
    }
    return error.code ?? error.message;
}

/** Reads a local manifest: a regular file (never a pipe or device) of at most `limit` bytes. */
async function readLocal(file: string, limit: number, naming: Naming): Promise<Buffer> {
    const fail = (reason: string) => new Error(`cannot read ${naming.what} ${file}: ${reason}`);
    let handle: fs.promises.FileHandle;
    try {
        // Non-blocking, so that opening a named pipe does not wait for a writer.
        handle = await fs.promises.open(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
    } catch (e) {
        throw fail(reasonOf(e, 0));
    }
    try {
        const stat = await handle.stat();
        if (!stat.isFile()) {
            throw fail("not a regular file");
        }
        if (stat.size > limit) {
            throw fail(`${stat.size} bytes, more than the ${limit} it may have`);
        }
        const buffer = Buffer.alloc(limit + 1);
        const { bytesRead } = await handle.read(buffer, 0, limit + 1, 0);
        if (bytesRead > limit) {
            throw fail(`more than the ${limit} bytes it may have`);
        }
        return buffer.subarray(0, bytesRead);
    } finally {
        await handle.close();
    }
}

/** Downloads a manifest over https: no redirect followed, at most `limit` bytes, within the timeout. */
function download(url: string, limit: number, timeoutMs: number, ca: string | undefined, naming: Naming): Promise<Buffer> {
    return new Promise((resolve, reject) => {
        const fail = (reason: string) => reject(new Error(`cannot fetch ${naming.what} ${url}: ${reason}`));
        if (!url.startsWith("https://")) {
            fail("only https is allowed");
            return;
        }
        const request = https.get(url, { signal: AbortSignal.timeout(timeoutMs), ...(ca === undefined ? {} : { ca }) }, (response) => {
            const status = response.statusCode ?? 0;
            if (status >= 300 && status < 400) {
                response.destroy();
                fail(`HTTP ${status}, a redirect to ${response.headers.location ?? "(no location)"}: redirects are refused; ` +
                    `set ${naming.sourceKey} to the final https location`);
                return;
            }
            if (status !== 200) {
                response.destroy();
                fail(`HTTP ${status}`);
                return;
            }
            const declared = Number(response.headers["content-length"] ?? 0);
            if (declared > limit) {
                response.destroy();
                fail(`${declared} bytes, more than the ${limit} it may have`);
                return;
            }
            const chunks: Buffer[] = [];
            let size = 0;
            response.on("data", (chunk: Buffer) => {
                size += chunk.length;
                if (size > limit) {
                    response.destroy();
                    fail(`more than the ${limit} bytes it may have`);
                } else {
                    chunks.push(chunk);
                }
            });
            response.on("end", () => (response.complete ? resolve(Buffer.concat(chunks)) : fail("the answer ended early")));
            response.on("error", (e) => fail(reasonOf(e, timeoutMs)));
            response.on("close", () => fail("the answer ended early"));
        });
        request.on("error", (e) => fail(reasonOf(e, timeoutMs)));
    });
}

/**
 * The bytes of one manifest from a local directory or an https base URL, unverified (see `verifyManifest`);
 * fails naming the location and the reason.
 */
export function readManifest(source: string, file: string, options: ReadOptions = {}): Promise<Buffer> {
    const limit = options.maxBytes ?? MAX_MANIFEST_BYTES;
    const location = manifestLocation(source, file);
    const naming = namingOf(options);
    return isLocalSource(source) ? readLocal(location, limit, naming) : download(location, limit, options.timeoutMs ?? 60_000, options.ca, naming);
}

/**
 * The manifest's text once its sha256 matches the pin; fails naming both digests otherwise (and `consequence`,
 * what does not happen then: by default, `the add-on is not applied`).
 */
export function verifyManifest(bytes: Buffer, pin: ManifestPin, location: string, consequence = "the add-on is not applied"): string {
    const actual = crypto.createHash("sha256").update(bytes).digest("hex");
    if (actual !== pin.sha256) {
        throw new Error(`${location} does not match its pinned sha256 (${pin.pinnedBy}): expected ${pin.sha256}, got ${actual}; ${consequence}`);
    }
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}

/** An object an add-on's manifest must have. */
export interface ExpectedObject {
    apiVersion: string;
    kind: string;
    name: string;
    /** Cluster-scoped (no namespace); every other object is in `ADDONS_NAMESPACE`. */
    clusterScoped?: true;
}

const object = (apiVersion: string, kind: string, name: string, clusterScoped?: true): ExpectedObject => ({ apiVersion, kind, name, ...(clusterScoped ? { clusterScoped } : {}) });
/** The service account, configuration, Service and Deployment of an add-on, all named after it. */
const workload = (name: string) => [object("v1", "ServiceAccount", name), object("v1", "ConfigMap", name), object("v1", "Service", name), object("apps/v1", "Deployment", name)];
/** The ClusterRole and ClusterRoleBinding of an add-on that reads the cluster. */
const clusterReader = (name: string) => [object("rbac.authorization.k8s.io/v1", "ClusterRole", name, true), object("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", name, true)];

/** Exactly the objects of each add-on's manifest (Istio 1.30.3 and 1.31.0-rc.0 have the same ones). */
export const EXPECTED_OBJECTS: Readonly<Record<TelemetryAddonName, readonly ExpectedObject[]>> = {
    prometheus: [...workload("prometheus"), ...clusterReader("prometheus")],
    grafana: [...workload("grafana"), object("v1", "ConfigMap", "istio-grafana-dashboards"), object("v1", "ConfigMap", "istio-services-grafana-dashboards")],
    kiali: [...workload("kiali"), ...clusterReader("kiali")],
    jaeger: [object("apps/v1", "Deployment", "jaeger"), object("v1", "ConfigMap", "jaeger"),
        object("v1", "Service", "tracing"), object("v1", "Service", "zipkin"), object("v1", "Service", JAEGER_COLLECTOR.service)],
};

const identity = (o: { apiVersion: string; kind: string; name: string }) => `${o.apiVersion} ${o.kind} ${o.name}`;

/** What is wrong with a pod spec of an add-on: host access, privilege, another service account. */
function podProblems(workload: ManifestObject, ownAccount: string | undefined): string[] {
    const pod = podSpecOf(workload);
    if (pod === undefined) {
        return [];
    }
    const where = `${workload.kind} ${workload.metadata.name}`;
    const problems = (["hostNetwork", "hostPID", "hostIPC"] as const).filter((f) => pod[f] === true).map((f) => `${where} sets ${f}`);
    problems.push(...(pod.volumes ?? []).filter((v) => v.hostPath !== undefined).map((v) => `${where} mounts the host path of volume ${v.name}`));
    problems.push(...[...pod.initContainers ?? [], ...pod.containers ?? [], ...pod.ephemeralContainers ?? []]
        .filter((c) => c.securityContext?.privileged === true).map((c) => `${where} runs container ${c.name} privileged`));
    const account = pod.serviceAccountName ?? pod.serviceAccount;
    if (account !== undefined && account !== "default" && account !== ownAccount) {
        problems.push(`${where} runs as service account ${account}, not its own`);
    }
    return problems;
}

/**
 * Checks that a verified manifest holds exactly the objects the add-on is known to have, in `ADDONS_NAMESPACE`
 * (cluster-scoped ones named exactly), its ClusterRoleBinding granting its own ClusterRole to its own service
 * account only, and no pod with host access, privilege or another service account; fails listing every problem.
 */
export function checkAddonObjects(addon: TelemetryAddonName, objects: readonly ManifestObject[], origin: string): void {
    const expected = EXPECTED_OBJECTS[addon];
    const found = objects.map((o) => identity({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name }));
    const problems: string[] = [];
    const unexpected = found.filter((id) => !expected.some((e) => identity(e) === id));
    if (unexpected.length > 0) {
        problems.push(`objects this add-on does not have: ${unexpected.join(", ")}`);
    }
    const missing = expected.filter((e) => !found.includes(identity(e))).map(identity);
    if (missing.length > 0) {
        problems.push(`missing objects: ${missing.join(", ")}`);
    }
    const repeated = found.filter((id, i) => found.indexOf(id) !== i);
    if (repeated.length > 0) {
        problems.push(`repeated objects: ${repeated.join(", ")}`);
    }
    for (const o of objects) {
        const known = expected.find((e) => identity(e) === identity({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name }));
        if (known?.clusterScoped && o.metadata.namespace !== undefined) {
            problems.push(`${o.kind} ${o.metadata.name} is cluster-scoped but names namespace ${o.metadata.namespace}`);
        } else if (known && !known.clusterScoped && o.metadata.namespace !== ADDONS_NAMESPACE) {
            problems.push(`${o.kind} ${o.metadata.name} is in namespace ${o.metadata.namespace ?? "(none)"}, not ${ADDONS_NAMESPACE}`);
        }
    }
    const ownAccount = expected.some((e) => e.kind === "ServiceAccount") ? addon : undefined;
    const binding = objects.find((o) => o.kind === "ClusterRoleBinding") as (ManifestObject & { roleRef?: Record<string, unknown>; subjects?: unknown[] }) | undefined;
    if (binding !== undefined) {
        const own = { roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: addon }, subjects: [{ kind: "ServiceAccount", name: addon, namespace: ADDONS_NAMESPACE }] };
        if (JSON.stringify({ roleRef: binding.roleRef, subjects: binding.subjects }) !== JSON.stringify(own)) {
            problems.push(`ClusterRoleBinding ${binding.metadata.name} must grant ClusterRole ${addon} to service account ${ADDONS_NAMESPACE}/${addon} and nothing else`);
        }
    }
    problems.push(...objects.flatMap((o) => podProblems(o, ownAccount)));
    if (problems.length > 0) {
        throw new Error(`${origin} is not what the add-on ${addon} is known to be, and is not applied: ${problems.join("; ")}`);
    }
}

/**
 * An add-on's objects, verified: the manifest read from `source`, checked against its pin, parsed, and checked to
 * hold exactly the add-on's objects (for Jaeger, also the collector the mesh's tracing provider points at).
 */
export async function loadAddon(addon: TelemetryAddonName, source: string, pin: ManifestPin, options: ReadOptions = {}): Promise<ManifestObject[]> {
    const location = manifestLocation(source, TELEMETRY_ADDONS[addon].file);
    const text = verifyManifest(await readManifest(source, TELEMETRY_ADDONS[addon].file, options), pin, location);
    const objects = parseManifest(text, location);
    checkAddonObjects(addon, objects, location);
    if (addon === "jaeger") {
        const collector = serviceOf(objects, JAEGER_COLLECTOR.service, location);
        if (!collector.spec.ports.some((p) => p.port === JAEGER_COLLECTOR.port)) {
            throw new Error(`${location}: Service ${JAEGER_COLLECTOR.service} has no port ${JAEGER_COLLECTOR.port}, where the mesh's tracing provider sends spans`);
        }
    }
    return objects;
}
