/**
 * End to end with the real engine: `pulumi preview`, `up`, `preview --expect-no-changes`, an in-place resize, a
 * credentials rotation and `destroy` of the `local` stack, through the Pulumi CLI, the Kubernetes provider and
 * a local kube-apiserver (test/e2e/localCluster.ts), with the PKS layer against the project's pks simulator.
 *
 * What is played rather than real, and why:
 * - the command provider is a stand-in (test/e2e/tools/command-provider): the Go module proxy does not serve
 *   github.com/pulumi/pulumi-command/provider;
 * - Istio's charts are stand-ins (test/e2e/charts), installed through the local-chart path: the network cannot
 *   reach Istio's chart repository;
 * - nodes and kubelets are kwok's: pods become Ready without running;
 * - the LoadBalancer status is set by the harness, and the harness answers on the load balancer's address as
 *   Bookinfo's product page would when the cluster holds the routing for it (nothing else plays either here).
 */
import * as k8s from "@pulumi/kubernetes";
import { EngineEvent, OpType, Stack } from "@pulumi/pulumi/automation";
import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { SimState, snapshot, writeSettings } from "../pks-simulator/state";
import { LOAD_BALANCER_IP, LocalCluster } from "./localCluster";
import { localStackConfig, meshStack, toolsBin } from "./workspace";

const P = "pks-istio-mesh:";
const TOOLS_BIN = toolsBin();
const PASSWORD = `pks-${crypto.randomBytes(6).toString("hex")}`;

/** What happened to which resource in one operation, from the engine's event stream. */
interface Step {
    op: OpType;
    urn: string;
    type: string;
}

function recorder(): { steps: Step[]; onEvent: (e: EngineEvent) => void; onOutput: (s: string) => void } {
    const steps: Step[] = [];
    return {
        steps,
        onEvent: (e) => {
            const m = e.resOutputsEvent?.metadata;
            if (m) {
                steps.push({ op: m.op, urn: m.urn, type: m.type });
            }
        },
        onOutput: (s) => process.stdout.write(s.split("\n").map((l) => (l ? `      | ${l}` : l)).join("\n")),
    };
}

const name = (urn: string) => urn.split("::").pop()!;

describe("end to end: the local stack through the real Pulumi engine", function () {
    this.timeout(20 * 60_000);
    let dir: string;
    let cluster: LocalCluster;
    let stack: Stack;
    let sim: string;

    before(async () => {
        if (!fs.existsSync(path.join(TOOLS_BIN, "pulumi"))) {
            throw new Error(`the e2e tools are missing in ${TOOLS_BIN}: run \`npm run e2e:tools\` first`);
        }
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pks-istio-mesh-e2e-"));
        console.log(`      e2e workspace: ${dir}`);
        cluster = await LocalCluster.start({ dir: path.join(dir, "cluster"), toolsBin: TOOLS_BIN, log: (l) => console.log(`      ${l}`) });
        sim = path.join(dir, "pks-simulator");
        writeSettings(sim, {
            users: { admin: { secret: PASSWORD, admin: true } },
            durations: { create: 3, update: 2, delete: 2 },
            kubeconfig: { server: cluster.server, token: cluster.tokens.first },
        });
        stack = await meshStack({
            dir: path.join(dir, "pulumi"), toolsBin: TOOLS_BIN, stackName: "local",
            passphrase: crypto.randomBytes(12).toString("hex"), env: { PKS_SIM_STATE: sim },
        });
        // Answering on port 80 for the product page needs the right to bind it (root in CI); else no check.
        await stack.setAllConfig(localStackConfig(PASSWORD, cluster, { [`${P}verifyTimeoutSeconds`]: { value: "180" } }));
    });

    let failed = false;
    afterEach(function () {
        failed ||= this.currentTest?.state === "failed";
    });

    after(async () => {
        await cluster?.stop();
        if (failed) {
            console.log(`      kept for inspection: ${dir} (logs in cluster/logs)`);
        } else if (dir) {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("refuses, in every stack of this project, a Kubernetes object without the explicit provider", async () => {
        // Pulumi.yaml disables the default Kubernetes provider: a stray object cannot land on the caller's cluster.
        const guard = await meshStack({
            dir: path.join(dir, "guard"), toolsBin: TOOLS_BIN, stackName: "guard", passphrase: "guard",
            env: { KUBECONFIG: path.join(dir, "cluster", "admin.kubeconfig") },
            program: async () => { new k8s.core.v1.Namespace("stray", { metadata: { name: "stray" } }); },
        });
        let message = "";
        try {
            await guard.preview();
        } catch (e) {
            message = (e as Error).message;
        }
        expect(message).to.include("Default provider for 'kubernetes' disabled");
    });

    it("previews the fresh stack: every resource planned, no cluster contacted", async () => {
        const r = recorder();
        const preview = await stack.preview({ onEvent: r.onEvent, onOutput: r.onOutput });
        const creates = r.steps.filter((s) => s.op === "create");
        console.log(`      preview: ${JSON.stringify(preview.changeSummary)}`);
        expect(preview.changeSummary.create).to.be.greaterThan(40);
        expect(creates.map((s) => s.type)).to.include.members([
            "command:local:Command", "pulumi:providers:kubernetes", "kubernetes:helm.sh/v3:Release", "kubernetes:core/v1:Namespace",
            "kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service", "kubernetes:core/v1:ServiceAccount",
            "kubernetes:networking.istio.io/v1:Gateway", "kubernetes:networking.istio.io/v1:VirtualService",
            "kubernetes:networking.istio.io/v1:DestinationRule", "kubernetes:security.istio.io/v1:PeerAuthentication",
        ]);
        expect(Object.keys((await snapshot(sim)).clusters)).to.deep.equal([]);
    });

    it("fails `up` with PKS's message when the cluster create fails", async () => {
        writeSettings(sim, { failCreate: { "medium-lb-cluster": "NSX-T edge cluster has no capacity for a medium load balancer" } });
        const r = recorder();
        let message = "";
        try {
            await stack.up({ onEvent: r.onEvent, onOutput: r.onOutput });
        } catch (e) {
            message = (e as Error).message;
        }
        expect(message).to.include("PKS reports 'failed'");
        expect(message).to.include("NSX-T edge cluster has no capacity for a medium load balancer");
        const state = await snapshot(sim);
        expect(state.clusters["medium-lb-cluster"].last_action_state).to.equal("failed");
        expect(Object.keys(state.profiles)).to.deep.equal(["network-profile-medium"]);
    });

    it("converges on a re-run once the failure is cleared: profile, cluster and every Kubernetes object", async () => {
        writeSettings(sim, { failCreate: {} });
        const r = recorder();
        const up = await stack.up({ onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      up: ${JSON.stringify(up.summary.resourceChanges)} in ${Math.round((new Date(up.summary.endTime).getTime() - new Date(up.summary.startTime).getTime()) / 1000)}s`);
        const state: SimState = await snapshot(sim);
        expect(state.profiles["network-profile-medium"].parameters).to.deep.equal({ lb_size: "medium" });
        expect(state.clusters["medium-lb-cluster"]).to.include({ last_action_state: "succeeded", worker_instances: 4, network_profile_name: "network-profile-medium" });

        expect(await cluster.names("/api/v1/namespaces")).to.include.members(["istio-system", "istio-ingress", "bookinfo"]);
        const bookinfoNs = await cluster.json<{ metadata: { labels: Record<string, string> } }>("/api/v1/namespaces/bookinfo");
        expect(bookinfoNs.metadata.labels).to.include({ "istio-injection": "enabled" });
        expect(await cluster.names("/apis/apps/v1/namespaces/bookinfo/deployments")).to.have.members(
            ["details-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3", "productpage-v1"].map((d) => `bookinfo/${d}`));
        expect(await cluster.names("/api/v1/namespaces/bookinfo/services")).to.have.members(
            ["details", "ratings", "reviews", "productpage"].map((s) => `bookinfo/${s}`));
        expect(await cluster.names("/apis/apps/v1/namespaces/istio-system/deployments")).to.deep.equal(["istio-system/istiod"]);
        expect(await cluster.names("/apis/apps/v1/namespaces/istio-ingress/deployments")).to.deep.equal(["istio-ingress/istio-ingressgateway"]);
        expect(await cluster.names("/apis/networking.istio.io/v1/namespaces/bookinfo/destinationrules")).to.have.members(
            ["productpage", "reviews", "ratings", "details"].map((n) => `bookinfo/${n}`));
        expect(await cluster.names("/apis/networking.istio.io/v1/namespaces/bookinfo/gateways")).to.deep.equal(["bookinfo/bookinfo-gateway"]);
        expect(await cluster.names("/apis/networking.istio.io/v1/namespaces/bookinfo/virtualservices")).to.deep.equal(["bookinfo/bookinfo"]);
        const mtls = await cluster.json<{ spec: unknown }>("/apis/security.istio.io/v1/namespaces/istio-system/peerauthentications/default");
        expect(mtls.spec).to.deep.equal({ mtls: { mode: "STRICT" } });
        const gatewaySvc = await cluster.json<{ spec: { ports: Array<{ port: number; targetPort: number }> } }>("/api/v1/namespaces/istio-ingress/services/istio-ingressgateway");
        expect(gatewaySvc.spec.ports.map((p) => p.port)).to.include(80);

        expect(up.outputs.productPageUrl.value).to.equal(`http://${LOAD_BALANCER_IP}/productpage`);
        expect(up.outputs.gatewayAddress.value).to.equal(LOAD_BALANCER_IP);
        if (cluster.servesProductPage) {
            expect(up.outputs.verification.value).to.deep.include({ status: 200, title: "Simple Bookstore App" });
        } else {
            expect(up.outputs.verification.value).to.equal("skipped (verifyProductPage is false)");
        }
        expect(up.outputs.kubeconfig.secret).to.equal(true);
        expect(up.outputs.clusterInfo.value).to.deep.include({ name: "medium-lb-cluster", uuid: state.clusters["medium-lb-cluster"].uuid });

        // The state file itself (the backend's copy), not an export: exports decrypt secrets.
        const stateFile = path.join(dir, "pulumi", "state", ".pulumi", "stacks", "pks-istio-mesh", "local.json");
        const stored = fs.readFileSync(stateFile, "utf8");
        expect(stored, "no plain-text token in the state").to.not.include(cluster.tokens.first);
        expect(stored, "no plain-text password in the state").to.not.include(PASSWORD);
        const resources = (JSON.parse(stored) as { checkpoint: { latest: { resources: Array<{ type: string; outputs?: Record<string, unknown> }> } } }).checkpoint.latest.resources;
        expect(resources.find((res) => res.type === "pulumi:pulumi:Stack")?.outputs?.kubeconfig).to.have.property("ciphertext");
        // No default Kubernetes provider: every object went through the explicit one.
        expect(resources.filter((res) => res.type === "pulumi:providers:kubernetes")).to.have.length(1);
    });

    it("previews no changes on a second run", async () => {
        const r = recorder();
        const preview = await stack.preview({ expectNoChanges: true, onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      preview --expect-no-changes: ${JSON.stringify(preview.changeSummary)}`);
        // `read` is the gateway Service, read back on every run (Service.get); nothing is created, updated or deleted.
        expect(Object.keys(preview.changeSummary).sort()).to.deep.equal(["read", "same"]);
    });

    it("resizes the cluster in place when clusterNumNodes changes", async () => {
        const uuid = (await snapshot(sim)).clusters["medium-lb-cluster"].uuid;
        await stack.setConfig(`${P}clusterNumNodes`, { value: "5" });
        const r = recorder();
        const up = await stack.up({ onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      up (resize): ${JSON.stringify(up.summary.resourceChanges)}`);
        const changed = r.steps.filter((s) => s.op !== "same" && s.op !== "read");
        expect(changed.filter((s) => s.type === "command:local:Command").map((s) => [s.op, name(s.urn)])).to.deep.include(["update", "medium-lb-cluster"]);
        expect(changed.filter((s) => ["replace", "create-replacement", "delete-replaced", "create", "delete"].includes(s.op))).to.deep.equal([]);
        expect((await snapshot(sim)).clusters["medium-lb-cluster"]).to.include({ uuid, worker_instances: 5, last_action: "UPDATE" });
    });

    it("moves the cluster onto a renamed (changed) network profile in place, deleting the old profile last", async () => {
        const uuid = (await snapshot(sim)).clusters["medium-lb-cluster"].uuid;
        await stack.setConfig(`${P}networkProfileName`, { value: "network-profile-medium-v2" });
        await stack.setConfig(`${P}networkProfileParameters`, { value: JSON.stringify({ lb_size: "medium", nodes_dns: ["10.0.0.2"] }) });
        const r = recorder();
        const up = await stack.up({ onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      up (profile renamed): ${JSON.stringify(up.summary.resourceChanges)}`);
        const commands = r.steps.filter((s) => s.type === "command:local:Command" && s.op !== "same").map((s) => `${s.op} ${name(s.urn)}`);
        expect(commands).to.deep.equal(["create network-profile-medium-v2", "update medium-lb-cluster", "delete network-profile-medium"]);
        const state = await snapshot(sim);
        expect(state.clusters["medium-lb-cluster"]).to.include({ uuid, network_profile_name: "network-profile-medium-v2" });
        expect(Object.keys(state.profiles)).to.deep.equal(["network-profile-medium-v2"]);
    });

    it("updates only the provider when the cluster's token rotates", async () => {
        writeSettings(sim, { kubeconfig: { server: cluster.server, token: cluster.tokens.second } });
        const r = recorder();
        const up = await stack.up({ onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      up (token rotated): ${JSON.stringify(up.summary.resourceChanges)}`);
        const changed = r.steps.filter((s) => s.op !== "same" && s.op !== "read").map((s) => `${s.op} ${s.type}::${name(s.urn)}`);
        expect(changed).to.deep.equal(["update pulumi:providers:kubernetes::mesh-cluster"]);
        const outputs = await stack.outputs();
        expect(String(outputs.kubeconfig.value)).to.include(cluster.tokens.second);
    });

    it("destroys everything in the declared order, leaving the simulator empty and only Istio's kept CRDs", async () => {
        const r = recorder();
        const destroy = await stack.destroy({ onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      destroy: ${JSON.stringify(destroy.summary.resourceChanges)}`);
        const deleted = r.steps.filter((s) => s.op === "delete").map((s) => `${s.type}::${name(s.urn)}`);
        const at = (id: string) => {
            const i = deleted.indexOf(id);
            expect(i, `${id} was deleted`).to.be.greaterThan(-1);
            return i;
        };
        const before = (a: string, b: string) => expect(at(a), `${a} before ${b}`).to.be.lessThan(at(b));
        if (cluster.servesProductPage) {
            before("command:local:Command::productpage", "kubernetes:networking.istio.io/v1:DestinationRule::bookinfo-reviews");
            before("command:local:Command::productpage", "kubernetes:apps/v1:Deployment::bookinfo-productpage-v1");
        }
        before("kubernetes:networking.istio.io/v1:Gateway::bookinfo-gateway", "kubernetes:helm.sh/v3:Release::istio-gateway");
        before("kubernetes:networking.istio.io/v1:DestinationRule::bookinfo-reviews", "kubernetes:helm.sh/v3:Release::istio-istio-base");
        before("kubernetes:apps/v1:Deployment::bookinfo-productpage-v1", "kubernetes:helm.sh/v3:Release::istio-istiod");
        before("kubernetes:helm.sh/v3:Release::istio-gateway", "kubernetes:helm.sh/v3:Release::istio-istiod");
        before("kubernetes:helm.sh/v3:Release::istio-istiod", "kubernetes:helm.sh/v3:Release::istio-istio-base");
        before("kubernetes:helm.sh/v3:Release::istio-istio-base", "pulumi:providers:kubernetes::mesh-cluster");
        before("pulumi:providers:kubernetes::mesh-cluster", "command:local:Command::medium-lb-cluster");
        before("command:local:Command::medium-lb-cluster", "command:local:Command::network-profile-medium-v2");

        const state = await snapshot(sim);
        expect(state.clusters).to.deep.equal({});
        expect(state.profiles).to.deep.equal({});
        for (let i = 0; i < 120 && (await cluster.names("/api/v1/namespaces")).some((n) => ["bookinfo", "istio-system", "istio-ingress"].includes(n)); i++) {
            await new Promise((resolve) => setTimeout(resolve, 500));
        }
        expect(await cluster.names("/api/v1/namespaces")).to.not.include.members(["bookinfo"]).and.not.include("istio-system").and.not.include("istio-ingress");
        expect(await cluster.names("/apis/apps/v1/deployments")).to.deep.equal([]);
        for (const kind of ["gateways", "virtualservices", "destinationrules"]) {
            expect(await cluster.names(`/apis/networking.istio.io/v1/${kind}`), kind).to.deep.equal([]);
        }
        expect(await cluster.names("/apis/security.istio.io/v1/peerauthentications")).to.deep.equal([]);
        const crds = (await cluster.names("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")).filter((n) => n.endsWith("istio.io"));
        expect(crds, "Istio's base chart keeps its CRDs (helm.sh/resource-policy: keep)").to.have.members([
            "gateways.networking.istio.io", "virtualservices.networking.istio.io", "destinationrules.networking.istio.io",
            "peerauthentications.security.istio.io",
        ]);
    });
});
