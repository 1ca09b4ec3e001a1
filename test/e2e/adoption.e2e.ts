/**
 * End to end on a cluster that is not empty: someone else already has an `istio-system` namespace there, with a
 * ConfigMap of theirs and a PeerAuthentication `default` (and Istio's PeerAuthentication CRD, from an earlier
 * `helm install` of Istio's base chart). `pulumi up` must
 * refuse to take over what it did not create, naming it, and `pulumi destroy` must then leave all of it in place;
 * only `adoptExistingObjects: true` takes such objects over (and destroy then deletes them, as documented). Run by
 * the pulumi CLI with the Kubernetes provider built from pulumi-kubernetes v4.30.0 (tools/tools.sh), on the
 * local control plane with the live istiod (`clusterSource: existing`).
 */
import { Stack } from "@pulumi/pulumi/automation";
import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { eventually, failureOf, recorder } from "../support/engine";
import { LocalCluster } from "../../local/localCluster";
import { useLocalCluster } from "../support/suite";
import { localIstio, meshStack, requireTools, toolVersions, toolsBin } from "../../local/workspace";

const P = "pks-istio-mesh:";
const TOOLS_BIN = toolsBin();
const ISTIO = toolVersions().ISTIO_VERSION;
const THEIRS = { "app.kubernetes.io/managed-by": "platform-team" };
const PEER_AUTHENTICATION = "/apis/security.istio.io/v1/namespaces/istio-system/peerauthentications/default";
const CONFIG_MAP = "/api/v1/namespaces/istio-system/configmaps/platform-settings";

describe("end to end: a cluster with someone else's istio-system", function () {
    this.timeout(20 * 60_000);
    before(() => requireTools(TOOLS_BIN, ["pulumi", "pulumi-language-nodejs", "pulumi-resource-command", "pulumi-resource-kubernetes", `pilot-discovery-${ISTIO}`, `istio-charts-${ISTIO}`]));
    const suite = useLocalCluster("adoption", TOOLS_BIN);
    let cluster: LocalCluster;
    let stack: Stack;

    /** Creates an object as someone else would (their own field manager); fails unless the API server created it. */
    const create = async (urlPath: string, body: unknown) => {
        const created = await cluster.request("POST", `${urlPath}?fieldManager=platform-team`, body);
        expect(created.status, `POST ${urlPath}: ${created.body}`).to.equal(201);
    };
    /** What of theirs is on the cluster: the namespace's uid, the ConfigMap's data, the PeerAuthentication's mode. */
    const theirs = async () => {
        const namespace = await cluster.request("GET", "/api/v1/namespaces/istio-system");
        const configMap = await cluster.request("GET", CONFIG_MAP);
        const peerAuthentication = await cluster.request("GET", PEER_AUTHENTICATION);
        return {
            namespace: namespace.status === 200 ? (JSON.parse(namespace.body) as { metadata: { uid: string } }).metadata.uid : namespace.status,
            configMap: configMap.status === 200 ? (JSON.parse(configMap.body) as { data: unknown }).data : configMap.status,
            peerAuthentication: peerAuthentication.status === 200 ? (JSON.parse(peerAuthentication.body) as { spec: unknown }).spec : peerAuthentication.status,
        };
    };
    let found: Awaited<ReturnType<typeof theirs>>;

    before(async () => {
        cluster = suite.cluster;
        // Istio's PeerAuthentication CRD (from the release's base chart), as an earlier `helm install istio-base` left
        // it: Helm's marks let the program's own istio-base release take it over once adoption is asked for.
        const crds = YAML.parseAllDocuments(fs.readFileSync(path.join(TOOLS_BIN, `istio-charts-${ISTIO}`, "base", "files", "crd-all.gen.yaml"), "utf8"))
            .map((d) => d.toJS() as { metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> } });
        const crd = crds.find((c) => c?.metadata?.name === "peerauthentications.security.istio.io")!;
        await create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", { ...crd, metadata: {
            ...crd.metadata,
            labels: { ...crd.metadata.labels, "app.kubernetes.io/managed-by": "Helm" },
            annotations: { ...crd.metadata.annotations, "meta.helm.sh/release-name": "istio-base", "meta.helm.sh/release-namespace": "istio-system" },
        } });
        await create("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "istio-system", labels: THEIRS } });
        await create("/api/v1/namespaces/istio-system/configmaps", {
            apiVersion: "v1", kind: "ConfigMap", metadata: { name: "platform-settings", labels: THEIRS }, data: { owner: "platform team" },
        });
        // The CRD is served a moment after it is created.
        let created = { status: 0, body: "" };
        for (let attempt = 0; attempt < 40 && created.status !== 201; attempt++) {
            await new Promise((resolve) => setTimeout(resolve, 250));
            created = await cluster.request("POST", "/apis/security.istio.io/v1/namespaces/istio-system/peerauthentications?fieldManager=platform-team", {
                apiVersion: "security.istio.io/v1", kind: "PeerAuthentication", metadata: { name: "default", labels: THEIRS }, spec: { mtls: { mode: "STRICT" } },
            });
        }
        expect(created.status, created.body).to.equal(201);
        found = await theirs();
        stack = await meshStack({ dir: path.join(suite.dir, "pulumi"), toolsBin: TOOLS_BIN, stackName: "adoption", passphrase: crypto.randomBytes(12).toString("hex") });
        await stack.setAllConfig({
            [`${P}clusterSource`]: { value: "existing" },
            [`${P}kubeconfig`]: { value: cluster.kubeconfig(), secret: true },
            ...localIstio(TOOLS_BIN),
            [`${P}verifyProductPage`]: { value: "false" },
        });
    });

    const REFUSAL = "refusing to take over namespace this stack did not create: istio-system (no pks-istio-mesh/stack annotation of this stack). " +
        "The stack would own them, and `pulumi destroy` would delete them with everything in them.";

    it("refuses, already in `pulumi preview`, to take over the existing istio-system, naming it and the setting", async () => {
        const r = recorder();
        await failureOf(stack.preview({ onEvent: r.onEvent, onOutput: r.onOutput }));
        const output = r.output.join("").replace(/\s+/g, " ");
        expect(output).to.include(REFUSAL);
        expect(output).to.include("or set pks-istio-mesh:adoptExistingObjects to true to take them over");
        expect(await theirs()).to.deep.equal(found);
    });

    it("refuses, in `pulumi up`, before it writes anything: nothing of theirs changes, nothing becomes the stack's", async () => {
        const r = recorder();
        const started = Date.now();
        const message = await failureOf(stack.up({ onEvent: r.onEvent, onOutput: r.onOutput }));
        console.log(`      up refused in ${Math.round((Date.now() - started) / 1000)}s`);
        expect(r.output.join("").replace(/\s+/g, " ")).to.include(REFUSAL);
        expect(message).to.include("refusing to take over namespace this stack did not create: istio-system");
        expect(await theirs()).to.deep.equal(found);
        expect(r.steps.filter((step) => step.op === "create" && step.type.startsWith("kubernetes:")), "no Kubernetes object created").to.deep.equal([]);
        const exported = JSON.stringify((await stack.exportStack()).deployment);
        expect(exported).to.not.include("kubernetes:core/v1:Namespace::");
        expect(exported).to.not.include("PeerAuthentication::mesh-default");
    });

    it("still refuses through the provider when the check is passed: the create fails, naming the object", async () => {
        // The provider (pulumi-kubernetes 4.30) is the second line: a create over an existing object fails instead of
        // taking it over. Shown with this stack's mark copied onto their namespace, which passes the check.
        const mark = (value: string | null) => cluster.request("PATCH", "/api/v1/namespaces/istio-system",
            { metadata: { annotations: { "pks-istio-mesh/stack": value } } }, "application/merge-patch+json");
        expect((await mark("pks-istio-mesh/adoption")).status).to.equal(200);
        const r = recorder();
        await failureOf(stack.up({ onEvent: r.onEvent, onOutput: r.onOutput }));
        expect((await mark(null)).status).to.equal(200);
        const output = r.output.join("");
        expect(output).to.include("kubernetes:core/v1:Namespace (istio-istio-system)");
        expect(output).to.match(/namespaces "istio-system" already exists/);
        expect(output).to.include("The resource already exists in the cluster");
        expect(await theirs()).to.deep.equal(found);
        expect(JSON.stringify((await stack.exportStack()).deployment)).to.not.include("kubernetes:core/v1:Namespace::istio-istio-system");
    });

    it("leaves every object of theirs in place on `pulumi destroy`", async () => {
        const r = recorder();
        const destroy = await stack.destroy({ onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      destroy: ${JSON.stringify(destroy.summary.resourceChanges)}`);
        expect(await theirs()).to.deep.equal(found);
        expect((await cluster.request("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/peerauthentications.security.istio.io")).status).to.equal(200);
    });

    it("takes them over only with adoptExistingObjects: true, which destroy then deletes, as documented", async () => {
        await stack.setConfig(`${P}adoptExistingObjects`, { value: "true" });
        const r = recorder();
        const up = await stack.up({ onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      up (adopting): ${JSON.stringify(up.summary.resourceChanges)}`);
        expect(r.output.join("")).to.include(`${P}adoptExistingObjects is true`);
        expect(await theirs(), "the same objects, taken over; what is not the program's stays as it was").to.deep.equal(found);
        const exported = JSON.stringify((await stack.exportStack()).deployment);
        expect(exported).to.include("kubernetes:core/v1:Namespace::istio-istio-system");
        expect(exported).to.include("PeerAuthentication::mesh-default");
        await stack.destroy({ onOutput: recorder().onOutput });
        expect(await eventually(async () => (await cluster.request("GET", "/api/v1/namespaces/istio-system")).status === 404, 60_000),
            "an adopted namespace goes with the stack, and all that is in it").to.equal(true);
    });
});
