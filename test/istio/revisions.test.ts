/**
 * Day two under Pulumi mocks: control planes side by side, revision tags, the CNI agent, existing namespaces
 * joined to the mesh, and the guard against removing a control plane that pods still use.
 */
import * as k8s from "@pulumi/kubernetes";
import { expect } from "chai";
import { IstioBase } from "../../components/istio/base";
import { IstioCni } from "../../components/istio/cni";
import { IstioControlPlane } from "../../components/istio/controlPlane";
import { countProxies } from "../../components/istio/dataPlaneVersions";
import { imageTag, injectedPod } from "../../programs/mesh/meshInventory";
import { MeshNamespace, blockingLabels } from "../../components/istio/meshNamespace";
import { ownershipProblem } from "../../components/istio/namespaceOwnership";
import { guardRevisionRemoval, removalProblem, revisionsInUse } from "../../components/istio/revisionGuard";
import { IstioRevisionTag } from "../../components/istio/revisionTag";
import { Recorder, dependenciesOf, mocks, runProgram, unwrap, useMocks } from "../support/harness";
import { isManifest, validateManifests } from "../support/validate";

const charts = { repository: "https://blob.istio.io/istio-release/charts", version: "1.30.3" };
const RELEASE = "kubernetes:helm.sh/v3:Release";
/** The exact field manager of the program's label patches (stack "test"). */
const OWN_PATCH = { "pulumi.com/patchFieldManager": "pks-istio-mesh/test" };
const MWC = "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration";

interface Webhook {
    name: string;
    clientConfig: { service: { name: string; namespace: string; path: string; port: number } };
    failurePolicy: string;
    namespaceSelector: { matchExpressions: Array<{ key: string; operator: string; values?: string[] }> };
    objectSelector: { matchExpressions: Array<{ key: string; operator: string; values?: string[] }> };
}

async function planes(recorder: Recorder, cni = false) {
    const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
    const base = new IstioBase("istio", { provider, charts });
    const stable = new IstioControlPlane("istio-1-30-3", { provider, charts, base, revision: "1-30-3", cni }, recorder.opts());
    const canary = new IstioControlPlane("istio-1-31-0", { provider, charts: { ...charts, version: "1.31.0" }, base, revision: "1-31-0", cni }, recorder.opts());
    return { provider, base, stable, canary };
}

describe("IstioRevisionTag", () => {
    before(() => useMocks());
    beforeEach(() => mocks.reset());

    it("is a webhook configuration that selects the tag and calls the revision's istiod, labelled for istiod to patch", async () => {
        const recorder = new Recorder();
        const { provider, stable } = await planes(recorder);
        const tag = new IstioRevisionTag("istio-tag-prod-stable", { provider, tag: "prod-stable", controlPlane: stable }, recorder.opts());
        await recorder.settle();
        const mwc = mocks.find(MWC, "istio-tag-prod-stable-webhook");
        expect(mwc.inputs.metadata).to.deep.equal({
            name: "istio-revision-tag-prod-stable",
            labels: { "istio.io/tag": "prod-stable", "istio.io/rev": "1-30-3", app: "sidecar-injector", "operator.istio.io/component": "Pilot", "app.kubernetes.io/name": "istiod" },
        });
        const webhooks = mwc.inputs.webhooks as Webhook[];
        // istiod writes its CA into webhooks whose name ends so, in configurations labelled with its revision.
        expect(webhooks.map((w) => w.name)).to.deep.equal(["rev.namespace.sidecar-injector.istio.io", "rev.object.sidecar-injector.istio.io"]);
        for (const w of webhooks) {
            expect(w.clientConfig.service).to.deep.equal({ name: "istiod-1-30-3", namespace: "istio-system", path: "/inject", port: 443 });
            expect(w.failurePolicy).to.equal("Fail");
        }
        expect(webhooks[0].namespaceSelector.matchExpressions).to.deep.equal([
            { key: "istio.io/rev", operator: "In", values: ["prod-stable"] }, { key: "istio-injection", operator: "DoesNotExist" },
        ]);
        expect(webhooks[1].objectSelector.matchExpressions).to.deep.include({ key: "istio.io/rev", operator: "In", values: ["prod-stable"] });
        // Workloads select the tag, roll when the revision behind it changes, and wait for both.
        expect(tag.injection).to.deep.include({
            selector: "prod-stable", namespaceLabels: { "istio.io/rev": "prod-stable" }, podLabels: { "istio.io/rev": "prod-stable" },
            workloadAnnotations: { "pks-istio-mesh/control-plane": "istiod-1-30-3@1.30.3" },
        });
        expect(tag.injection.readyBefore).to.deep.equal([stable.release, tag.webhook, tag.service]);
        expect(recorder.explicitDependencies(MWC, "istio-tag-prod-stable-webhook")).to.deep.equal([stable.release]);
    });

    it("has the tag's Service, which istiod's tag watcher counts and which selects the revision's istiod pods", async () => {
        const recorder = new Recorder();
        const { provider, stable } = await planes(recorder);
        new IstioRevisionTag("istio-tag-prod-stable", { provider, tag: "prod-stable", controlPlane: stable }, recorder.opts());
        await recorder.settle();
        const service = mocks.find("kubernetes:core/v1:Service", "istio-tag-prod-stable-service");
        expect(service.inputs.metadata).to.deep.include({ name: "istiod-revision-tag-prod-stable", namespace: "istio-system" });
        // The tag watcher (pkg/revisions/tag_watcher.go) indexes Services by these two labels.
        expect((service.inputs.metadata as { labels: Record<string, string> }).labels).to.include({ "istio.io/tag": "prod-stable", "istio.io/rev": "1-30-3" });
        const spec = service.inputs.spec as { selector: Record<string, string>; ports: Array<{ name: string; port: number; targetPort?: number }> };
        // The labels the istiod chart gives the revision's pods (templates/deployment.yaml).
        expect(spec.selector).to.deep.equal({ app: "istiod", "istio.io/rev": "1-30-3" });
        expect(spec.ports.map((p) => `${p.name}:${p.port}${p.targetPort ? `->${p.targetPort}` : ""}`))
            .to.deep.equal(["grpc-xds:15010", "https-dns:15012", "https-webhook:443->15017", "http-monitoring:15014"]);
        expect(recorder.explicitDependencies("kubernetes:core/v1:Service", "istio-tag-prod-stable-service")).to.deep.equal([stable.release]);
    });

    it("moves by an update of the same object, and the default tag also answers the default revision's selectors", async () => {
        const recorder = new Recorder();
        const { provider, canary } = await planes(recorder);
        const moved = new IstioRevisionTag("istio-tag-default", { provider, tag: "default", controlPlane: canary }, recorder.opts());
        await recorder.settle();
        const mwc = mocks.find(MWC, "istio-tag-default-webhook");
        expect((mwc.inputs.metadata as { name: string }).name).to.equal("istio-revision-tag-default");
        const webhooks = mwc.inputs.webhooks as Webhook[];
        expect(webhooks.map((w) => w.name)).to.deep.equal([
            "rev.namespace.sidecar-injector.istio.io", "rev.object.sidecar-injector.istio.io",
            "namespace.sidecar-injector.istio.io", "object.sidecar-injector.istio.io",
        ]);
        expect(webhooks[2].namespaceSelector.matchExpressions).to.deep.equal([{ key: "istio-injection", operator: "In", values: ["enabled"] }]);
        expect(webhooks.every((w) => w.clientConfig.service.name === "istiod-1-31-0")).to.equal(true);
        expect(moved.injection.workloadAnnotations).to.deep.equal({ "pks-istio-mesh/control-plane": "istiod-1-31-0@1.31.0" });
    });
});

describe("IstioCni", () => {
    before(() => useMocks());
    beforeEach(() => mocks.reset());

    it("installs the cni chart in the root namespace and tells each control plane", async () => {
        const recorder = new Recorder();
        const { provider, base } = await planes(recorder, true);
        new IstioCni("istio", { provider, charts, base, imageHub: "harbor.example.com/istio", cniBinDir: "/var/vcap/data/cni/bin" }, recorder.opts());
        await recorder.settle();
        const cni = mocks.find(RELEASE, "istio-cni");
        expect(cni.inputs).to.deep.include({ name: "istio-cni", namespace: "istio-system", chart: "cni", version: "1.30.3" });
        expect(cni.inputs.values).to.deep.equal({ cniBinDir: "/var/vcap/data/cni/bin", global: { hub: "harbor.example.com/istio" } });
        for (const name of ["istio-1-30-3-istiod", "istio-1-31-0-istiod"]) {
            expect((mocks.find(RELEASE, name).inputs.values as { cni?: unknown }).cni).to.deep.equal({ enabled: true });
        }
    });
});

describe("MeshNamespace", () => {
    before(() => useMocks());
    beforeEach(() => mocks.reset());

    it("labels an existing namespace for a tag, after removing what would block it", async () => {
        const recorder = new Recorder();
        const { provider, stable } = await planes(recorder);
        const tag = new IstioRevisionTag("istio-tag-prod", { provider, tag: "prod", controlPlane: stable });
        const ns = new MeshNamespace("mesh-team-a", { provider, namespace: "team-a", injection: tag.injection, kubeconfig: "kubeconfig" }, recorder.opts());
        await recorder.settle();
        expect(mocks.find("kubernetes:core/v1:NamespacePatch", "mesh-team-a-injection-label").inputs.metadata).to.deep.equal({ name: "team-a", labels: { "istio.io/rev": "prod" }, annotations: OWN_PATCH });
        const removal = mocks.find("command:local:Command", "mesh-team-a-blocking-labels");
        expect(JSON.parse((removal.inputs.environment as Record<string, string>).NAMESPACE_LABELS_REMOVE)).to.deep.equal({ "istio-injection": null });
        // Labels count as the program's own only when its patch's exact field manager set them.
        expect(JSON.parse((removal.inputs.environment as Record<string, string>).NAMESPACE_LABELS_OWN_MANAGERS)).to.deep.equal(["pks-istio-mesh/test"]);
        expect(await dependenciesOf(recorder.find("kubernetes:core/v1:NamespacePatch", "mesh-team-a-injection-label")))
            .to.include(recorder.find("command:local:Command", "mesh-team-a-blocking-labels").resource);
        expect(await unwrap(ns.namespaceName)).to.equal("team-a");
    });

    it("knows which labels block which injection", () => {
        expect(blockingLabels("namespace", undefined)).to.deep.equal({});
        expect(blockingLabels("namespace", "prod")).to.deep.equal({ "istio-injection": null });
        expect(blockingLabels("pod", "prod")).to.deep.equal({ "istio-injection": null, "istio.io/rev": "prod" });
        expect(blockingLabels("pod", undefined)).to.deep.equal({ "istio-injection": "enabled", "istio.io/rev": "default" });
    });
});

describe("the control-plane removal guard", () => {
    const pod = (namespace: string, name: string, revision: string) => ({ namespace, name, revision, proxyVersion: "1.30.3" });

    it("names the pods outside the program's own namespaces that a dropped revision still injected", () => {
        const inventory = {
            revisions: [{ revision: "1-30-3", version: "1.30.3" }, { revision: "1-31-0", version: "1.31.0" }], tags: {},
            pods: [pod("bookinfo", "details-v1-x", "1-30-3"), pod("team-a", "api-1", "1-30-3"), pod("team-a", "api-2", "1-31-0"), pod("istio-ingress", "gw", "1-30-3")],
        };
        const own = [{ namespace: "bookinfo" }, { namespace: "istio-ingress" }];
        expect(revisionsInUse(inventory, ["1-31-0"], own)).to.deep.equal({ "1-30-3": ["team-a/api-1"] });
        expect(revisionsInUse(inventory, ["1-30-3", "1-31-0"], own)).to.deep.equal({});
        // Revisions that are not installed are never "in use"; pods of the program's own namespaces roll first.
        expect(revisionsInUse({ revisions: [{ revision: "1-30-3", version: "1.30.3" }], tags: {}, pods: [pod("bookinfo", "p", "1-30-3")] }, ["1-31-0"], [{ namespace: "bookinfo" }])).to.deep.equal({});
        // In a namespace the program does not own, only Bookinfo's own pods are its to roll.
        const shared = { revisions: inventory.revisions, tags: {}, pods: [{ ...pod("default", "details-v1-x", "1-30-3"), app: "details" }, { ...pod("default", "cron-1", "1-30-3"), app: "cron" }, pod("default", "bare", "1-30-3")] };
        expect(revisionsInUse(shared, ["1-31-0"], [{ namespace: "default", apps: ["details", "ratings", "reviews", "productpage"] }]))
            .to.deep.equal({ "1-30-3": ["default/cron-1", "default/bare"] });
    });

    it("counts the proxies per namespace by revision and release", () => {
        const pod = (namespace: string, revision: string, proxyVersion: string) => ({ namespace, name: "p", revision, proxyVersion });
        expect(countProxies({ revisions: [], tags: {}, pods: [pod("bookinfo", "1-30-3", "1.30.3"), pod("bookinfo", "1-31-0", "1.31.0"), pod("bookinfo", "1-31-0", "1.31.0"), pod("istio-ingress", "1-31-0", "1.31.0")] }))
            .to.deep.equal({ bookinfo: { "1-30-3 1.30.3": 1, "1-31-0 1.31.0": 2 }, "istio-ingress": { "1-31-0 1.31.0": 1 } });
    });

    it("reads a pod's revision and proxy release from what the injector wrote", () => {
        expect(imageTag("registry.istio.io/release/proxyv2:1.30.3")).to.equal("1.30.3");
        expect(imageTag("harbor.example.com:8443/istio/proxyv2:1.31.0-alpha.1@sha256:abc")).to.equal("1.31.0-alpha.1");
        expect(imageTag("proxyv2")).to.equal("unknown");
        expect(injectedPod({
            metadata: { name: "a", namespace: "b", annotations: { "sidecar.istio.io/status": JSON.stringify({ revision: "1-31-0" }) } },
            spec: { containers: [{ name: "app" }, { name: "istio-proxy", image: "registry.istio.io/release/proxyv2:1.31.0" }] },
        })).to.deep.equal({ namespace: "b", name: "a", revision: "1-31-0", proxyVersion: "1.31.0" });
        expect(injectedPod({ metadata: { name: "plain" }, spec: { containers: [{ name: "app" }] } })).to.equal(undefined);
    });
});

describe("the program with control planes side by side", function () {
    this.timeout(60_000);
    const P = "pks-istio-mesh:";
    const kubeconfig = "current-context: lab\ncontexts: [{name: lab, context: {cluster: lab, user: me}}]\nclusters: [{name: lab, cluster: {server: 'https://lab.example.com:6443'}}]\nusers: [{name: me, user: {token: t}}]\n";
    const canary = {
        [`${P}clusterSource`]: "existing", [`${P}kubeconfig`]: kubeconfig, [`${P}verifyProductPage`]: "false",
        [`${P}istioRevisions`]: JSON.stringify([{ name: "1-30-3", version: "1.30.3" }, { name: "1-31-0", version: "1.31.0" }]),
        [`${P}istioRevisionTags`]: JSON.stringify({ "prod-stable": "1-31-0", "prod-canary": "1-31-0", default: "1-30-3" }),
        [`${P}bookinfoRevision`]: "prod-stable",
        [`${P}meshNamespaces`]: JSON.stringify({ "team-a": "prod-canary" }),
    };

    it("installs each revision, points the tags, and has Bookinfo and the gateway follow their tag", async () => {
        const run = await runProgram(canary, [`${P}kubeconfig`]);
        expect(run.error).to.equal(undefined);
        expect(mocks.ofType(RELEASE).map((r) => [r.name, r.inputs.name, r.inputs.version])).to.have.deep.members([
            ["istio-istio-base", "istio-base", "1.31.0"], ["istio-1-30-3-istiod", "istiod-1-30-3", "1.30.3"],
            ["istio-1-31-0-istiod", "istiod-1-31-0", "1.31.0"], ["istio-gateway", "istio-ingressgateway", "1.31.0"],
        ]);
        // The default validator follows the default tag (its own webhook, not the base chart's).
        expect(mocks.find(RELEASE, "istio-istio-base").inputs.values).to.deep.equal({ defaultRevision: "" });
        const validator = mocks.find("kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration", "istio-webhook");
        expect((validator.inputs.metadata as { labels: Record<string, string> }).labels["istio.io/rev"]).to.equal("1-30-3");
        const targets = Object.fromEntries(mocks.ofType(MWC).map((m) => [(m.inputs.metadata as { name: string }).name, (m.inputs.metadata as { labels: Record<string, string> }).labels["istio.io/rev"]]));
        expect(targets).to.deep.equal({ "istio-revision-tag-prod-stable": "1-31-0", "istio-revision-tag-prod-canary": "1-31-0", "istio-revision-tag-default": "1-30-3" });
        expect((mocks.find("kubernetes:core/v1:Namespace", "bookinfo-namespace").inputs.metadata as { labels: unknown }).labels).to.deep.equal({ "istio.io/rev": "prod-stable" });
        const template = (mocks.find("kubernetes:apps/v1:Deployment", "bookinfo-details-v1").inputs.spec as { template: { metadata: { annotations: Record<string, string> } } }).template;
        expect(template.metadata.annotations).to.include({ "pks-istio-mesh/control-plane": "istiod-1-31-0@1.31.0" });
        expect((mocks.find(RELEASE, "istio-gateway").inputs.values as { revision: string }).revision).to.equal("prod-stable");
        expect(mocks.find("kubernetes:core/v1:NamespacePatch", "mesh-team-a-injection-label").inputs.metadata).to.deep.equal({ name: "team-a", labels: { "istio.io/rev": "prod-canary" }, annotations: OWN_PATCH });
        // Every manifest, the tags' webhooks and the default validator among them, passes its schema.
        validateManifests(mocks.registered.filter((r) => isManifest(r) && r.type.startsWith("kubernetes:") && !r.id));
    });

    it("reports the control planes and tags the cluster runs, not the ones it was asked for", async () => {
        // The cluster still runs only the first revision, on a release of its own; the output says so.
        const run = await runProgram(canary, [`${P}kubeconfig`], "test", false, (m) => {
            m.inventory = { revisions: [{ revision: "1-30-3", version: "1.30.2" }], tags: { "prod-stable": "1-30-3" }, pods: [] };
        });
        expect(run.error).to.equal(undefined);
        const mesh = run.exports!.mesh as { controlPlanes: unknown; tags: unknown };
        expect(await unwrap(mesh.controlPlanes)).to.deep.equal([{ revision: "1-30-3", version: "1.30.2" }]);
        expect(await unwrap(mesh.tags)).to.deep.equal({ "prod-stable": "1-30-3" });
    });

    it("asks the cluster which control planes are in use before the Kubernetes provider may act", async () => {
        const run = await runProgram(canary, [`${P}kubeconfig`]);
        expect(run.error).to.equal(undefined);
        const inventory = mocks.invokes.filter((i) => String(i.inputs.interpreter).includes("meshInventory"))
            .map((i) => i.inputs.environment as Record<string, string>);
        // The guard lists the whole cluster; the data-plane count only the program's own namespaces.
        expect(inventory.map((env) => env.MESH_INVENTORY_NAMESPACES)).to.have.members([undefined, "bookinfo,istio-ingress"]);
        expect(inventory.every((env) => env.MESH_INVENTORY_KUBECONFIG === kubeconfig)).to.equal(true);
        // The provider's kubeconfig is computed from the check: it registers only after it, as do the commands that
        // write to the cluster (the label removal of the listed namespace).
        expect(mocks.find("pulumi:providers:kubernetes", "mesh-cluster").inputs.kubeconfig).to.equal(kubeconfig);
        const guard = mocks.sequence.indexOf("invoke command:local:run inventory");
        expect(guard).to.be.greaterThan(-1);
        expect(mocks.sequence.indexOf("resource pulumi:providers:kubernetes::mesh-cluster")).to.be.greaterThan(guard);
        expect(mocks.sequence.indexOf("resource command:local:Command::mesh-team-a-blocking-labels")).to.be.greaterThan(guard);
    });

    it("fails the check itself when a dropped control plane still injects pods", async () => {
        await useMocks();
        mocks.inventory = {
            revisions: [{ revision: "1-30-3", version: "1.30.3" }, { revision: "1-31-0", version: "1.31.0" }], tags: {},
            pods: [{ namespace: "team-a", name: "api-1", revision: "1-30-3", proxyVersion: "1.30.3" }],
        };
        const checked = guardRevisionRemoval({ kubeconfig: "kubeconfig", keep: ["1-31-0"], own: [{ namespace: "bookinfo" }] });
        // The SDK's own resolution of the output (what the provider's input waits on).
        const settled = (checked as unknown as { promise(): Promise<unknown> }).promise();
        const error = await settled.then(() => undefined, (e: Error) => e);
        expect(error?.message).to.include("refusing to remove a control plane in use: control plane 1-30-3 is still used by 1 pod(s): team-a/api-1");
    });

    it("refuses, in the same check, a namespace it would create that someone else already has, unless adopting", async () => {
        await useMocks();
        const own = { names: ["istio-system", "istio-ingress", "bookinfo"], mark: "pks-istio-mesh/test", adopt: false };
        mocks.inventory = {
            revisions: [], tags: {}, pods: [],
            namespaces: [{ name: "istio-system" }, { name: "istio-ingress", mark: "pks-istio-mesh/test" }, { name: "bookinfo", mark: "pks-istio-mesh/prod" }],
        };
        const checked = guardRevisionRemoval({ kubeconfig: "kubeconfig", keep: [], own: [], ownNamespaces: own });
        const error = await (checked as unknown as { promise(): Promise<unknown> }).promise().then(() => undefined, (e: Error) => e);
        expect(error?.message).to.equal("refusing to take over namespaces this stack did not create: istio-system (no pks-istio-mesh/stack annotation of this stack), " +
            "bookinfo (marked as stack pks-istio-mesh/prod's). The stack would own them, and `pulumi destroy` would delete them with everything in them. " +
            "Remove them, use another cluster (or for Bookinfo another bookinfoNamespace, or bookinfoCreateNamespace: false), or set pks-istio-mesh:adoptExistingObjects to true to take them over");
        const asked = mocks.invokes.map((i) => (i.inputs.environment as Record<string, string>).MESH_INVENTORY_OWN_NAMESPACES);
        expect(asked).to.deep.equal(["istio-system,istio-ingress,bookinfo"]);
        // Its own (marked) namespaces pass, and so does anything when adoption is asked for.
        expect(ownershipProblem({ revisions: [], tags: {}, pods: [], namespaces: [{ name: "istio-ingress", mark: "pks-istio-mesh/test" }] }, own)).to.equal(undefined);
        expect(ownershipProblem(mocks.inventory, { ...own, adopt: true })).to.equal(undefined);
        expect(ownershipProblem({ revisions: [], tags: {}, pods: [] }, own)).to.equal(undefined);
    });

    it("words the refusal with the pods and what to do", () => {
        const inventory = {
            revisions: [{ revision: "1-30-3", version: "1.30.3" }, { revision: "1-31-0", version: "1.31.0" }], tags: {},
            pods: [{ namespace: "team-a", name: "api-1", revision: "1-30-3", proxyVersion: "1.30.3" }],
        };
        expect(removalProblem(inventory, ["1-31-0"], [{ namespace: "bookinfo" }, { namespace: "istio-ingress" }])).to.equal(
            "refusing to remove a control plane in use: control plane 1-30-3 is still used by 1 pod(s): team-a/api-1. " +
            "Restart those workloads onto a remaining revision first (e.g. `kubectl rollout restart deployment -n <namespace>`), then run again; or keep the revision in istioRevisions");
        expect(removalProblem(inventory, ["1-30-3", "1-31-0"], [])).to.equal(undefined);
    });
});
