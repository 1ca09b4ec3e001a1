/**
 * Installs the Kubernetes Gateway API's standard channel into a cluster, object by object, as `GatewayApiCrds`
 * decides it: run through the command provider as
 *   node components/launcher/run.js programs/mesh/gatewayApiInstall.ts apply
 * with GATEWAY_API_KUBECONFIG (the kubeconfig's text, a secret), GATEWAY_API_VERSION (e.g. v1.6.3),
 * GATEWAY_API_SOURCE (an https base URL or a local directory holding the release's config/crd/standard),
 * GATEWAY_API_MARK (the stack's mark, `<project>/<stack>`), GATEWAY_API_ADOPT (`true` to upgrade objects of another
 * owner) and GATEWAY_API_FIELD_MANAGER in the environment.
 *
 * It reads the release's files and checks each against its pinned sha256 (gatewayApiBundle.ts), reads what the
 * cluster has of each object, and refuses — before writing anything — when an object is older than the release
 * and not this stack's (`planInstall`). Then it creates what is missing (with the stack's mark), upgrades what is
 * this stack's and older (server-side apply under the stack's field manager), keeps what is as new or newer, and
 * waits until every CRD it wrote is established. The admission policy that guards the CRDs' upgrades
 * (ValidatingAdmissionPolicy, Kubernetes 1.30 and later) is skipped where the API server does not serve it. It
 * prints `{"version": …, "objects": [{kind, name, action, found?}]}` on stdout, which carries no secret; errors are
 * one line, `gateway-api-crds: <step>: <reason>`, with exit status 1.
 */
import * as https from "https";
import { KubeConfig } from "@kubernetes/client-node";
import { STACK_ANNOTATION } from "./meshInventory";
import {
    BUNDLE_VERSION_ANNOTATION, CHANNEL_ANNOTATION, GatewayApiBundle, InstalledObject, PlannedObject, loadGatewayApi, objectKey, planInstall,
} from "./gatewayApiBundle";
import { StepError, kubeconfigFromEnv, requiredEnv as required, runScript } from "./kubeApi";
import { ManifestObject } from "../../components/telemetry/manifests";

/** What `apply` prints. */
export interface GatewayApiReport {
    version: string;
    objects: PlannedObject[];
}

/** The API path of an object of the release (all are cluster-scoped). */
function pathOf(o: { apiVersion: string; kind: string; metadata: { name: string } }): string {
    const plural: Record<string, string> = {
        CustomResourceDefinition: "customresourcedefinitions",
        ValidatingAdmissionPolicy: "validatingadmissionpolicies",
        ValidatingAdmissionPolicyBinding: "validatingadmissionpolicybindings",
    };
    return `/apis/${o.apiVersion}/${plural[o.kind]}/${o.metadata.name}`;
}

/** A JSON request to the API server with the kubeconfig's credentials. */
async function request(kubeconfig: KubeConfig, method: string, path: string, body?: unknown, contentType = "application/json"): Promise<{ status: number; body: string }> {
    const cluster = kubeconfig.getCurrentCluster()!;
    const url = new URL(`${cluster.server.replace(/\/+$/, "")}${path}`);
    const options: https.RequestOptions = { method, headers: { accept: "application/json", ...(body === undefined ? {} : { "content-type": contentType }) } };
    await kubeconfig.applyToHTTPSOptions(options);
    return new Promise((resolve, reject) => {
        const req = https.request(url, { ...options, signal: AbortSignal.timeout(60_000) }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (d: Buffer) => chunks.push(d));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
            res.on("error", reject);
        });
        req.on("error", reject);
        req.end(body === undefined ? undefined : JSON.stringify(body));
    });
}

/** The API server's message of a failed answer. */
function messageOf(answer: { status: number; body: string }): string {
    try {
        return `HTTP ${answer.status}: ${(JSON.parse(answer.body) as { message?: string }).message ?? answer.body.slice(0, 200)}`;
    } catch {
        return `HTTP ${answer.status}: ${answer.body.slice(0, 200)}`;
    }
}

/** Whether the API server serves ValidatingAdmissionPolicies (admissionregistration.k8s.io/v1, Kubernetes 1.30+). */
async function servesAdmissionPolicies(kubeconfig: KubeConfig): Promise<boolean> {
    const answer = await request(kubeconfig, "GET", "/apis/admissionregistration.k8s.io/v1");
    if (answer.status !== 200) {
        throw new StepError(`reading the API server's admission resources: ${messageOf(answer)}`);
    }
    return (JSON.parse(answer.body) as { resources: Array<{ name: string }> }).resources.some((r) => r.name === "validatingadmissionpolicies");
}

/** What the cluster has of each object of the release (absent ones are missing). */
async function installedObjects(kubeconfig: KubeConfig, objects: ManifestObject[]): Promise<Map<string, InstalledObject>> {
    const found = new Map<string, InstalledObject>();
    for (const o of objects) {
        const answer = await request(kubeconfig, "GET", pathOf(o));
        if (answer.status === 404) {
            continue;
        }
        if (answer.status !== 200) {
            throw new StepError(`reading ${objectKey(o)}: ${messageOf(answer)}`);
        }
        const annotations = (JSON.parse(answer.body) as { metadata: { annotations?: Record<string, string> } }).metadata.annotations ?? {};
        found.set(objectKey(o), {
            bundleVersion: annotations[BUNDLE_VERSION_ANNOTATION], channel: annotations[CHANNEL_ANNOTATION], mark: annotations[STACK_ANNOTATION],
        });
    }
    return found;
}

/** Waits (up to two minutes) until a CRD is established, as `kubectl wait --for condition=established` would. */
async function established(kubeconfig: KubeConfig, crd: ManifestObject): Promise<void> {
    const deadline = Date.now() + 120_000;
    for (;;) {
        const answer = await request(kubeconfig, "GET", pathOf(crd));
        const conditions = answer.status === 200 ? (JSON.parse(answer.body) as { status?: { conditions?: Array<{ type: string; status: string }> } }).status?.conditions ?? [] : [];
        if (conditions.some((c) => c.type === "Established" && c.status === "True")) {
            return;
        }
        if (Date.now() > deadline) {
            throw new StepError(`waiting for ${objectKey(crd)}: not established within 120 s`);
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
    }
}

/** Installs a verified release: plans, refuses or writes, and reports. */
export async function apply(kubeconfig: KubeConfig, bundle: GatewayApiBundle, mark: string, adopt: boolean, fieldManager: string): Promise<GatewayApiReport> {
    const admission = await servesAdmissionPolicies(kubeconfig);
    const objects = bundle.objects.filter((o) => o.kind === "CustomResourceDefinition" || admission);
    const plan = planInstall({ ...bundle, objects }, await installedObjects(kubeconfig, objects), mark, adopt);
    if (plan.refusals.length > 0) {
        throw new StepError(`refusing to install the Gateway API's ${bundle.version} (nothing was changed): ${plan.refusals.join("; ")}`);
    }
    for (const planned of plan.objects.filter((p) => p.action !== "keep")) {
        const o = objects.find((x) => x.kind === planned.kind && x.metadata.name === planned.name)!;
        const marked = { ...o, metadata: { ...o.metadata, annotations: { ...(o.metadata.annotations as Record<string, string>), [STACK_ANNOTATION]: mark } } };
        const manager = `fieldManager=${encodeURIComponent(fieldManager)}`;
        const answer = planned.action === "create"
            ? await request(kubeconfig, "POST", `${pathOf(o).replace(/\/[^/]+$/, "")}?${manager}`, marked)
            // Server-side apply under the stack's own field manager, taking over the fields the release sets.
            : await request(kubeconfig, "PATCH", `${pathOf(o)}?${manager}&force=true`, marked, "application/apply-patch+yaml");
        if (answer.status >= 300) {
            throw new StepError(`${planned.action === "create" ? "creating" : "upgrading"} ${objectKey(o)}: ${messageOf(answer)}`);
        }
    }
    for (const planned of plan.objects.filter((p) => p.action !== "keep" && p.kind === "CustomResourceDefinition")) {
        await established(kubeconfig, objects.find((x) => x.kind === planned.kind && x.metadata.name === planned.name)!);
    }
    const skipped = bundle.objects.filter((o) => !objects.includes(o)).map((o) => ({ kind: o.kind, name: o.metadata.name, action: "keep" as const, found: "not served by this API server (Kubernetes before 1.30)" }));
    return { version: bundle.version, objects: [...plan.objects, ...skipped] };
}

if (require.main === module) {
    runScript("gateway-api-crds", async () => {
        if (process.argv[2] !== "apply") {
            throw new StepError(`unknown operation '${process.argv[2] ?? ""}': expected apply`);
        }
        const kubeconfig = kubeconfigFromEnv("GATEWAY_API_KUBECONFIG");
        const version = required("GATEWAY_API_VERSION");
        const bundle = await loadGatewayApi(version, required("GATEWAY_API_SOURCE")).catch((e: unknown) => {
            throw new StepError(`reading the Gateway API's ${version}: ${(e as Error).message}`);
        });
        const report = await apply(kubeconfig, bundle, required("GATEWAY_API_MARK"), process.env.GATEWAY_API_ADOPT === "true", required("GATEWAY_API_FIELD_MANAGER"));
        process.stdout.write(`${JSON.stringify(report)}\n`);
    });
}
