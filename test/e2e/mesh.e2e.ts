/**
 * End to end, as a user runs it: `pulumi preview`, `up`, `refresh` and `destroy` of the `local` stack by the
 * Pulumi CLI in a copy of the project directory — the Node.js language host compiling index.ts, the stack's own
 * config file, the upstream Kubernetes and command providers — against a local kube-apiserver with the real
 * istiod answering its webhooks, and the PKS layer against the project's pks simulator.
 *
 * What is played rather than real, and why:
 * - PKS is the simulator (local/pks-simulator): there is no PKS here;
 * - nodes and kubelets are kwok's: pods are scheduled and become Ready without running, except istiod, which runs
 *   as a process per istiod pod (istiodKubelet.ts);
 * - the LoadBalancer status is set by the harness, and the harness answers on the load balancer's address as
 *   Bookinfo's product page would when the cluster holds the routing for it.
 */
import { Stack } from "@pulumi/pulumi/automation";
import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { boshDeleteDeployment } from "../../local/pks-simulator/operator";
import { SimState, snapshot, writeSettings } from "../../local/pks-simulator/state";
import { Step, cli, eventually, failureOf, nameOf, processesMatching, recorder, startCli, stepIndex } from "../support/engine";
import { LOAD_BALANCER_IP, LocalCluster } from "../../local/localCluster";
import { chartVersions, istiodImages } from "../support/installed";
import { discoveryAddressOf, injectedPods } from "../support/sidecars";
import { useLocalCluster } from "../support/suite";
import { localStackConfig, meshStack, projectDir, requireTools, toolVersions, toolsBin, workspaceEnv } from "../../local/workspace";

const P = "pks-istio-mesh:";
const TOOLS_BIN = toolsBin();
const ISTIO = toolVersions().ISTIO_VERSION;
const PASSWORD = `pks-${crypto.randomBytes(6).toString("hex")}`;
const BOOKINFO_DEPLOYMENTS = ["details-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3", "productpage-v1"];
/** The CRDs the installed release's base chart carries. */
const ISTIO_CRDS = (fs.readFileSync(path.join(TOOLS_BIN, `istio-charts-${ISTIO}`, "base", "files", "crd-all.gen.yaml"), "utf8").match(/^kind: CustomResourceDefinition$/gm) ?? []).length;

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const RELEASE = "kubernetes:helm.sh/v3:Release";
const COMMAND = "command:local:Command";

describe("end to end: the local stack, run by the pulumi CLI, against a live istiod", function () {
    this.timeout(20 * 60_000);
    requireTools(TOOLS_BIN, ["pulumi", "pulumi-language-nodejs", "pulumi-resource-command", "pulumi-resource-kubernetes", `pilot-discovery-${ISTIO}`, `istio-charts-${ISTIO}`]);
    const suite = useLocalCluster("mesh", TOOLS_BIN);
    let dir: string;
    let tmp: string;
    let cluster: LocalCluster;
    let stack: Stack;
    let sim: string;
    let env: Record<string, string>;

    before(async () => {
        ({ dir, cluster } = suite);
        tmp = path.join(dir, "tmp");
        fs.mkdirSync(tmp);
        sim = path.join(dir, "pks-simulator");
        writeSettings(sim, {
            users: { admin: { secret: PASSWORD, admin: true } },
            durations: { create: 3, update: 2, delete: 2 },
            kubeconfig: { server: cluster.server, token: cluster.tokens.first, certificateAuthorityData: cluster.certificateAuthorityData },
        });
        const options = {
            dir: path.join(dir, "pulumi"), toolsBin: TOOLS_BIN, stackName: "local",
            // pksctl's private homes go to TMPDIR: a directory of the test's own, to see what a run leaves there.
            passphrase: crypto.randomBytes(12).toString("hex"), env: { PKS_SIM_STATE: sim, TMPDIR: tmp },
        };
        stack = await meshStack(options);
        env = workspaceEnv(options);
        // Answering on port 80 for the product page needs the right to bind it (root in CI); else no check.
        await stack.setAllConfig(localStackConfig(PASSWORD, cluster, TOOLS_BIN, { [`${P}verifyTimeoutSeconds`]: { value: "180" } }));
    });

    /** The engine's steps of one operation, as `op type::name`. */
    const changes = (steps: Step[]) => steps.filter((s) => s.op !== "same" && s.op !== "read").map((s) => `${s.op} ${s.type}::${nameOf(s.urn)}`);
    const pksctlHomes = () => fs.readdirSync(tmp).filter((f) => f.startsWith("pksctl"));
    const createClusterCalls = () => fs.readFileSync(path.join(sim, "argv.log"), "utf8").split("\n")
        .filter((l) => l.startsWith("[")).filter((l) => (JSON.parse(l) as string[])[0] === "create-cluster").length;

    it("refuses, in every stack of this project, a Kubernetes object without the explicit provider", async () => {
        // Pulumi.yaml disables the default Kubernetes provider: a stray object cannot land on the caller's cluster.
        const guard = await meshStack({
            dir: path.join(dir, "guard"), toolsBin: TOOLS_BIN, stackName: "guard", passphrase: "guard",
            env: { KUBECONFIG: path.join(dir, "cluster", "admin.kubeconfig") },
            programSource: 'import * as k8s from "@pulumi/kubernetes";\nnew k8s.core.v1.Namespace("stray", { metadata: { name: "stray" } });\n',
        });
        const message = await failureOf(guard.preview());
        expect(message).to.include("Default provider for 'kubernetes' disabled");
    });

    it("previews the fresh stack: the language host compiles index.ts, every resource planned, no cluster contacted", async () => {
        const r = recorder();
        const started = Date.now();
        const preview = await stack.preview({ onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      preview: ${JSON.stringify(preview.changeSummary)} in ${Math.round((Date.now() - started) / 1000)}s`);
        expect(preview.changeSummary.create).to.be.greaterThan(40);
        expect(r.steps.filter((s) => s.op === "create").map((s) => s.type)).to.include.members([
            COMMAND, "pulumi:providers:kubernetes", RELEASE, "kubernetes:core/v1:Namespace", DEPLOYMENT,
            "kubernetes:core/v1:Service", "kubernetes:core/v1:ServiceAccount",
            "kubernetes:networking.istio.io/v1:Gateway", "kubernetes:networking.istio.io/v1:VirtualService",
            "kubernetes:networking.istio.io/v1:DestinationRule", "kubernetes:security.istio.io/v1:PeerAuthentication",
        ]);
        expect(Object.keys((await snapshot(sim)).clusters)).to.deep.equal([]);
    });

    it("fails `up` with PKS's message and the BOSH deployment to remove when the cluster create fails", async () => {
        writeSettings(sim, { failCreate: { "medium-lb-cluster": "NSX-T edge cluster has no capacity for a medium load balancer" } });
        const r = recorder();
        const message = await failureOf(stack.up({ onEvent: r.onEvent, onOutput: r.onOutput }));
        expect(message).to.include("NSX-T edge cluster has no capacity for a medium load balancer");
        const state = await snapshot(sim);
        const failed = state.clusters["medium-lb-cluster"];
        expect(failed.last_action_state).to.equal("failed");
        expect(message).to.include(`bosh -e <environment> delete-deployment -d service-instance_${failed.uuid}`);
        expect(Object.keys(state.profiles)).to.deep.equal(["network-profile-medium"]);
        // The operator removes the deployment, as the message says (the next `up` deletes the remains and creates).
        await boshDeleteDeployment(sim, "medium-lb-cluster");
    });

    it("leaves no PKS CLI process and no pksctl home when `up` is interrupted while the cluster is created", async () => {
        // A slow create, so that the run is interrupted while pksctl waits on it.
        writeSettings(sim, { failCreate: {}, durations: { create: 25, update: 2, delete: 2 } });
        const callsBefore = createClusterCalls();
        const run = startCli(projectDir({ dir: path.join(dir, "pulumi") }), env, ["up", "--yes", "--skip-preview", "--stack", "local"]);
        const creating = await eventually(async () => {
            const c = (await snapshot(sim)).clusters["medium-lb-cluster"];
            return c?.last_action === "CREATE" && c.last_action_state === "in progress";
        }, 120_000);
        expect(creating, "the cluster create started").to.equal(true);
        await new Promise((resolve) => setTimeout(resolve, 2000));
        const interrupted = Date.now();
        run.child.kill("SIGINT");
        let signals = 1;
        if (!(await eventually(() => run.child.exitCode !== null, 5000))) {
            // Pulumi's first Ctrl-C waits for the operations in flight; the second one ends the run.
            run.child.kill("SIGINT");
            signals = 2;
        }
        const code = await run.exited;
        console.log(`      interrupted: ${signals} SIGINT(s), the CLI exited ${code} after ${Date.now() - interrupted} ms`);
        expect(code).to.not.equal(0);
        expect(await eventually(() => processesMatching("pks-simulator").length === 0, 15_000), "no PKS CLI process is left")
            .to.equal(true, JSON.stringify(processesMatching("pks-simulator")));
        expect(await eventually(() => pksctlHomes().length === 0, 15_000), `no pksctl home is left in TMPDIR (${pksctlHomes().join(", ")})`).to.equal(true);
        expect(createClusterCalls() - callsBefore, "the interrupted run asked PKS for the cluster once").to.equal(1);
        const state = await snapshot(sim);
        expect(state.clusters["medium-lb-cluster"]).to.include({ last_action: "CREATE", last_action_state: "in progress" });
        // Sent with create-cluster: the marker of the claim the stack recorded before it (it is in the state).
        const claim = ((await stack.exportStack()).deployment as { resources: Array<{ urn: string; outputs?: { stdout?: string } }> }).resources
            .find((res) => res.urn.endsWith("::medium-lb-cluster-claim"));
        const { marker } = JSON.parse(String(claim?.outputs?.stdout)) as { marker: string };
        expect(state.clusters["medium-lb-cluster"].tags).to.deep.equal([{ name: "pks-istio-mesh-owner", value: marker }]);
        const pending = ((await stack.exportStack()).deployment as { pending_operations?: Array<{ resource: { urn: string }; type: string }> }).pending_operations ?? [];
        console.log(`      pending operations after the interruption: ${JSON.stringify(pending.map((p) => `${p.type} ${nameOf(p.resource.urn)}`))}`);
    });

    it("converges after the interruption: refresh clears the pending create, up adopts the cluster PKS is creating", async () => {
        const refresh = recorder();
        await stack.refresh({ clearPendingCreates: true, onOutput: refresh.onOutput });
        const pending = ((await stack.exportStack()).deployment as { pending_operations?: unknown[] }).pending_operations ?? [];
        expect(pending, "refresh --clear-pending-creates leaves no pending operation").to.deep.equal([]);
        writeSettings(sim, { durations: { create: 3, update: 2, delete: 2 } });
        const callsBefore = createClusterCalls();
        const r = recorder();
        const up = await stack.up({ onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      up: ${JSON.stringify(up.summary.resourceChanges)} in ${Math.round((new Date(up.summary.endTime).getTime() - new Date(up.summary.startTime).getTime()) / 1000)}s`);
        expect(createClusterCalls() - callsBefore, "no second create-cluster: the cluster was adopted").to.equal(0);
        expect(r.output.join(""), "the adoption is reported in the run's final output").to.match(/adopt/i);
        const state: SimState = await snapshot(sim);
        expect(Object.keys(state.clusters)).to.deep.equal(["medium-lb-cluster"]);
        expect(state.profiles["network-profile-medium"].parameters).to.deep.equal({ lb_size: "medium" });
        expect(state.clusters["medium-lb-cluster"]).to.include({ last_action_state: "succeeded", worker_instances: 4, network_profile_name: "network-profile-medium" });
        expect(pksctlHomes()).to.deep.equal([]);

        // Istio as its 1.31 charts install it (what Helm recorded, the image istiod runs), with the real webhooks
        // that istiod serves.
        expect(await chartVersions(cluster)).to.deep.equal({ "istio-base": ISTIO, istiod: ISTIO, "istio-ingressgateway": ISTIO });
        expect(await istiodImages(cluster)).to.deep.equal({ default: `docker.io/istio/pilot:${ISTIO}` });
        const crds = (await cluster.names("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")).filter((n) => n.endsWith("istio.io"));
        expect(crds).to.have.length(ISTIO_CRDS);
        const injector = await cluster.json<{ webhooks: Array<{ name: string; failurePolicy: string; clientConfig: { caBundle?: string } }> }>(
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/istio-sidecar-injector");
        expect(injector.webhooks.map((w) => w.failurePolicy)).to.deep.equal(["Fail", "Fail", "Fail", "Fail"]);
        expect(injector.webhooks.every((w) => (w.clientConfig.caBundle ?? "").length > 0), "istiod patched its CA into the injector").to.equal(true);
        const validator = await cluster.json<{ webhooks: Array<{ failurePolicy: string }> }>(
            "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/istiod-default-validator");
        expect(validator.webhooks.map((w) => w.failurePolicy), "istiod switched the default validator to fail-close").to.deep.equal(["Fail"]);
        expect(cluster.istiod!.running().map((p) => [p.revision, p.ready])).to.deep.equal([["default", true]]);

        // Every Bookinfo pod carries the sidecar that istiod injected; the gateway pod the gateway template.
        const pods = await injectedPods(cluster, "bookinfo");
        expect(pods.map((p) => p.app).sort()).to.deep.equal(["details", "productpage", "ratings", "reviews", "reviews", "reviews"]);
        for (const pod of pods) {
            expect(pod.containers, pod.name).to.deep.equal([pod.app, "istio-proxy"]);
            expect(pod.initContainers, pod.name).to.deep.equal(["istio-init"]);
            expect(pod, pod.name).to.include({ revision: "default", discoveryAddress: discoveryAddressOf(undefined), proxyImage: `docker.io/istio/proxyv2:${ISTIO}` });
        }
        const [gatewayPod] = await injectedPods(cluster, "istio-ingress");
        expect(gatewayPod).to.include({ revision: "default", proxyImage: `docker.io/istio/proxyv2:${ISTIO}` });
        expect(gatewayPod.containers).to.deep.equal(["istio-proxy"]);
        expect(gatewayPod.initContainers).to.deep.equal([]);

        // The engine created what needs istiod's webhooks only after istiod's release was ready.
        const istiodReady = stepIndex(r.steps, "create", `${RELEASE}::istio-istiod`);
        for (const d of BOOKINFO_DEPLOYMENTS) {
            expect(stepIndex(r.steps, "create", `${DEPLOYMENT}::bookinfo-${d}`), d).to.be.greaterThan(istiodReady);
        }
        for (const cr of ["kubernetes:security.istio.io/v1:PeerAuthentication::mesh-default", "kubernetes:networking.istio.io/v1:DestinationRule::bookinfo-reviews",
            "kubernetes:networking.istio.io/v1:VirtualService::bookinfo-virtualservice", "kubernetes:networking.istio.io/v1:Gateway::bookinfo-gateway"]) {
            expect(stepIndex(r.steps, "create", cr), cr).to.be.greaterThan(istiodReady);
        }

        expect(await cluster.names("/apis/apps/v1/namespaces/bookinfo/deployments")).to.have.members(BOOKINFO_DEPLOYMENTS.map((d) => `bookinfo/${d}`));
        expect(await cluster.names("/apis/networking.istio.io/v1/namespaces/bookinfo/destinationrules")).to.have.members(
            ["productpage", "reviews", "ratings", "details"].map((n) => `bookinfo/${n}`));
        // (Mutual TLS as istiod enforces it is read from its listeners in secure.e2e.ts.)
        expect(up.outputs.productPageUrl.value).to.equal(`http://${LOAD_BALANCER_IP}/productpage`);
        // The cluster-admin kubeconfig is no stack output unless exportKubeconfig.
        expect(String(up.outputs.kubeconfig.value)).to.match(/^not exported \(exportKubeconfig is false\)/);
        expect(up.outputs.clusterInfo.value).to.deep.include({ name: "medium-lb-cluster", uuid: state.clusters["medium-lb-cluster"].uuid });
    });

    it("passes the product page check against the page the harness answers for on 127.0.0.1:80 (kwok runs no Bookinfo)", async function () {
        if (!cluster.servesProductPage) {
            this.skip();
        }
        // The harness answers only while the cluster holds the Gateway, the route and an available productpage.
        const outputs = await stack.outputs();
        expect(outputs.verification.value).to.deep.include({ status: 200, title: "Simple Bookstore App" });
    });

    it("keeps every credential out of the state in plain text, in the backend's file and in `pulumi stack export`", async () => {
        const stateFile = path.join(dir, "pulumi", "state", ".pulumi", "stacks", "pks-istio-mesh", "local.json");
        // As a user exports it (the Automation API's export shows secrets).
        const exported = JSON.stringify((JSON.parse(cli(projectDir({ dir: path.join(dir, "pulumi") }), env, ["stack", "export", "--stack", "local"])) as { deployment: unknown }).deployment);
        const kubeconfig = fs.readFileSync(path.join(dir, "cluster", "admin.kubeconfig"), "utf8");
        for (const [what, text] of [["the backend's state file", fs.readFileSync(stateFile, "utf8")], ["the exported state", exported]] as const) {
            expect(text, `${what}: the PKS password`).to.not.include(PASSWORD);
            expect(text, `${what}: the cluster's bearer token`).to.not.include(cluster.tokens.first);
            expect(text, `${what}: the kubeconfig`).to.not.include(kubeconfig.trim());
        }
        // What the README says is plain text in the state: the summaries pksctl prints, which carry no secret.
        const resources = (JSON.parse(exported) as { resources: Array<{ type: string; urn: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }> }).resources;
        const clusterCommand = resources.find((res) => res.type === COMMAND && nameOf(res.urn) === "medium-lb-cluster")!;
        expect(JSON.parse(String(clusterCommand.outputs!.stdout))).to.include({ name: "medium-lb-cluster" });
        // Of the Command's inputs, the upstream provider keeps only the password secret (encrypted), the rest plain.
        const environment = clusterCommand.outputs!.environment as Record<string, unknown>;
        expect(environment.PKSCTL_PASSWORD).to.have.property("ciphertext");
        expect(environment).to.include({ PKSCTL_USERNAME: "admin", PKSCTL_API: "api.pks.local" });
        // Both Kubernetes providers (the one that writes, the one that only reads back) keep the kubeconfig encrypted.
        const providers = resources.filter((res) => res.type === "pulumi:providers:kubernetes");
        expect(providers.map((res) => nameOf(res.urn)).sort()).to.deep.equal(["mesh-cluster", "mesh-cluster-reads"]);
        for (const provider of providers) {
            expect(provider.inputs!.kubeconfig, nameOf(provider.urn)).to.have.property("ciphertext");
        }
    });

    it("has istiod validate Istio objects: the webhook refuses an invalid VirtualService", async () => {
        const res = await cluster.request("POST", "/apis/networking.istio.io/v1/namespaces/bookinfo/virtualservices", {
            apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "invalid" },
            spec: { hosts: ["*"], http: [{ route: [{ destination: { host: "productpage", port: { number: 9080 } } }] }] },
        });
        expect(res.status).to.equal(400);
        expect(res.body).to.include('admission webhook \\"validation.istio.io\\" denied the request');
        expect(res.body).to.include("wildcard host * is not allowed");
    });

    it("refuses Bookinfo's pods while istiod does not answer (the injector fails closed), and injects them once it does", async () => {
        const pod = {
            apiVersion: "v1", kind: "Pod", metadata: { name: "probe", labels: { app: "probe" } },
            spec: { containers: [{ name: "probe", image: "docker.io/istio/examples-bookinfo-details-v1:1.20.3" }] },
        };
        await cluster.istiod!.suspend();
        try {
            const refused = await cluster.request("POST", "/api/v1/namespaces/bookinfo/pods", pod);
            expect(refused.status).to.equal(500);
            expect(refused.body).to.include('failed calling webhook \\"namespace.sidecar-injector.istio.io\\"');
        } finally {
            await cluster.istiod!.resume();
        }
        const admitted = await cluster.request("POST", "/api/v1/namespaces/bookinfo/pods", pod);
        expect(admitted.status).to.equal(201);
        expect((JSON.parse(admitted.body) as { spec: { containers: Array<{ name: string }> } }).spec.containers.map((c) => c.name)).to.deep.equal(["probe", "istio-proxy"]);
        await cluster.request("DELETE", "/api/v1/namespaces/bookinfo/pods/probe?gracePeriodSeconds=0");
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
        expect(changes(r.steps)).to.deep.equal([`update ${COMMAND}::medium-lb-cluster`]);
        expect((await snapshot(sim)).clusters["medium-lb-cluster"]).to.include({ uuid, worker_instances: 5, last_action: "UPDATE" });
    });

    it("plans a new plan or hostname as delete-then-create of the cluster, and a new name as create-then-delete", async () => {
        // A real diff by the engine, without applying it.
        const plan = async (key: string, value: string) => {
            const before = (await stack.getConfig(`${P}${key}`)).value;
            await stack.setConfig(`${P}${key}`, { value });
            try {
                const r = recorder();
                await stack.preview({ onEvent: r.onEvent });
                return r.steps.filter((s) => s.type === COMMAND && s.op !== "same").map((s) => `${s.op} ${nameOf(s.urn)}`);
            } finally {
                await stack.setConfig(`${P}${key}`, { value: before });
            }
        };
        // Same name in PKS, so the old cluster must go first (deleteBeforeReplace).
        for (const [key, value] of [["clusterPlan", "medium"], ["clusterExternalHostname", "mediumlb2"]]) {
            const steps = await plan(key, value);
            expect(steps, key).to.include("replace medium-lb-cluster");
            expect(steps.indexOf("delete-replaced medium-lb-cluster"), key).to.be.lessThan(steps.indexOf("create-replacement medium-lb-cluster"));
        }
        // A new name is another PKS cluster: created beside the old one, which is deleted at the end.
        const renamed = await plan("clusterName", "medium-lb-cluster-2");
        expect(renamed).to.include("create medium-lb-cluster-2").and.include("delete medium-lb-cluster");
        expect(renamed.indexOf("create medium-lb-cluster-2")).to.be.lessThan(renamed.indexOf("delete medium-lb-cluster"));
    });

    it("moves the cluster onto a renamed (changed) network profile in place, deleting the old profile last", async () => {
        const uuid = (await snapshot(sim)).clusters["medium-lb-cluster"].uuid;
        await stack.setConfig(`${P}networkProfileName`, { value: "network-profile-medium-v2" });
        await stack.setConfig(`${P}networkProfileParameters`, { value: JSON.stringify({ lb_size: "medium", nodes_dns: ["10.0.0.2"] }) });
        const r = recorder();
        const up = await stack.up({ onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      up (profile renamed): ${JSON.stringify(up.summary.resourceChanges)}`);
        const commands = r.steps.filter((s) => s.type === COMMAND && s.op !== "same").map((s) => `${s.op} ${nameOf(s.urn)}`);
        expect(commands).to.have.members(["create network-profile-medium-v2-claim", "create network-profile-medium-v2", "update medium-lb-cluster",
            "delete network-profile-medium", "delete network-profile-medium-claim"]);
        const order = (a: string, b: string) => expect(commands.indexOf(a), `${a} before ${b}`).to.be.lessThan(commands.indexOf(b));
        order("create network-profile-medium-v2-claim", "create network-profile-medium-v2");
        order("create network-profile-medium-v2", "update medium-lb-cluster");
        order("update medium-lb-cluster", "delete network-profile-medium");
        const state = await snapshot(sim);
        expect(state.clusters["medium-lb-cluster"]).to.include({ uuid, network_profile_name: "network-profile-medium-v2" });
        expect(Object.keys(state.profiles)).to.deep.equal(["network-profile-medium-v2"]);
    });

    it("updates only the providers when the cluster's token rotates", async () => {
        writeSettings(sim, { kubeconfig: { server: cluster.server, token: cluster.tokens.second, certificateAuthorityData: cluster.certificateAuthorityData } });
        const r = recorder();
        const up = await stack.up({ onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      up (token rotated): ${JSON.stringify(up.summary.resourceChanges)}`);
        expect(changes(r.steps).sort()).to.deep.equal(["update pulumi:providers:kubernetes::mesh-cluster", "update pulumi:providers:kubernetes::mesh-cluster-reads"]);
        // The provider holds the new token (the Automation API's export shows secrets).
        expect(JSON.stringify((await stack.exportStack()).deployment)).to.include(cluster.tokens.second);
    });

    it("moves Bookinfo and the gateway onto a new control-plane revision before the old istiod goes", async () => {
        await stack.setConfig(`${P}istioRevision`, { value: "1-31" });
        const r = recorder();
        const up = await stack.up({ onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      up (revision 1-31): ${JSON.stringify(up.summary.resourceChanges)}`);
        // The new istiod first, then the workloads roll onto it, and only then the old istiod goes. (The control
        // plane takes the revision's name, `istio-1-31`, aliased to its name without one: the same resource,
        // replaced; the engine reports the old one's deletion under its old name.)
        const newIstiod = stepIndex(r.steps, "create-replacement", `${RELEASE}::istio-1-31-istiod`);
        const oldIstiodGone = stepIndex(r.steps, "delete-replaced", `${RELEASE}::istio-istiod`);
        for (const d of BOOKINFO_DEPLOYMENTS) {
            const rolled = stepIndex(r.steps, "update", `${DEPLOYMENT}::bookinfo-${d}`);
            expect(rolled, d).to.be.greaterThan(newIstiod).and.lessThan(oldIstiodGone);
        }
        const gatewayRolled = stepIndex(r.steps, "update", `${RELEASE}::istio-gateway`);
        expect(gatewayRolled).to.be.greaterThan(newIstiod).and.lessThan(oldIstiodGone);

        const namespace = await cluster.json<{ metadata: { labels: Record<string, string> } }>("/api/v1/namespaces/bookinfo");
        expect(namespace.metadata.labels).to.include({ "istio.io/rev": "1-31" }).and.not.have.property("istio-injection");
        expect(await eventually(async () => (await injectedPods(cluster, "bookinfo")).length === 6, 30_000)).to.equal(true);
        for (const pod of await injectedPods(cluster, "bookinfo")) {
            expect(pod, pod.name).to.include({ revision: "1-31", discoveryAddress: discoveryAddressOf("1-31") });
        }
        expect(await eventually(async () => (await injectedPods(cluster, "istio-ingress")).length === 1, 30_000)).to.equal(true);
        expect((await injectedPods(cluster, "istio-ingress"))[0]).to.include({ revision: "1-31", discoveryAddress: discoveryAddressOf("1-31") });
        expect(await eventually(() => cluster.istiod!.running().map((p) => p.revision).join() === "1-31", 30_000),
            "only the new revision's istiod still runs").to.equal(true);
        expect(await cluster.names("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations")).to.deep.equal(["istio-sidecar-injector-1-31"]);
    });

    it("injects only Bookinfo's pods, by their labels, in pod mode", async () => {
        await stack.setConfig(`${P}injectionMode`, { value: "pod" });
        const r = recorder();
        const up = await stack.up({ onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      up (pod mode): ${JSON.stringify(up.summary.resourceChanges)}`);
        const namespace = await cluster.json<{ metadata: { labels?: Record<string, string> } }>("/api/v1/namespaces/bookinfo");
        expect(namespace.metadata.labels ?? {}).to.not.have.property("istio.io/rev");
        expect(await eventually(async () => (await injectedPods(cluster, "bookinfo")).length === 6, 30_000)).to.equal(true);
        for (const pod of await injectedPods(cluster, "bookinfo")) {
            expect(pod, pod.name).to.include({ revision: "1-31", discoveryAddress: discoveryAddressOf("1-31") });
        }
        // Any other pod there now gets no sidecar.
        const other = await cluster.request("POST", "/api/v1/namespaces/bookinfo/pods", {
            apiVersion: "v1", kind: "Pod", metadata: { name: "other" }, spec: { containers: [{ name: "other", image: "busybox" }] },
        });
        expect((JSON.parse(other.body) as { spec: { containers: Array<{ name: string }> } }).spec.containers.map((c) => c.name)).to.deep.equal(["other"]);
        await cluster.request("DELETE", "/api/v1/namespaces/bookinfo/pods/other?gracePeriodSeconds=0");
    });

    it("destroys everything in the declared order, leaving the simulator empty and only what Istio keeps", async () => {
        const r = recorder();
        const destroy = await stack.destroy({ onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      destroy: ${JSON.stringify(destroy.summary.resourceChanges)}`);
        const deleted = r.steps.filter((s) => s.op === "delete").map((s) => `${s.type}::${nameOf(s.urn)}`);
        const at = (id: string) => {
            const i = deleted.indexOf(id);
            expect(i, `${id} was deleted`).to.be.greaterThan(-1);
            return i;
        };
        const before = (a: string, b: string) => expect(at(a), `${a} before ${b}`).to.be.lessThan(at(b));
        if (cluster.servesProductPage) {
            before(`${COMMAND}::productpage`, "kubernetes:networking.istio.io/v1:DestinationRule::bookinfo-reviews");
            before(`${COMMAND}::productpage`, `${DEPLOYMENT}::bookinfo-productpage-v1`);
        }
        before("kubernetes:networking.istio.io/v1:Gateway::bookinfo-gateway", `${RELEASE}::istio-gateway`);
        before("kubernetes:networking.istio.io/v1:DestinationRule::bookinfo-reviews", `${RELEASE}::istio-1-31-istiod`);
        before(`${DEPLOYMENT}::bookinfo-productpage-v1`, `${RELEASE}::istio-1-31-istiod`);
        before(`${RELEASE}::istio-gateway`, `${RELEASE}::istio-1-31-istiod`);
        before(`${RELEASE}::istio-1-31-istiod`, `${RELEASE}::istio-istio-base`);
        before(`${RELEASE}::istio-istio-base`, "pulumi:providers:kubernetes::mesh-cluster");
        before("pulumi:providers:kubernetes::mesh-cluster", `${COMMAND}::medium-lb-cluster`);
        before(`${COMMAND}::medium-lb-cluster`, `${COMMAND}::network-profile-medium-v2`);
        before(`${COMMAND}::medium-lb-cluster`, `${COMMAND}::medium-lb-cluster-claim`);

        const state = await snapshot(sim);
        expect(state.clusters).to.deep.equal({});
        expect(state.profiles).to.deep.equal({});
        expect(await eventually(async () => !(await cluster.names("/api/v1/namespaces")).some((n) => ["bookinfo", "istio-system", "istio-ingress"].includes(n)), 60_000),
            "the namespaces are gone").to.equal(true);
        expect(await cluster.names("/apis/apps/v1/deployments")).to.deep.equal([]);
        for (const kind of ["gateways", "virtualservices", "destinationrules"]) {
            expect(await cluster.names(`/apis/networking.istio.io/v1/${kind}`), kind).to.deep.equal([]);
        }
        expect(await cluster.names("/apis/security.istio.io/v1/peerauthentications")).to.deep.equal([]);
        expect(await cluster.names("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations")).to.deep.equal([]);
        expect(await cluster.names("/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations")).to.deep.equal([]);
        expect(await eventually(() => cluster.istiod!.running().length === 0, 30_000), "istiod stopped with its pod").to.equal(true);
        // What stays (README, "Destroy and what Istio keeps"): the CRDs (helm.sh/resource-policy: keep), and the
        // root certificate istiod published into the namespaces that outlive the stack.
        const crds = (await cluster.names("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")).filter((n) => n.endsWith("istio.io"));
        expect(crds).to.have.length(ISTIO_CRDS);
        const rootCerts = (await cluster.names("/api/v1/configmaps")).filter((n) => n.endsWith("/istio-ca-root-cert"));
        console.log(`      left after destroy: ${crds.length} Istio CRDs; ${rootCerts.join(", ") || "no istio-ca-root-cert ConfigMap"}`);
        expect(pksctlHomes()).to.deep.equal([]);
    });
});
