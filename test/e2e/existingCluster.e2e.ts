/**
 * End to end on an existing cluster and an existing namespace (`clusterSource: existing`,
 * `bookinfoCreateNamespace: false`) with a control-plane revision: the case where a namespace someone labelled
 * `istio-injection=enabled` would silently get no sidecars from the revision's webhooks. Run by the pulumi CLI in
 * a copy of the project directory against the local control plane with the live istiod, like mesh.e2e.ts.
 */
import { Stack } from "@pulumi/pulumi/automation";
import { expect } from "chai";
import * as crypto from "crypto";
import * as path from "path";
import { eventually, recorder } from "../support/engine";
import { LocalCluster } from "../../local/localCluster";
import { discoveryAddressOf, injectedPods } from "../support/sidecars";
import { useLocalCluster } from "../support/suite";
import { localIstio, meshStack, toolsBin } from "../../local/workspace";
import { runToEnd } from "../support/process";
import { ROOT } from "../support/stacks";

const P = "pks-istio-mesh:";
const TOOLS_BIN = toolsBin();
const NAMESPACE = "shop";
const OTHER_PULUMI_PROGRAM = "pulumi-kubernetes-0a1b2c3d";

describe("end to end: an existing cluster and namespace with a control-plane revision", function () {
    this.timeout(15 * 60_000);
    const suite = useLocalCluster("existing", TOOLS_BIN);
    let cluster: LocalCluster;
    let stack: Stack;

    const labels = async () => (await cluster.json<{ metadata: { labels?: Record<string, string> } }>(`/api/v1/namespaces/${NAMESPACE}`)).metadata.labels ?? {};

    before(async () => {
        cluster = suite.cluster;
        // Someone's namespace, labelled for the default revision's injection long ago by a Pulumi program of theirs
        // (a field manager named like every Pulumi Kubernetes provider's: not this program's).
        const created = await cluster.request("POST", `/api/v1/namespaces?fieldManager=${OTHER_PULUMI_PROGRAM}`, {
            apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE, labels: { "istio-injection": "enabled", team: "shop" } },
        });
        expect(created.status).to.equal(201);
        stack = await meshStack({ dir: path.join(suite.dir, "pulumi"), toolsBin: TOOLS_BIN, stackName: "lab", passphrase: crypto.randomBytes(12).toString("hex") });
        await stack.setAllConfig({
            [`${P}clusterSource`]: { value: "existing" },
            [`${P}kubeconfig`]: { value: cluster.kubeconfig(), secret: true },
            ...localIstio(TOOLS_BIN),
            [`${P}istioRevision`]: { value: "canary" },
            [`${P}bookinfoNamespace`]: { value: NAMESPACE },
            [`${P}bookinfoCreateNamespace`]: { value: "false" },
            [`${P}verifyProductPage`]: { value: String(cluster.servesProductPage) },
        });
    });

    it("removes the namespace's istio-injection label while the stack exists, so the revision injects Bookinfo", async () => {
        const r = recorder();
        const up = await stack.up({ onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      up: ${JSON.stringify(up.summary.resourceChanges)}`);
        expect(await labels()).to.deep.equal({ "istio.io/rev": "canary", team: "shop", "kubernetes.io/metadata.name": NAMESPACE });
        expect(await eventually(async () => (await injectedPods(cluster, NAMESPACE)).length === 6, 30_000)).to.equal(true);
        for (const pod of await injectedPods(cluster, NAMESPACE)) {
            expect(pod.containers, pod.name).to.deep.equal([pod.app, "istio-proxy"]);
            expect(pod, pod.name).to.include({ revision: "canary", discoveryAddress: discoveryAddressOf("canary") });
        }
        // The namespace itself is not the stack's.
        const exported = JSON.stringify((await stack.exportStack()).deployment);
        expect(exported).to.not.include("kubernetes:core/v1:Namespace::bookinfo-namespace");
    });

    it("previews no changes on a second run", async () => {
        const preview = await stack.preview({ expectNoChanges: true });
        expect(Object.keys(preview.changeSummary).sort()).to.deep.equal(["read", "same"]);
    });

    it("gives the namespace back as it found it on destroy", async () => {
        const r = recorder();
        await stack.destroy({ onEvent: r.onEvent, onOutput: r.onOutput });
        expect(await labels()).to.deep.equal({ "istio-injection": "enabled", team: "shop", "kubernetes.io/metadata.name": NAMESPACE });
        expect(await cluster.names("/apis/apps/v1/namespaces/shop/deployments")).to.deep.equal([]);
    });

    it("does not count a label of its own earlier configuration as the namespace's: nothing to give back", async () => {
        // Another namespace, unlabelled, first on the default revision (the program labels it istio-injection=enabled)…
        const created = await cluster.request("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "lab" } });
        expect(created.status).to.equal(201);
        const lab = async () => (await cluster.json<{ metadata: { labels?: Record<string, string> } }>("/api/v1/namespaces/lab")).metadata.labels ?? {};
        await stack.setAllConfig({ [`${P}bookinfoNamespace`]: { value: "lab" } });
        await stack.removeConfig(`${P}istioRevision`);
        await stack.up({ onOutput: recorder().onOutput });
        expect(await lab()).to.include({ "istio-injection": "enabled" });
        // … then on a revision: the label goes, and, being the program's own, is not put back on destroy.
        await stack.setConfig(`${P}istioRevision`, { value: "canary" });
        await stack.up({ onOutput: recorder().onOutput });
        expect(await lab()).to.include({ "istio.io/rev": "canary" }).and.not.have.property("istio-injection");
        await stack.destroy({ onOutput: recorder().onOutput });
        expect(await lab()).to.deep.equal({ "kubernetes.io/metadata.name": "lab" });
    });

    it("puts labels back only on the namespace they were taken from, never on one created again under its name", async () => {
        // The label script as NamespaceLabelRemoval runs it, on a namespace of its own.
        const script = (operation: string, previous?: string) => runToEnd(process.execPath, ["components/launcher/run.js", "components/istio/namespaceLabels.ts", operation], {
            cwd: ROOT,
            env: {
                ...process.env, NAMESPACE_LABELS_KUBECONFIG: cluster.kubeconfig(), NAMESPACE_LABELS_NAMESPACE: "recycled",
                NAMESPACE_LABELS_REMOVE: '{"istio-injection":null}', NAMESPACE_LABELS_OWN_MANAGERS: '["pks-istio-mesh/lab"]',
                ...previous === undefined ? {} : { PULUMI_COMMAND_STDOUT: previous },
            },
        });
        const namespace = async () => cluster.json<{ metadata: { uid: string; labels?: Record<string, string> } }>("/api/v1/namespaces/recycled");
        const create = async (labels: Record<string, string>) => {
            for (let attempt = 0; attempt < 120; attempt++) {
                const created = await cluster.request("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "recycled", labels } });
                if (created.status === 201) {
                    return;
                }
                await new Promise((resolve) => setTimeout(resolve, 500)); // the old one is still terminating
            }
            throw new Error("namespace recycled could not be created again");
        };
        await create({ "istio-injection": "enabled", team: "old" });
        const first = (await namespace()).metadata.uid;
        const removed = await script("remove");
        expect(removed.code, removed.stderr).to.equal(0);
        expect(JSON.parse(removed.stdout)).to.deep.equal({ namespace: "recycled", uid: first, removed: { "istio-injection": "enabled" } });

        // Deleted and created again under the same name: another namespace, whoever owns it now.
        expect((await cluster.request("DELETE", "/api/v1/namespaces/recycled")).status).to.equal(200);
        await create({ team: "new" });
        const second = (await namespace()).metadata.uid;
        expect(second).to.not.equal(first);
        const restored = await script("restore", removed.stdout);
        expect(restored.code, restored.stderr).to.equal(0);
        expect(restored.stderr).to.include(`namespace-labels: namespace recycled is not the one labels were taken from (uid ${second}, recorded ${first}); not restoring istio-injection`);
        expect((await namespace()).metadata.labels).to.deep.equal({ team: "new", "kubernetes.io/metadata.name": "recycled" });
        // An update on the new namespace forgets what was taken from the old one.
        const again = await script("remove", removed.stdout);
        expect(JSON.parse(again.stdout)).to.deep.equal({ namespace: "recycled", uid: second, removed: {} });
        // On the namespace it was taken from, the label does go back.
        const fromSecond = await script("restore", JSON.stringify({ namespace: "recycled", uid: second, removed: { "istio-injection": "enabled" } }));
        expect(fromSecond.code, fromSecond.stderr).to.equal(0);
        expect((await namespace()).metadata.labels).to.include({ "istio-injection": "enabled" });
    });
});
