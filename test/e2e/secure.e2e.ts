/**
 * End to end, "secure and observe": the program run by the pulumi CLI on an existing cluster (the local control
 * plane with the live istiod, `clusterSource: existing`) with Bookinfo's authorization on and every telemetry
 * add-on, and proof of what istiod would enforce without any data plane: the `xds-listeners` tool asks istiod,
 * as each Bookinfo workload's sidecar (and as the ingress gateway), for the listeners it computes, and the suite
 * evaluates their RBAC filters against every caller (xds.ts), and tells STRICT from PERMISSIVE mutual TLS by the
 * transports the inbound filter chains accept.
 *
 * Played rather than real: kwok's pods (Bookinfo's, the gateway's and the add-ons' become Ready without running),
 * the load balancer and the product page behind it (localCluster.ts). istiod, its webhooks and its xDS server are
 * real.
 */
import { Stack } from "@pulumi/pulumi/automation";
import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { eventually, recorder, stepIndex } from "./engine";
import { LocalCluster } from "./localCluster";
import { useLocalCluster } from "./suite";
import { localIstio, meshStack, requireTools, toolVersions, toolsBin } from "./workspace";
import { Request, WorkloadPod, XdsDump, gatewayAllows, inboundAllows, inboundChains, listenersOf, podsOf } from "./xds";

const P = "pks-istio-mesh:";
const TOOLS_BIN = toolsBin();
const ISTIO = toolVersions().ISTIO_VERSION;
const SAMPLING = 10;
const ADDON_DEPLOYMENTS = ["prometheus", "grafana", "kiali", "jaeger"];

const POLICY = "kubernetes:security.istio.io/v1:AuthorizationPolicy";
const RELEASE = "kubernetes:helm.sh/v3:Release";

/** The identities of the callers the suite tries, by name. */
const CALLERS: Record<string, string | undefined> = {
    gateway: "spiffe://cluster.local/ns/istio-ingress/sa/istio-ingressgateway",
    productpage: "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage",
    details: "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-details",
    reviews: "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews",
    ratings: "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings",
    "a pod of another namespace": "spiffe://cluster.local/ns/other/sa/default",
    "plain text (no identity)": undefined,
};

/** Who may make which request to each Bookinfo service: the callers expected to be let through. */
const EXPECTED: Record<string, Array<{ method: string; path: string; allowed: string[] }>> = {
    productpage: [
        { method: "GET", path: "/productpage", allowed: ["gateway"] },
        { method: "GET", path: "/static/bootstrap/css/bootstrap.min.css", allowed: ["gateway"] },
        { method: "POST", path: "/login", allowed: ["gateway"] },
        { method: "GET", path: "/logout", allowed: ["gateway"] },
        { method: "GET", path: "/api/v1/products/0/reviews?u=normal", allowed: ["gateway"] },
        { method: "DELETE", path: "/productpage", allowed: [] },
        { method: "GET", path: "/metrics", allowed: [] },
    ],
    details: [
        { method: "GET", path: "/details/0", allowed: ["productpage"] },
        { method: "POST", path: "/details/0", allowed: [] },
        { method: "GET", path: "/health", allowed: [] },
    ],
    reviews: [
        { method: "GET", path: "/reviews/0", allowed: ["productpage"] },
        { method: "PUT", path: "/reviews/0", allowed: [] },
    ],
    ratings: [
        { method: "GET", path: "/ratings/0", allowed: ["productpage", "reviews"] },
        { method: "POST", path: "/ratings/0", allowed: [] },
    ],
};

describe("end to end: zero-trust Bookinfo and the telemetry add-ons, against a live istiod", function () {
    this.timeout(15 * 60_000);
    before(() => requireTools(TOOLS_BIN, ["pulumi", "pulumi-language-nodejs", "pulumi-resource-command", "pulumi-resource-kubernetes",
        `pilot-discovery-${ISTIO}`, `istio-charts-${ISTIO}`, `istio-addons-${ISTIO}`, "xds-listeners"]));
    const suite = useLocalCluster("secure", TOOLS_BIN);
    let cluster: LocalCluster;
    let stack: Stack;

    before(async () => {
        cluster = suite.cluster;
        stack = await meshStack({ dir: path.join(suite.dir, "pulumi"), toolsBin: TOOLS_BIN, stackName: "secure", passphrase: crypto.randomBytes(12).toString("hex") });
        await stack.setAllConfig({
            [`${P}clusterSource`]: { value: "existing" },
            [`${P}kubeconfig`]: { value: cluster.kubeconfig(), secret: true },
            ...localIstio(TOOLS_BIN),
            [`${P}verifyProductPage`]: { value: String(cluster.servesProductPage) },
            [`${P}verifyTimeoutSeconds`]: { value: "120" },
            [`${P}telemetryPrometheus`]: { value: "true" },
            [`${P}telemetryGrafana`]: { value: "true" },
            [`${P}telemetryKiali`]: { value: "true" },
            [`${P}telemetryTracing`]: { value: "jaeger" },
            [`${P}telemetryTracingSampling`]: { value: String(SAMPLING) },
            [`${P}telemetryAccessLogging`]: { value: "true" },
            // Where an air-gapped site keeps its mirror of Istio's samples/addons.
            [`${P}telemetryAddonsSource`]: { value: path.join(TOOLS_BIN, `istio-addons-${ISTIO}`) },
        });
    });

    /** The listeners istiod last computed for each pod (by name), which later tests read again. */
    const dumps = new Map<string, XdsDump>();
    async function listeners(pod: WorkloadPod, type: "sidecar" | "router" = "sidecar"): Promise<XdsDump> {
        const dump = await listenersOf(TOOLS_BIN, cluster, pod, type);
        dumps.set(pod.name, dump);
        return dump;
    }
    const pod = async (namespace: string, selector: string) => {
        const [found] = await podsOf(cluster, namespace, selector);
        expect(found, `a running pod ${selector} in ${namespace}`).to.not.equal(undefined);
        return found;
    };
    const request = (caller: string, r: { method: string; path: string }, port = 9080): Request => ({ principal: CALLERS[caller], method: r.method, path: r.path, port });

    it("deploys the policies and the Telemetry through istiod's webhook, and every add-on becomes ready", async () => {
        const r = recorder();
        const up = await stack.up({ onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      up: ${JSON.stringify(up.summary.resourceChanges)} in ${Math.round((new Date(up.summary.endTime).getTime() - new Date(up.summary.startTime).getTime()) / 1000)}s`);

        // istiod switched its validation to fail-closed, so every object below passed its webhook.
        const validator = await cluster.json<{ webhooks: Array<{ failurePolicy: string }> }>(
            "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/istiod-default-validator");
        expect(validator.webhooks.map((w) => w.failurePolicy)).to.deep.equal(["Fail"]);
        const istiodReady = stepIndex(r.steps, "create", `${RELEASE}::istio-istiod`);
        for (const name of ["bookinfo-default-deny", "bookinfo-productpage", "bookinfo-ratings"]) {
            expect(stepIndex(r.steps, "create", `${POLICY}::${name}`), name).to.be.greaterThan(istiodReady);
        }
        // The ALLOW policies exist before the namespace's default-deny.
        expect(stepIndex(r.steps, "create", `${POLICY}::bookinfo-default-deny`)).to.be.greaterThan(stepIndex(r.steps, "create", `${POLICY}::bookinfo-productpage`));

        expect(await cluster.names("/apis/security.istio.io/v1/authorizationpolicies")).to.have.members(
            ["default-deny", "productpage", "details", "reviews", "ratings"].map((n) => `bookinfo/${n}`));
        // (What the policies and the Telemetry do is read from istiod's listeners below.)
        // The mesh configuration that names the tracing provider, as istiod reads it.
        const mesh = await cluster.json<{ data: { mesh: string } }>("/api/v1/namespaces/istio-system/configmaps/istio");
        expect(mesh.data.mesh).to.include("jaeger-collector.istio-system.svc.cluster.local");

        // Each add-on's workloads are ready (kwok runs them), from the Istio release's own manifests.
        for (const name of ADDON_DEPLOYMENTS) {
            const d = await cluster.json<{ status?: { conditions?: Array<{ type: string; status: string }> }; spec: { template: { spec: { containers: Array<{ image: string }> } } } }>(
                `/apis/apps/v1/namespaces/istio-system/deployments/${name}`);
            expect((d.status?.conditions ?? []).some((c) => c.type === "Available" && c.status === "True"), `${name} is available`).to.equal(true);
        }
        const kiali = await cluster.json<{ spec: { template: { spec: { containers: Array<{ image: string }> } } } }>("/apis/apps/v1/namespaces/istio-system/deployments/kiali");
        const shipped = /image: "?(quay\.io\/kiali\/kiali:[^"\s]+)/.exec(fs.readFileSync(path.join(TOOLS_BIN, `istio-addons-${ISTIO}`, "kiali.yaml"), "utf8"))![1];
        expect(kiali.spec.template.spec.containers[0].image).to.equal(shipped);
        expect(await cluster.names("/apis/rbac.authorization.k8s.io/v1/clusterroles")).to.include.members(["kiali", "prometheus"]);

        const outputs = await stack.outputs();
        const ui = (outputs.telemetry.value as { ui: Record<string, { portForward: string; url: string }> }).ui;
        expect(Object.fromEntries(Object.entries(ui).map(([k, v]) => [k, `${v.portForward} → ${v.url}`]))).to.deep.equal({
            prometheus: "kubectl -n istio-system port-forward svc/prometheus 9090:9090 → http://localhost:9090/",
            grafana: "kubectl -n istio-system port-forward svc/grafana 3000:3000 → http://localhost:3000/",
            kiali: "kubectl -n istio-system port-forward svc/kiali 20001:20001 → http://localhost:20001/kiali",
            jaeger: "kubectl -n istio-system port-forward svc/tracing 16686:80 → http://localhost:16686/jaeger",
        });
    });

    it("passes the product page check against the page the harness answers for on 127.0.0.1:80 (kwok runs no Bookinfo)", async function () {
        if (!cluster.servesProductPage) {
            this.skip();
        }
        expect((await stack.outputs()).verification.value).to.deep.include({ status: 200, title: "Simple Bookstore App" });
    });

    it("has istiod refuse an AuthorizationPolicy it could not enforce", async () => {
        const res = await cluster.request("POST", "/apis/security.istio.io/v1/namespaces/bookinfo/authorizationpolicies", {
            apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy", metadata: { name: "deny-nothing" }, spec: { action: "DENY" },
        });
        expect(res.status).to.equal(400);
        expect(res.body).to.include('admission webhook \\"validation.istio.io\\" denied the request');
        expect(res.body).to.include("DENY action without `rules` is meaningless");
    });

    it("computes, for every Bookinfo workload, RBAC that admits exactly Bookinfo's calls and refuses every other caller", async () => {
        const table: string[] = [];
        for (const [service, requests] of Object.entries(EXPECTED)) {
            const pods = await podsOf(cluster, "bookinfo", `app=${service}`);
            expect(pods.length, service).to.be.greaterThan(0);
            for (const p of pods) {
                // istiod pushes on its own schedule: wait until the policies show in what it computes.
                let dump = await listeners(p);
                const settled = await eventually(async () => {
                    dump = await listeners(p);
                    return inboundAllows(dump, request("gateway", { method: "GET", path: "/nothing" })) === false;
                }, 30_000, 1000);
                expect(settled, `${p.name}: istiod's RBAC denies an unknown request`).to.equal(true);
                for (const r of requests) {
                    const allowed = Object.keys(CALLERS).filter((caller) => inboundAllows(dump, request(caller, r)));
                    table.push(`${p.name.padEnd(28)} ${r.method.padEnd(6)} ${r.path.padEnd(42)} ← ${allowed.join(", ") || "nobody"}`);
                    expect(allowed, `${p.name}: ${r.method} ${r.path}`).to.deep.equal(r.allowed);
                }
                // The rules are the namespace's: its default-deny (which matches nothing) and this service's policy, one
                // entry per rule of it.
                const chain = dump.listeners.find((l) => l.trafficDirection === "INBOUND")!.filterChains.find((c) => c.destinationPort === 9080)!;
                const policies = chain.rbac.flatMap((f) => Object.keys(f.config.rules?.policies ?? {})).sort();
                if (service === "ratings" && p === pods[0]) {
                    console.log(`      ${p.name}'s inbound RBAC on 9080, as istiod computed it: ${JSON.stringify(chain.rbac)}`);
                }
                expect(policies, p.name).to.deep.equal(["ns[bookinfo]-policy[default-deny]-rule[0]",
                    ...(service === "ratings" ? ["ns[bookinfo]-policy[ratings]-rule[0]", "ns[bookinfo]-policy[ratings]-rule[1]"] : [`ns[bookinfo]-policy[${service}]-rule[0]`])]);
            }
        }
        console.log(`      what istiod would enforce (caller principals admitted per request):\n${table.map((l) => `        ${l}`).join("\n")}`);
    });

    /** The inbound filter chains of a Bookinfo workload that accept plain text (Envoy's raw_buffer transport). */
    const plainText = (dump: XdsDump) => inboundChains(dump).filter((c) => c.transport === "raw_buffer");
    const mutualTls = (dump: XdsDump, port: number) => inboundChains(dump).filter((c) => c.port === port && c.transport === "tls");
    const describeChains = (dump: XdsDump) => inboundChains(dump).map((c) => `${c.name}:${c.port ?? "*"}/${c.transport ?? "any"}`).join(", ");

    it("accepts only mutual TLS on every Bookinfo pod's inbound listener under STRICT (mtlsMode's default), as istiod computes it", async () => {
        for (const app of ["productpage", "details", "reviews", "ratings"]) {
            const dump = await listeners(await pod("bookinfo", `app=${app}`));
            if (app === "productpage") {
                console.log(`      productpage's inbound chains under STRICT: ${describeChains(dump)}`);
            }
            expect(mutualTls(dump, 9080).length, `${app}: mutual TLS on 9080`).to.be.greaterThan(0);
            expect(plainText(dump).map((c) => c.name), `${app}: no plain-text chain`).to.deep.equal([]);
            // Every other chain needs TLS, but the one that drops traffic sent to the capture port itself.
            expect(inboundChains(dump).filter((c) => c.transport !== "tls").map((c) => `${c.name}:${c.port}`), app).to.deep.equal(["virtualInbound-blackhole:15006"]);
        }
    });

    it("adds a plain-text chain beside mutual TLS under PERMISSIVE, and drops it again under STRICT", async () => {
        const productpage = await pod("bookinfo", "app=productpage");
        await stack.setConfig(`${P}mtlsMode`, { value: "PERMISSIVE" });
        const started = Date.now();
        await stack.up({ onOutput: recorder().onOutput });
        let dump = await listeners(productpage);
        const permissive = await eventually(async () => {
            dump = await listeners(productpage);
            return plainText(dump).some((c) => c.port === 9080);
        }, 30_000, 1000);
        console.log(`      productpage's inbound chains under PERMISSIVE (${Math.round((Date.now() - started) / 1000)}s after up began): ${describeChains(dump)}`);
        expect(permissive, "istiod adds a plain-text chain for port 9080").to.equal(true);
        expect(mutualTls(dump, 9080).length, "mutual TLS still accepted").to.be.greaterThan(0);
        // The policies hold for plain text too: no identity, no access.
        expect(inboundAllows(dump, request("plain text (no identity)", { method: "GET", path: "/productpage" }))).to.equal(false);

        await stack.setConfig(`${P}mtlsMode`, { value: "STRICT" });
        await stack.up({ onOutput: recorder().onOutput });
        const strict = await eventually(async () => plainText(await listeners(productpage)).length === 0, 30_000, 1000);
        expect(strict, "istiod drops the plain-text chains again").to.equal(true);
    });

    it("configures every sidecar's tracing (Jaeger, the sampling percentage) and access log from the Telemetry", async () => {
        const dump = dumps.get((await pod("bookinfo", "app=productpage")).name)!;
        const inbound = dump.listeners.find((l) => l.trafficDirection === "INBOUND")!.filterChains.find((c) => c.destinationPort === 9080 && c.tracing)!;
        console.log(`      productpage inbound tracing: ${JSON.stringify(inbound.tracing)}`);
        console.log(`      productpage inbound access log: ${JSON.stringify(inbound.accessLog)}`);
        expect(inbound.tracing?.random_sampling?.value).to.equal(SAMPLING);
        expect(inbound.tracing?.provider?.name).to.equal("envoy.tracers.opentelemetry");
        expect(JSON.stringify(inbound.tracing?.provider?.typed_config)).to.include("outbound|4317||jaeger-collector.istio-system.svc.cluster.local");
        expect((inbound.accessLog ?? []).map((l) => l.name)).to.include("envoy.access_loggers.file");
        expect(JSON.stringify(inbound.accessLog)).to.include("/dev/stdout");
    });

    it("leaves health and metrics outside the policies: the injected proxy does not capture the agent's ports", async () => {
        const p = await pod("bookinfo", "app=productpage");
        const spec = await cluster.json<{ metadata: { annotations: Record<string, string> }; spec: { initContainers?: Array<{ name: string; args?: string[] }> } }>(
            `/api/v1/namespaces/bookinfo/pods/${p.name}`);
        const init = spec.spec.initContainers?.find((c) => c.name === "istio-init");
        const excluded = init?.args?.[init.args.indexOf("-d") + 1] ?? "";
        console.log(`      istio-init excludes inbound ports ${excluded}; prometheus.io/port ${spec.metadata.annotations["prometheus.io/port"]}`);
        expect(excluded.split(",")).to.include.members(["15020", "15021", "15090"]);
        // Prometheus scrapes the agent's merged metrics (15020), which include the app's own.
        expect(spec.metadata.annotations["prometheus.io/port"]).to.equal("15020");
        const dump = dumps.get(p.name)!;
        const inbound = dump.listeners.find((l) => l.trafficDirection === "INBOUND")!;
        expect(inbound.filterChains.map((c) => c.destinationPort).filter((port) => [15020, 15021, 15090].includes(port ?? 0))).to.deep.equal([]);
    });

    it("with meshDefaultDeny, denies by default mesh-wide, yet the gateway still serves exactly Bookinfo's routes", async () => {
        // A workload outside Bookinfo: its own namespace, Service and pod.
        await cluster.request("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "other" } });
        await cluster.request("POST", "/api/v1/namespaces/other/services", {
            apiVersion: "v1", kind: "Service", metadata: { name: "echo" }, spec: { selector: { app: "echo" }, ports: [{ name: "http", port: 8080 }] },
        });
        await cluster.request("POST", "/api/v1/namespaces/other/pods", {
            apiVersion: "v1", kind: "Pod", metadata: { name: "echo", labels: { app: "echo" } },
            spec: { containers: [{ name: "echo", image: "registry.example.com/echo:1", ports: [{ containerPort: 8080 }] }] },
        });
        expect(await eventually(async () => (await podsOf(cluster, "other", "app=echo")).length === 1, 30_000)).to.equal(true);
        const echo = await pod("other", "app=echo");
        const open = await listeners(echo);
        expect(inboundAllows(open, { principal: CALLERS.productpage, method: "GET", path: "/", port: 8080 }), "open before the mesh-wide deny").to.equal(true);

        await stack.setConfig(`${P}meshDefaultDeny`, { value: "true" });
        const r = recorder();
        const up = await stack.up({ onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      up (meshDefaultDeny): ${JSON.stringify(up.summary.resourceChanges)}`);
        expect(stepIndex(r.steps, "create", `${POLICY}::mesh-default-deny`)).to.be.greaterThan(stepIndex(r.steps, "create", `${POLICY}::bookinfo-ingress`));
        expect(await cluster.names("/apis/security.istio.io/v1/namespaces/istio-system/authorizationpolicies")).to.deep.equal(["istio-system/default-deny"]);

        const denied = await eventually(async () => !inboundAllows(await listeners(echo), { principal: CALLERS.productpage, method: "GET", path: "/", port: 8080 }), 30_000, 1000);
        expect(denied, "a workload outside Bookinfo now denies every caller").to.equal(true);
        const closed = dumps.get(echo.name)!;
        for (const caller of Object.keys(CALLERS)) {
            expect(inboundAllows(closed, { principal: CALLERS[caller], method: "GET", path: "/", port: 8080 }), caller).to.equal(false);
        }

        const gatewayPod = await pod("istio-ingress", "istio=ingressgateway");
        const gateway = await listeners(gatewayPod, "router");
        console.log(`      gateway listeners: ${gateway.listeners.map((l) => `${l.name} (${l.filterChains.length} chain(s), ${l.filterChains.flatMap((c) => c.rbac).length} RBAC filter(s))`).join("; ")}`);
        const atGateway = (method: string, requestPath: string) => gatewayAllows(gateway, { method, path: requestPath, port: 80 });
        expect(atGateway("GET", "/productpage"), "GET /productpage from anyone").to.equal(true);
        expect(atGateway("POST", "/login")).to.equal(true);
        expect(atGateway("GET", "/static/img/izzy.png")).to.equal(true);
        expect(atGateway("GET", "/admin"), "a path the VirtualService does not route").to.equal(false);
        expect(atGateway("DELETE", "/productpage")).to.equal(false);

        // Bookinfo itself: unchanged.
        const ratings = await listeners(await pod("bookinfo", "app=ratings"));
        expect(Object.keys(CALLERS).filter((caller) => inboundAllows(ratings, request(caller, { method: "GET", path: "/ratings/0" })))).to.deep.equal(["productpage", "reviews"]);
    });

    it("previews no changes on a second run", async () => {
        const preview = await stack.preview({ expectNoChanges: true });
        expect(Object.keys(preview.changeSummary).sort()).to.deep.equal(["read", "same"]);
    });

    it("destroys the add-ons (their cluster-wide RBAC included), the policies and the Telemetry", async () => {
        const r = recorder();
        const destroy = await stack.destroy({ onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      destroy: ${JSON.stringify(destroy.summary.resourceChanges)}`);
        const deleted = r.steps.filter((s) => s.op === "delete").map((s) => s.urn.split("::").pop());
        expect(deleted.indexOf("mesh-default-deny"), "the mesh-wide deny goes before Bookinfo's exceptions").to.be.lessThan(deleted.indexOf("bookinfo-productpage"));
        expect(deleted.indexOf("bookinfo-default-deny")).to.be.lessThan(deleted.indexOf("bookinfo-productpage"));
        const clusterRoles = await cluster.names("/apis/rbac.authorization.k8s.io/v1/clusterroles");
        expect(clusterRoles).to.not.include.members(["kiali"]);
        expect(clusterRoles).to.not.include.members(["prometheus"]);
        expect(await cluster.names("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings")).to.not.include.members(["kiali"]);
        expect(await cluster.names("/apis/security.istio.io/v1/authorizationpolicies")).to.deep.equal([]);
        expect(await cluster.names("/apis/telemetry.istio.io/v1/telemetries")).to.deep.equal([]);
        expect(await eventually(async () => (await cluster.names("/apis/apps/v1/namespaces/istio-system/deployments")).length === 0, 60_000)).to.equal(true);
    });
});
