/**
 * Day two for the mesh, end to end against live istiods (one process per istiod pod, per revision): an in-place
 * upgrade to a newer Istio, Istio CNI with Pod Security `baseline` (and the rejection without CNI), and a canary
 * upgrade by revision tags — a second control plane beside the first, a tag moved to it and back, workloads
 * rolled onto it, the old revision refused while pods use it and removed once they do not.
 *
 * The newer Istio is a development snapshot of istio.io/istio from the Go module proxy (its istiod and charts,
 * released by tools.sh as ISTIO_NEXT_VERSION). The stacks use `clusterSource: existing` against the local control
 * plane (no PKS: that layer is covered by mesh.e2e.ts), run by the pulumi CLI in a copy of the project.
 */
import { Stack } from "@pulumi/pulumi/automation";
import { expect } from "chai";
import * as crypto from "crypto";
import * as path from "path";
import { imageTag } from "../../components/istio/meshInventory";
import { Step, eventually, failureOf, nameOf, recorder, stepIndex } from "./engine";
import { LocalCluster } from "./localCluster";
import { discoveryAddressOf, injectedPods } from "./sidecars";
import { useLocalCluster } from "./suite";
import { meshStack, requireTools, toolVersions, toolsBin } from "./workspace";

const P = "pks-istio-mesh:";
const TOOLS_BIN = toolsBin();
const { ISTIO_VERSION: CURRENT, ISTIO_NEXT_VERSION: NEXT } = toolVersions();
const BOOKINFO = ["details-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3", "productpage-v1"];
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const RELEASE = "kubernetes:helm.sh/v3:Release";
const MWC = "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration";
const STABLE = "1-30-3";
const CANARY = "1-31-0-alpha";

describe("end to end: day two — upgrades in place and by canary revision, Istio CNI and Pod Security", function () {
    this.timeout(30 * 60_000);
    requireTools(TOOLS_BIN, [`pilot-discovery-${CURRENT}`, `pilot-discovery-${NEXT}`, "istio-charts", `istio-charts-${NEXT}`]);
    const suite = useLocalCluster("day-two", TOOLS_BIN);
    let dir: string;
    let cluster: LocalCluster;
    before(() => {
        ({ dir, cluster } = suite);
    });

    /** A stack of the project on the local cluster, with these settings. */
    async function labStack(name: string, settings: Record<string, string>): Promise<Stack> {
        const stack = await meshStack({ dir: path.join(dir, name), toolsBin: TOOLS_BIN, stackName: name, passphrase: crypto.randomBytes(12).toString("hex") });
        await stack.setAllConfig({
            [`${P}clusterSource`]: { value: "existing" },
            [`${P}kubeconfig`]: { value: cluster.kubeconfig(), secret: true },
            [`${P}istioChartRepository`]: { value: path.join(TOOLS_BIN, "istio-charts") },
            [`${P}verifyProductPage`]: { value: String(cluster.servesProductPage) },
            ...Object.fromEntries(Object.entries(settings).map(([k, value]) => [`${P}${k}`, { value }])),
        });
        return stack;
    }

    async function up(stack: Stack, what: string): Promise<{ steps: Step[]; outputs: Record<string, { value: unknown }> }> {
        const r = recorder();
        const result = await stack.up({ onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      up (${what}): ${JSON.stringify(result.summary.resourceChanges)}`);
        return { steps: r.steps, outputs: result.outputs };
    }

    /** Every Bookinfo pod (once the rollout settled) injected by `revision`. */
    async function bookinfoOn(revision: string, namespace = "bookinfo"): Promise<void> {
        const settled = await eventually(async () => {
            const pods = await injectedPods(cluster, namespace);
            return pods.length === BOOKINFO.length && pods.every((p) => p.revision === revision);
        }, 60_000);
        expect(settled, `Bookinfo's pods injected by ${revision}: ${JSON.stringify(await injectedPods(cluster, namespace))}`).to.equal(true);
    }

    const istiods = () => cluster.istiod!.running().map((p) => `${p.revision} ${imageTag(p.image)}${p.ready ? "" : " (not ready)"}`).sort();

    describe("an in-place upgrade of the control plane", () => {
        let stack: Stack;

        it(`installs ${CURRENT} and reports the control plane's and the proxies' versions`, async () => {
            stack = await labStack("upgrade", { istioVersion: CURRENT });
            const { outputs } = await up(stack, CURRENT);
            await bookinfoOn("default");
            const mesh = outputs.mesh.value as { controlPlanes: unknown[]; dataPlane: Record<string, Record<string, number>> };
            expect(mesh.controlPlanes).to.deep.equal([{ revision: "default", version: CURRENT }]);
            expect(mesh.dataPlane).to.deep.equal({ bookinfo: { [`default ${CURRENT}`]: 6 }, "istio-ingress": { [`default ${CURRENT}`]: 1 } });
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

        it(`upgrades to ${NEXT} in place: base, then istiod, then the gateway and Bookinfo roll onto it`, async () => {
            await stack.setAllConfig({
                [`${P}istioVersion`]: { value: NEXT },
                [`${P}istioChartRepository`]: { value: path.join(TOOLS_BIN, `istio-charts-${NEXT}`) },
            });
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
            const mesh = outputs.mesh.value as { controlPlanes: unknown[]; dataPlane: Record<string, Record<string, number>> };
            expect(mesh.controlPlanes).to.deep.equal([{ revision: "default", version: NEXT }]);
            expect(mesh.dataPlane).to.deep.equal({ bookinfo: { [`default ${NEXT}`]: 6 }, "istio-ingress": { [`default ${NEXT}`]: 1 } });
        });

        it("is destroyed", async () => {
            await stack.destroy({ onOutput: recorder().onOutput });
            expect(await eventually(() => istiods().length === 0, 30_000)).to.equal(true);
        });
    });

    describe("Istio CNI with Pod Security baseline", () => {
        it("injects pods without a privileged init container, which baseline admits", async () => {
            const stack = await labStack("cni", { istioCni: "true", bookinfoPodSecurity: "baseline" });
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

        /** Moves prod-stable; the tag's webhook changes in place, then the program's workloads roll. */
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
            expect((outputs.mesh.value as { dataPlane: Record<string, unknown> }).dataPlane.bookinfo).to.deep.equal({ [`${revision} ${version}`]: 6 });
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
