/**
 * Day two for the mesh, end to end against live istiods (one process per istiod pod, per revision), between two
 * real Istio releases, each with its own charts and its own istiod built from its snapshot: 1.30.3
 * (ISTIO_PREVIOUS_VERSION) and 1.31.0-rc.0 (ISTIO_VERSION). An in-place upgrade (keeping 1.30's behaviour with
 * `istioCompatibilityVersion`) and its rollback; Istio CNI with Pod Security `baseline` (and the rejection without
 * CNI); and a canary upgrade by revision tags — a second control plane beside the first, a tag moved to it and
 * back, workloads rolled onto it, the old revision refused while pods use it and removed once they do not.
 *
 * What is installed is read back from the cluster: the chart versions Helm recorded, the images of the istiod
 * Deployments and of the proxies, the istiod processes running, the tag Services' endpoints. The stacks use
 * `clusterSource: existing` against the local control plane (no PKS: that layer is covered by mesh.e2e.ts), run
 * by the pulumi CLI in a copy of the project.
 */
import { Stack } from "@pulumi/pulumi/automation";
import { expect } from "chai";
import * as crypto from "crypto";
import * as path from "path";
import { imageTag } from "../../programs/mesh/meshInventory";
import { Step, eventually, failureOf, nameOf, recorder, stepIndex } from "../support/engine";
import { LocalCluster } from "../../local/localCluster";
import { chartVersions, istiodImages } from "../support/installed";
import { discoveryAddressOf, injectedPods } from "../support/sidecars";
import { useLocalCluster } from "../support/suite";
import { localIstio, meshStack, requireTools, toolVersions, toolsBin } from "../../local/workspace";

const P = "pks-istio-mesh:";
const TOOLS_BIN = toolsBin();
/** The release upgrades start from (1.30.3), and the one they go to (1.31.0-rc.0). */
const { ISTIO_PREVIOUS_VERSION: CURRENT, ISTIO_VERSION: NEXT } = toolVersions();
const BOOKINFO = ["details-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3", "productpage-v1"];
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const RELEASE = "kubernetes:helm.sh/v3:Release";
const MWC = "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration";
const STABLE = "1-30-3";
const CANARY = "1-31-0-rc-0";
const VWC = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations";

describe("end to end: day two — upgrades in place and by canary revision, Istio CNI and Pod Security", function () {
    this.timeout(30 * 60_000);
    requireTools(TOOLS_BIN, [`pilot-discovery-${CURRENT}`, `pilot-discovery-${NEXT}`, `istio-charts-${CURRENT}`, `istio-charts-${NEXT}`]);
    const suite = useLocalCluster("day-two", TOOLS_BIN);
    let dir: string;
    let cluster: LocalCluster;
    before(() => {
        ({ dir, cluster } = suite);
    });

    /** A stack of the project on the local cluster, with these settings, installing `version` (default 1.30.3). */
    async function labStack(name: string, settings: Record<string, string>, version = CURRENT): Promise<Stack> {
        const stack = await meshStack({ dir: path.join(dir, name), toolsBin: TOOLS_BIN, stackName: name, passphrase: crypto.randomBytes(12).toString("hex") });
        await stack.setAllConfig({
            [`${P}clusterSource`]: { value: "existing" },
            [`${P}kubeconfig`]: { value: cluster.kubeconfig(), secret: true },
            ...localIstio(TOOLS_BIN, version),
            [`${P}verifyProductPage`]: { value: String(cluster.servesProductPage) },
            ...Object.fromEntries(Object.entries(settings).map(([k, value]) => [`${P}${k}`, { value }])),
        });
        return stack;
    }

    async function up(stack: Stack, what: string): Promise<{ steps: Step[]; warnings: string[]; outputs: Record<string, { value: unknown }> }> {
        const r = recorder();
        const started = Date.now();
        const result = await stack.up({ onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      up (${what}): ${JSON.stringify(result.summary.resourceChanges)} in ${Math.round((Date.now() - started) / 1000)}s`);
        return { steps: r.steps, warnings: r.diagnostics.filter((d) => d.severity === "warning").map((d) => d.message), outputs: result.outputs };
    }

    /** What the cluster runs: every control plane's release and where its istiod's image comes from. */
    async function runningReleases(): Promise<{ charts: Record<string, string>; istiod: Record<string, string> }> {
        const images = await istiodImages(cluster);
        return { charts: await chartVersions(cluster), istiod: images };
    }

    /** What runningReleases reads when the default revision's charts and istiod are all at `version`. */
    const allAt = (version: string) => ({
        charts: { "istio-base": version, istiod: version, "istio-ingressgateway": version },
        istiod: { default: `docker.io/istio/pilot:${version}` },
    });

    /** The mesh output: what the cluster runs, read back by the program. */
    type MeshOutput = { controlPlanes: unknown[]; tags: Record<string, string>; dataPlane: Record<string, Record<string, number>> };

    /** Every Bookinfo pod (once the rollout settled) injected by `revision`. */
    async function bookinfoOn(revision: string, namespace = "bookinfo"): Promise<void> {
        const settled = await eventually(async () => {
            const pods = await injectedPods(cluster, namespace);
            return pods.length === BOOKINFO.length && pods.every((p) => p.revision === revision);
        }, 60_000);
        expect(settled, `Bookinfo's pods injected by ${revision}: ${JSON.stringify(await injectedPods(cluster, namespace))}`).to.equal(true);
    }

    const istiods = () => cluster.istiod!.running().map((p) => `${p.revision} ${imageTag(p.image)}${p.ready ? "" : " (not ready)"}`).sort();

    describe("an in-place upgrade of the control plane, and its rollback", () => {
        let stack: Stack;

        it(`installs ${CURRENT} from its own charts, warned about its security bulletin, and reports what runs`, async () => {
            stack = await labStack("upgrade", {});
            const previewed = recorder();
            await stack.preview({ onEvent: previewed.onEvent });
            const warnedAtPreview = previewed.diagnostics.filter((d) => d.severity === "warning").map((d) => d.message).join("\n");
            expect(warnedAtPreview).to.include(`pks-istio-mesh:istioVersion: Istio ${CURRENT} is affected by ISTIO-SECURITY-2026-006`)
                .and.include("fixed in 1.30.4: upgrade to 1.30.4 or later");
            const { outputs, warnings } = await up(stack, CURRENT);
            await bookinfoOn("default");
            expect(await runningReleases()).to.deep.equal(allAt(CURRENT));
            expect(istiods()).to.deep.equal([`default ${CURRENT}`]);
            const mesh = outputs.mesh.value as MeshOutput;
            expect(mesh.controlPlanes).to.deep.equal([{ revision: "default", version: CURRENT }]);
            expect(mesh.dataPlane).to.deep.equal({ bookinfo: { [`default ${CURRENT}`]: 6 }, "istio-ingress": { [`default ${CURRENT}`]: 1 } });
            expect(warnings.join("\n"), "and again at the update").to.include(`Istio ${CURRENT} is affected by ISTIO-SECURITY-2026-006`);
        });

        it("without Istio CNI, Pod Security baseline refuses injected pods: istio-init needs NET_ADMIN and NET_RAW", async () => {
            // What the API server's own admission does with such a pod.
            await cluster.request("POST", "/api/v1/namespaces", {
                apiVersion: "v1", kind: "Namespace",
                metadata: { name: "psa-check", labels: { "istio-injection": "enabled", "pod-security.kubernetes.io/enforce": "baseline" } },
            });
            const refused = await cluster.request("POST", "/api/v1/namespaces/psa-check/pods", {
                apiVersion: "v1", kind: "Pod", metadata: { name: "app" }, spec: { containers: [{ name: "app", image: "busybox" }] },
            });
            await cluster.request("DELETE", "/api/v1/namespaces/psa-check");
            expect(refused.status).to.equal(403);
            expect(refused.body).to.include('violates PodSecurity \\"baseline:latest\\"').and.include("istio-init").and.include("NET_ADMIN");
            // ... and the program says so before it changes anything.
            await stack.setConfig(`${P}bookinfoPodSecurity`, { value: "baseline" });
            const message = await failureOf(stack.preview());
            await stack.removeConfig(`${P}bookinfoPodSecurity`);
            expect(message).to.include(`${P}bookinfoPodSecurity: "baseline" needs istioCni: true`);
        });

        it(`upgrades to ${NEXT} in place, keeping 1.30's behaviour: base, then istiod, then the gateway and Bookinfo roll onto it`, async () => {
            await stack.setAllConfig({ ...localIstio(TOOLS_BIN, NEXT), [`${P}istioCompatibilityVersion`]: { value: "1.30" } });
            const { steps, outputs } = await up(stack, `upgrade to ${NEXT}`);
            const base = stepIndex(steps, "update", `${RELEASE}::istio-istio-base`);
            const istiod = stepIndex(steps, "update", `${RELEASE}::istio-istiod`);
            const gateway = stepIndex(steps, "update", `${RELEASE}::istio-gateway`);
            expect(base, "base (CRDs) before istiod").to.be.lessThan(istiod);
            expect(gateway, "the gateway after istiod").to.be.greaterThan(istiod);
            for (const d of BOOKINFO) {
                expect(stepIndex(steps, "update", `${DEPLOYMENT}::bookinfo-${d}`), d).to.be.greaterThan(istiod);
            }
            expect(await eventually(() => istiods().join() === `default ${NEXT}`, 60_000), `only the new istiod runs: ${istiods().join()}`).to.equal(true);
            await bookinfoOn("default");
            expect(await runningReleases()).to.deep.equal(allAt(NEXT));
            const mesh = outputs.mesh.value as MeshOutput;
            expect(mesh.controlPlanes).to.deep.equal([{ revision: "default", version: NEXT }]);
            expect(mesh.dataPlane).to.deep.equal({ bookinfo: { [`default ${NEXT}`]: 6 }, "istio-ingress": { [`default ${NEXT}`]: 1 } });
            // 1.31's chart rendered its compatibility profile for 1.30 into istiod: 1.31's behaviour changes, off.
            const deployment = await cluster.json<{ spec: { template: { spec: { containers: Array<{ name: string; env?: Array<{ name: string; value?: string }> }> } } } }>(
                "/apis/apps/v1/namespaces/istio-system/deployments/istiod");
            const env = Object.fromEntries((deployment.spec.template.spec.containers.find((c) => c.name === "discovery")!.env ?? []).map((e) => [e.name, e.value]));
            expect(env).to.include({ PILOT_ENABLE_STRICT_GATEWAY_MERGING: "false", PILOT_SPAWN_UPSTREAM_SPAN_FOR_GATEWAY: "false", PILOT_AUTO_SEND_UNHEALTHY_ENDPOINTS: "false" });
            // The running istiod got them too.
            const running = cluster.istiod!.running()[0];
            expect(running.env).to.include({ PILOT_ENABLE_STRICT_GATEWAY_MERGING: "false" });
        });

        it(`rolls back to ${CURRENT} in place: istiod, the gateway and Bookinfo return to it`, async () => {
            await stack.setAllConfig(localIstio(TOOLS_BIN, CURRENT));
            await stack.removeConfig(`${P}istioCompatibilityVersion`);
            const { steps, outputs } = await up(stack, `rollback to ${CURRENT}`);
            const istiod = stepIndex(steps, "update", `${RELEASE}::istio-istiod`);
            for (const d of BOOKINFO) {
                expect(stepIndex(steps, "update", `${DEPLOYMENT}::bookinfo-${d}`), d).to.be.greaterThan(istiod);
            }
            expect(await eventually(() => istiods().join() === `default ${CURRENT}`, 60_000), `only the old istiod runs: ${istiods().join()}`).to.equal(true);
            await bookinfoOn("default");
            expect(await runningReleases()).to.deep.equal(allAt(CURRENT));
            expect((outputs.mesh.value as MeshOutput).dataPlane).to.deep.equal({ bookinfo: { [`default ${CURRENT}`]: 6 }, "istio-ingress": { [`default ${CURRENT}`]: 1 } });
            // istiod of 1.30 still validates, failing closed.
            const validator = await cluster.json<{ webhooks: Array<{ failurePolicy: string }> }>(`${VWC}/istiod-default-validator`);
            expect(validator.webhooks[0].failurePolicy).to.equal("Fail");
        });

        it("is destroyed", async () => {
            await stack.destroy({ onOutput: recorder().onOutput });
            expect(await eventually(() => istiods().length === 0, 30_000)).to.equal(true);
        });
    });

    describe("Istio CNI with Pod Security baseline", () => {
        it("injects pods without a privileged init container, which baseline admits", async () => {
            const stack = await labStack("cni", { istioCni: "true", bookinfoPodSecurity: "baseline" }, NEXT);
            await up(stack, "CNI");
            const namespace = await cluster.json<{ metadata: { labels: Record<string, string> } }>("/api/v1/namespaces/bookinfo");
            expect(namespace.metadata.labels).to.include({ "pod-security.kubernetes.io/enforce": "baseline", "istio-injection": "enabled" });
            expect(await cluster.names("/apis/apps/v1/namespaces/istio-system/daemonsets")).to.deep.equal(["istio-system/istio-cni-node"]);
            await bookinfoOn("default");
            for (const pod of await injectedPods(cluster, "bookinfo")) {
                expect(pod.initContainers, pod.name).to.deep.equal(["istio-validation"]);
                expect(pod.addedCapabilities, pod.name).to.deep.equal([]);
                expect(pod.containers, pod.name).to.deep.equal([pod.app, "istio-proxy"]);
            }
            await stack.destroy({ onOutput: recorder().onOutput });
            expect(await cluster.names("/apis/apps/v1/namespaces/istio-system/daemonsets")).to.deep.equal([]);
        });
    });

    describe("a canary upgrade by revision tags", () => {
        let stack: Stack;
        const revisions = (...names: string[]) => JSON.stringify(names.map((name) => (name === STABLE
            ? { name, version: CURRENT }
            : { name, version: NEXT, chartRepository: path.join(TOOLS_BIN, `istio-charts-${NEXT}`) })));
        const teamPods = async () => injectedPods(cluster, "team-a");

        it("runs Bookinfo, the gateway and a listed namespace on the prod-stable tag", async () => {
            // A team's namespace, labelled for the default revision long ago.
            await cluster.request("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "team-a", labels: { "istio-injection": "enabled" } } });
            stack = await labStack("canary", {
                istioRevisions: revisions(STABLE),
                istioRevisionTags: JSON.stringify({ "prod-stable": STABLE }),
                bookinfoRevision: "prod-stable",
                meshNamespaces: JSON.stringify({ "team-a": "prod-stable" }),
            });
            await up(stack, "stable");
            const team = await cluster.json<{ metadata: { labels: Record<string, string> } }>("/api/v1/namespaces/team-a");
            expect(team.metadata.labels).to.include({ "istio.io/rev": "prod-stable" }).and.not.have.property("istio-injection");
            const created = await cluster.request("POST", "/apis/apps/v1/namespaces/team-a/deployments", {
                apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "api" },
                spec: { selector: { matchLabels: { app: "api" } }, template: { metadata: { labels: { app: "api" } }, spec: { containers: [{ name: "api", image: "busybox" }] } } },
            });
            expect(created.status).to.equal(201);
            await bookinfoOn(STABLE);
            expect(await eventually(async () => (await teamPods()).some((p) => p.revision === STABLE), 30_000), "the team's pod is injected through the tag").to.equal(true);
            const [gateway] = await injectedPods(cluster, "istio-ingress");
            expect(gateway).to.include({ revision: STABLE, discoveryAddress: discoveryAddressOf(STABLE) });

            // The tag is what the revision's chart renders for its own injection, with the tag in place of the
            // revision in the selectors (as revision-tags-mwc.yaml and revision-tags-svc.yaml copy them).
            type Webhook = Record<string, unknown> & { name: string; clientConfig: { caBundle?: string } };
            const webhooksOf = async (name: string) => (await cluster.json<{ webhooks: Webhook[] }>(`/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${name}`)).webhooks
                .map(({ clientConfig: { caBundle, ...clientConfig }, ...w }) => ({ ...w, clientConfig, ca: (caBundle ?? "") !== "" }));
            const revisionWebhooks = await webhooksOf(`istio-sidecar-injector-${STABLE}`);
            const tagWebhooks = await webhooksOf("istio-revision-tag-prod-stable");
            expect(tagWebhooks.map((w) => w.name)).to.deep.equal(["rev.namespace.sidecar-injector.istio.io", "rev.object.sidecar-injector.istio.io"]);
            for (const w of tagWebhooks) {
                const chart = revisionWebhooks.find((r) => r.name === w.name)!;
                expect(JSON.parse(JSON.stringify(w).replaceAll('"prod-stable"', `"${STABLE}"`)), w.name).to.deep.equal(chart);
            }
            type Service = { metadata: { labels: Record<string, string> }; spec: { ports: unknown[]; selector: Record<string, string> } };
            const chartService = await cluster.json<Service>(`/api/v1/namespaces/istio-system/services/istiod-${STABLE}`);
            const tagService = await cluster.json<Service>("/api/v1/namespaces/istio-system/services/istiod-revision-tag-prod-stable");
            expect(tagService.spec.ports).to.deep.equal(chartService.spec.ports);
            expect(tagService.spec.selector).to.deep.equal(chartService.spec.selector);
            expect(tagService.metadata.labels).to.include({ "istio.io/tag": "prod-stable", "istio.io/rev": STABLE });
        });

        it("adds the canary revision beside it, and nothing moves", async () => {
            await stack.setAllConfig({
                [`${P}istioRevisions`]: { value: revisions(STABLE, CANARY) },
                [`${P}istioRevisionTags`]: { value: JSON.stringify({ "prod-stable": STABLE, "prod-canary": CANARY }) },
            });
            const { steps } = await up(stack, "canary beside");
            expect(steps.filter((s) => s.type === DEPLOYMENT && s.op !== "same")).to.deep.equal([]);
            expect(await eventually(() => istiods().join() === [`${CANARY} ${NEXT}`, `${STABLE} ${CURRENT}`].sort().join(), 60_000), istiods().join()).to.equal(true);
            await bookinfoOn(STABLE);
        });

        /** The istiod pod a Service sends to: the pod IPs of its EndpointSlices, as kube-controller-manager computed them. */
        async function endpointsOf(service: string): Promise<string[]> {
            const slices = await cluster.json<{ items: Array<{ endpoints?: Array<{ addresses: string[] }> }> }>(
                `/apis/discovery.k8s.io/v1/namespaces/istio-system/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3D${service}`);
            return slices.items.flatMap((s) => (s.endpoints ?? []).flatMap((e) => e.addresses)).sort();
        }
        async function istiodPodIps(revision: string): Promise<string[]> {
            const pods = await cluster.json<{ items: Array<{ metadata: { deletionTimestamp?: string }; status?: { podIP?: string } }> }>(
                `/api/v1/namespaces/istio-system/pods?labelSelector=app%3Distiod,istio.io%2Frev%3D${revision}`);
            return pods.items.filter((p) => !p.metadata.deletionTimestamp && p.status?.podIP).map((p) => p.status!.podIP!).sort();
        }

        /** Moves prod-stable; the tag's webhook and Service change in place, then the program's workloads roll. */
        async function moveStableTo(revision: string): Promise<void> {
            await stack.setConfig(`${P}istioRevisionTags`, { value: JSON.stringify({ "prod-stable": revision, "prod-canary": CANARY }) });
            const { steps, outputs } = await up(stack, `prod-stable → ${revision}`);
            const moved = stepIndex(steps, "update", `${MWC}::istio-tag-prod-stable-webhook`);
            for (const d of BOOKINFO) {
                expect(stepIndex(steps, "update", `${DEPLOYMENT}::bookinfo-${d}`), d).to.be.greaterThan(moved);
            }
            expect(stepIndex(steps, "update", `${RELEASE}::istio-gateway`)).to.be.greaterThan(moved);
            await bookinfoOn(revision);
            for (const pod of await injectedPods(cluster, "bookinfo")) {
                expect(pod.discoveryAddress, pod.name).to.equal(discoveryAddressOf(revision));
            }
            const version = revision === STABLE ? CURRENT : NEXT;
            const mesh = outputs.mesh.value as MeshOutput;
            expect(mesh.dataPlane.bookinfo).to.deep.equal({ [`${revision} ${version}`]: 6 });
            expect(mesh.tags).to.deep.equal({ "prod-stable": revision, "prod-canary": CANARY });
            // The tag's Service now sends to the new revision's istiod pod.
            const ips = await istiodPodIps(revision);
            expect(ips.length).to.equal(1);
            expect(await eventually(async () => (await endpointsOf("istiod-revision-tag-prod-stable")).join() === ips.join(), 30_000),
                `istiod-revision-tag-prod-stable → ${revision}'s istiod ${ips.join()}: ${(await endpointsOf("istiod-revision-tag-prod-stable")).join()}`).to.equal(true);
            // The default validator followed Bookinfo's tag, and the new revision's istiod closed it again.
            const validator = await cluster.json<{ metadata: { labels: Record<string, string> }; webhooks: Array<{ clientConfig: { service: { name: string } } }> }>(`${VWC}/istiod-default-validator`);
            expect(validator.metadata.labels["istio.io/rev"]).to.equal(revision);
            expect(validator.webhooks[0].clientConfig.service.name).to.equal(`istiod-${revision}`);
            expect(await eventually(async () => (await cluster.json<{ webhooks: Array<{ failurePolicy: string }> }>(`${VWC}/istiod-default-validator`)).webhooks[0].failurePolicy === "Fail", 30_000),
                "the default validator fails closed again").to.equal(true);
        }

        it("moves prod-stable to the canary: Bookinfo and the gateway roll onto it, a team's own pods stay until restarted", async () => {
            await moveStableTo(CANARY);
            expect((await injectedPods(cluster, "istio-ingress"))[0]).to.include({ revision: CANARY });
            expect((await teamPods()).map((p) => p.revision)).to.deep.equal([STABLE]);
        });

        it("rolls back by moving the tag back, and forward again", async () => {
            await moveStableTo(STABLE);
            await moveStableTo(CANARY);
        });

        it("refuses to remove the old revision while a pod still uses it, before changing anything", async () => {
            await stack.setAllConfig({
                [`${P}istioRevisions`]: { value: revisions(CANARY) },
                [`${P}istioRevisionTags`]: { value: JSON.stringify({ "prod-stable": CANARY }) },
            });
            const r = recorder();
            const message = await failureOf(stack.up({ onEvent: r.onEvent, onOutput: r.onOutput }));
            expect(message).to.include(`refusing to remove a control plane in use: control plane ${STABLE} is still used by 1 pod(s): team-a/api-`);
            expect(r.steps.filter((s) => s.op !== "same" && s.op !== "read").map((s) => `${s.op} ${nameOf(s.urn)}`), "nothing changed").to.deep.equal([]);
            expect(istiods()).to.include(`${STABLE} ${CURRENT}`);
        });

        it("removes it once nothing uses it", async () => {
            const [pod] = await teamPods();
            await cluster.request("DELETE", `/api/v1/namespaces/team-a/pods/${pod.name}?gracePeriodSeconds=0`);
            expect(await eventually(async () => (await teamPods()).map((p) => p.revision).join() === CANARY, 30_000), "the team's restarted pod is on the canary").to.equal(true);
            const { steps } = await up(stack, "old revision removed");
            expect(steps.map((s) => `${s.op} ${s.type}::${nameOf(s.urn)}`)).to.include(`delete ${RELEASE}::istio-${STABLE}-istiod`);
            expect(await eventually(() => istiods().join() === `${CANARY} ${NEXT}`, 60_000), istiods().join()).to.equal(true);
            expect(await cluster.names("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations")).to.have.members([`istio-sidecar-injector-${CANARY}`, "istio-revision-tag-prod-stable"]);
        });

        it("is destroyed, giving the team's namespace back its label", async () => {
            await stack.destroy({ onOutput: recorder().onOutput });
            const team = await cluster.json<{ metadata: { labels: Record<string, string> } }>("/api/v1/namespaces/team-a");
            expect(team.metadata.labels).to.include({ "istio-injection": "enabled" }).and.not.have.property("istio.io/rev");
        });
    });
});
