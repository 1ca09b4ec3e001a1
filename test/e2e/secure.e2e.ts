/**
 * End to end, "secure and observe": the program run by the pulumi CLI on an existing cluster (the local control
 * plane with the live istiod, `clusterSource: existing`) with Bookinfo's authorization on and every telemetry
 * add-on, and proof of what istiod would enforce without any data plane: the `xds-listeners` tool asks istiod,
 * as each Bookinfo workload's sidecar (and as the ingress gateway), for the listeners it computes, and the suite
 * evaluates their RBAC filters against every caller (xds.ts), and tells STRICT from PERMISSIVE mutual TLS by the
 * transports the inbound filter chains accept.
 *
 * The add-ons come from an https mirror of Istio's samples/addons (a server of the suite's, its certificate
 * trusted through NODE_EXTRA_CA_CERTS, as a site with a private CA would): verified against their pinned sha256,
 * hardened, and refused when tampered with — in a local mirror directory, over https, or behind a redirect.
 *
 * Played rather than real: kwok's pods (Bookinfo's, the gateway's and the add-ons' become Ready without running),
 * the load balancer and the product page behind it (localCluster.ts), the add-on mirror. istiod, its webhooks and
 * its xDS server, the API server's RBAC and admission are real.
 */
import { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { ADDON_POD_LABELS, addonLogin } from "../../components/telemetry/hardening";
import { TelemetryAddonName } from "../../components/telemetry/manifests";
import { PINNED_ADDON_SHA256 } from "../../components/telemetry/verification";
import { HttpsMirror } from "../support/upstream";
import { eventually, recorder, stepIndex } from "../support/engine";
import { LocalCluster } from "../../local/localCluster";
import { useLocalCluster } from "../support/suite";
import { localIstio, meshStack, requireTools, toolVersions, toolsBin } from "../../local/workspace";
import { Request, WorkloadPod, XdsDump, gatewayAllows, inboundAllows, inboundChains, listenersOf, podsOf } from "../support/xds";

const P = "pks-istio-mesh:";
const TOOLS_BIN = toolsBin();
const ISTIO = toolVersions().ISTIO_VERSION;
const SAMPLING = 10;
const ADDON_DEPLOYMENTS = ["prometheus", "grafana", "kiali", "jaeger"];

const ADDONS = path.join(TOOLS_BIN, `istio-addons-${ISTIO}`);

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

/** How long each resource's step took (from the engine's pre-step to its outputs event). */
function stepTimer(): { onEvent: (e: EngineEvent) => void; report: (types: RegExp, names: RegExp) => string } {
    const started = new Map<string, number>();
    const took: Array<{ type: string; urn: string; ms: number }> = [];
    return {
        onEvent: (e) => {
            const pre = e.resourcePreEvent?.metadata;
            if (pre) {
                started.set(pre.urn, Date.now());
            }
            const done = e.resOutputsEvent?.metadata;
            if (done && started.has(done.urn)) {
                took.push({ type: done.type, urn: done.urn, ms: Date.now() - started.get(done.urn)! });
            }
        },
        report: (types, names) => took.filter((t) => types.test(t.type) && names.test(t.urn.split("::").pop()!))
            .map((t) => `${t.urn.split("::").pop()} (${t.type.split(":").pop()}) ${(t.ms / 1000).toFixed(1)}s`).join(", "),
    };
}

describe("end to end: zero-trust Bookinfo and the telemetry add-ons, against a live istiod", function () {
    this.timeout(15 * 60_000);
    before(() => requireTools(TOOLS_BIN, ["pulumi", "pulumi-language-nodejs", "pulumi-resource-command", "pulumi-resource-kubernetes",
        `pilot-discovery-${ISTIO}`, `istio-charts-${ISTIO}`, `istio-addons-${ISTIO}`, "xds-listeners"]));
    const suite = useLocalCluster("secure", TOOLS_BIN);
    let cluster: LocalCluster;
    let stack: Stack;
    let mirror: HttpsMirror;
    /** A local mirror directory whose kiali.yaml grants Kiali cluster-admin. */
    let tamperedDir: string;
    /** Grafana's generated password, as first created. */
    let grafanaPassword: string;

    before(async () => {
        cluster = suite.cluster;
        // The add-on mirror: Istio's files at /addons, Kiali's tampered with at /tampered, redirects at /moved.
        mirror = await HttpsMirror.start(suite.dir);
        mirror.serveDir("/addons", ADDONS);
        tamperedDir = path.join(suite.dir, "tampered-addons");
        fs.mkdirSync(tamperedDir);
        for (const file of fs.readdirSync(ADDONS)) {
            fs.copyFileSync(path.join(ADDONS, file), path.join(tamperedDir, file));
        }
        fs.appendFileSync(path.join(tamperedDir, "kiali.yaml"), `---\n${YAML.stringify({
            apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: "kiali-admin" },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
            subjects: [{ kind: "ServiceAccount", name: "kiali", namespace: "istio-system" }],
        })}`);
        mirror.serveDir("/tampered", tamperedDir);
        for (const file of fs.readdirSync(ADDONS)) {
            mirror.redirect(`/moved/${file}`, mirror.url(`/addons/${file}`));
        }
        stack = await meshStack({
            dir: path.join(suite.dir, "pulumi"), toolsBin: TOOLS_BIN, stackName: "secure", passphrase: crypto.randomBytes(12).toString("hex"),
            env: { NODE_EXTRA_CA_CERTS: mirror.caFile },
        });
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
            // Where a site keeps its mirror of Istio's samples/addons (the release's, whose pinned digests apply).
            [`${P}telemetryAddonsSource`]: { value: mirror.url("/addons") },
        });
    });
    after(() => mirror?.close());

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
        const timer = stepTimer();
        const up = await stack.up({ onEvent: (e) => { r.onEvent(e); timer.onEvent(e); }, onOutput: r.onOutput });
        console.log(`      up: ${JSON.stringify(up.summary.resourceChanges)} in ${Math.round((new Date(up.summary.endTime).getTime() - new Date(up.summary.startTime).getTime()) / 1000)}s`);
        console.log(`      add-on steps (create, until ready): ${timer.report(/^kubernetes:(apps\/v1:Deployment|networking\.k8s\.io\/v1:NetworkPolicy|core\/v1:Secret)$/, /^telemetry-/)}`);
        // Each add-on's NetworkPolicy (and generated Secret) exists before its pods.
        for (const addon of ADDON_DEPLOYMENTS) {
            const deployment = stepIndex(r.steps, "create", `kubernetes:apps/v1:Deployment::telemetry-${addon}:istio-system/${addon}`);
            expect(stepIndex(r.steps, "create", `kubernetes:networking.k8s.io/v1:NetworkPolicy::telemetry-${addon}`), addon).to.be.lessThan(deployment);
        }
        for (const [addon, secret] of [["grafana", "grafana-admin"], ["kiali", "kiali-login-token-signing-key"]]) {
            expect(stepIndex(r.steps, "create", `kubernetes:core/v1:Secret::telemetry-${addon}-${secret}`), addon)
                .to.be.lessThan(stepIndex(r.steps, "create", `kubernetes:apps/v1:Deployment::telemetry-${addon}:istio-system/${addon}`));
        }

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

        // Each add-on's workloads are ready (kwok runs them), from Istio's manifests as hardened.
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
        const ui = (outputs.telemetry.value as { ui: Record<string, { portForward: string; url: string; login?: string }> }).ui;
        expect(Object.fromEntries(Object.entries(ui).map(([k, v]) => [k, `${v.portForward} → ${v.url}${v.login ? ` (${v.login})` : ""}`]))).to.deep.equal({
            prometheus: "kubectl -n istio-system port-forward svc/prometheus 9090:9090 → http://localhost:9090/",
            grafana: `kubectl -n istio-system port-forward svc/grafana 3000:3000 → http://localhost:3000/ (${addonLogin("grafana")})`,
            kiali: "kubectl -n istio-system port-forward svc/kiali 20001:20001 → http://localhost:20001/kiali (token: kubectl -n istio-system create token kiali)",
            jaeger: "kubectl -n istio-system port-forward svc/tracing 16686:80 → http://localhost:16686/jaeger",
        });
    });

    it("passes the product page check against the page the harness answers for on 127.0.0.1:80 (kwok runs no Bookinfo)", async function () {
        if (!cluster.servesProductPage) {
            this.skip();
        }
        expect((await stack.outputs()).verification.value).to.deep.include({ status: 200, title: "Simple Bookstore App" });
    });

    it("runs the add-ons hardened: no lifecycle endpoint, no anonymous Grafana, Kiali view-only with token login, generated secrets", async () => {
        type Pod = { metadata: { annotations?: Record<string, string> }; spec: { containers: Array<{ name: string; args?: string[]; env?: Array<{ name: string; value?: string; valueFrom?: unknown }>; volumeMounts?: Array<{ name: string; mountPath: string }> }>; volumes?: Array<{ name: string; secret?: { secretName: string } }> } };
        const pod = async (name: string) => (await cluster.json<{ spec: { template: Pod } }>(`/apis/apps/v1/namespaces/istio-system/deployments/${name}`)).spec.template;
        const secretValue = async (name: string, key: string) => Buffer.from((await cluster.json<{ data: Record<string, string> }>(`/api/v1/namespaces/istio-system/secrets/${name}`)).data[key], "base64").toString("utf8");

        const prometheus = await pod("prometheus");
        expect(prometheus.spec.containers.map((c) => c.name)).to.deep.equal(["prometheus-server"]);
        expect(prometheus.spec.containers[0].args).to.include("--config.file=/etc/config/prometheus.yml").and.not.include("--web.enable-lifecycle");

        const grafana = Object.fromEntries((await pod("grafana")).spec.containers[0].env!.map((e) => [e.name, e.value ?? e.valueFrom]));
        expect(grafana).to.deep.include({ GF_AUTH_ANONYMOUS_ENABLED: "false", GF_SECURITY_ADMIN_PASSWORD: { secretKeyRef: { name: "grafana-admin", key: "admin-password" } } });
        expect(grafana).to.not.have.property("GF_AUTH_ANONYMOUS_ORG_ROLE");
        grafanaPassword = await secretValue("grafana-admin", "admin-password");
        expect(grafanaPassword).to.match(/^[A-Za-z0-9_-]{32}$/);

        const kialiConfig = YAML.parse((await cluster.json<{ data: Record<string, string> }>("/api/v1/namespaces/istio-system/configmaps/kiali")).data["config.yaml"]) as Record<string, Record<string, unknown>>;
        expect([kialiConfig.auth.strategy, kialiConfig.deployment.view_only_mode, kialiConfig.login_token.signing_key]).to.deep.equal(["token", true, ""]);
        const kiali = await pod("kiali");
        expect(kiali.spec.volumes).to.deep.include({ name: "kiali-login-token-signing-key", secret: { secretName: "kiali-login-token-signing-key", defaultMode: 420 } });
        expect(kiali.spec.containers[0].volumeMounts).to.deep.include({ name: "kiali-login-token-signing-key", mountPath: "/kiali-override-secrets/login-token-signing-key", readOnly: true });
        const key = await secretValue("kiali-login-token-signing-key", "value.txt");
        expect(key).to.match(/^[A-Za-z0-9_-]{32}$/).and.not.equal(await secretValue("grafana-admin", "admin-password"));
    });

    it("leaves Kiali's service account able to read Istio's policies and log in, but not to change or delete them", async () => {
        // A token of Kiali's own service account: what Kiali runs with, and what the README has the operator log in with.
        const request = await cluster.request("POST", "/api/v1/namespaces/istio-system/serviceaccounts/kiali/token", {
            apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 600 },
        });
        expect(request.status, request.body).to.equal(201);
        const token = (JSON.parse(request.body) as { status: { token: string } }).status.token;
        const asKiali = (method: string, urlPath: string, body?: unknown) =>
            cluster.request(method, urlPath, body, method === "PATCH" ? "application/merge-patch+json" : "application/json", token);
        const results = {
            "list namespaces (Kiali's login check)": (await asKiali("GET", "/api/v1/namespaces")).status,
            "list Bookinfo's AuthorizationPolicies": (await asKiali("GET", "/apis/security.istio.io/v1/namespaces/bookinfo/authorizationpolicies")).status,
            "delete Bookinfo's default-deny": (await asKiali("DELETE", "/apis/security.istio.io/v1/namespaces/bookinfo/authorizationpolicies/default-deny")).status,
            "patch the mesh's PeerAuthentication": (await asKiali("PATCH", "/apis/security.istio.io/v1/namespaces/istio-system/peerauthentications/default",
                { spec: { mtls: { mode: "PERMISSIVE" } } })).status,
            "create an AuthorizationPolicy": (await asKiali("POST", "/apis/security.istio.io/v1/namespaces/bookinfo/authorizationpolicies",
                { apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy", metadata: { name: "allow-all" }, spec: { rules: [{}] } })).status,
            "patch a Bookinfo Deployment": (await asKiali("PATCH", "/apis/apps/v1/namespaces/bookinfo/deployments/productpage-v1", { metadata: { labels: { x: "y" } } })).status,
        };
        console.log(`      Kiali's service account, against the API server: ${JSON.stringify(results)}`);
        expect(results).to.deep.equal({
            "list namespaces (Kiali's login check)": 200,
            "list Bookinfo's AuthorizationPolicies": 200,
            "delete Bookinfo's default-deny": 403,
            "patch the mesh's PeerAuthentication": 403,
            "create an AuthorizationPolicy": 403,
            "patch a Bookinfo Deployment": 403,
        });
        expect(await cluster.names("/apis/security.istio.io/v1/namespaces/bookinfo/authorizationpolicies")).to.include("bookinfo/default-deny");
    });

    it("gives each add-on's pods a NetworkPolicy that admits no pod to a UI, and leaves istiod's pods alone", async () => {
        type Policy = { metadata: { name: string }; spec: { podSelector: { matchLabels: Record<string, string> }; ingress?: Array<{ from?: Array<{ podSelector: { matchLabels: Record<string, string> } }>; ports: Array<{ port: number }> }> } };
        const policies = (await cluster.json<{ items: Policy[] }>("/apis/networking.k8s.io/v1/namespaces/istio-system/networkpolicies")).items;
        const pods = (await cluster.json<{ items: Array<{ metadata: { name: string; labels?: Record<string, string> } }> }>("/api/v1/namespaces/istio-system/pods")).items;
        const selected = (selector: { matchLabels: Record<string, string> }) => pods.filter((p) => Object.entries(selector.matchLabels).every(([k, v]) => p.metadata.labels?.[k] === v));
        /** The add-on (or istiod) a pod belongs to. */
        const owner = (name: string) => ["istiod", ...ADDON_DEPLOYMENTS].find((d) => name.startsWith(`${d}-`)) ?? name;
        const table = Object.fromEntries(policies.map((p) => [p.metadata.name, {
            selects: [...new Set(selected(p.spec.podSelector).map((pod) => owner(pod.metadata.name)))],
            admits: (p.spec.ingress ?? []).map((rule) => `${rule.ports.map((x) => x.port).join(",")} ← ${rule.from === undefined ? "anyone" : [...new Set(rule.from.flatMap((f) => selected(f.podSelector).map((pod) => owner(pod.metadata.name))))].join(",")}`),
        }]));
        console.log(`      NetworkPolicies of istio-system, against its pods: ${JSON.stringify(table)}`);
        expect(table).to.deep.equal({
            prometheus: { selects: ["prometheus"], admits: ["9090 ← grafana,kiali"] },
            grafana: { selects: ["grafana"], admits: [] },
            kiali: { selects: ["kiali"], admits: ["9090 ← prometheus"] },
            jaeger: { selects: ["jaeger"], admits: ["4317,4318,9411,14250,14268 ← anyone", "8888 ← prometheus"] },
        });
        const istiod = pods.filter((p) => owner(p.metadata.name) === "istiod");
        expect(istiod.length, "istiod pods").to.be.greaterThan(0);
        expect(istiod.filter((p) => policies.some((policy) => selected(policy.spec.podSelector).includes(p))), "no policy selects istiod").to.deep.equal([]);
        for (const addon of ADDON_DEPLOYMENTS as TelemetryAddonName[]) {
            expect(table[addon].selects, addon).to.deep.equal([addon]);
            expect(policies.find((p) => p.metadata.name === addon)!.spec.podSelector.matchLabels).to.deep.equal(ADDON_POD_LABELS[addon]);
        }
    });

    it("refuses tampered add-on manifests — from a local mirror, over https, behind a redirect — and changes nothing", async () => {
        const pin = PINNED_ADDON_SHA256[ISTIO].kiali;
        const tamperedSha = crypto.createHash("sha256").update(fs.readFileSync(path.join(tamperedDir, "kiali.yaml"))).digest("hex");
        const refusal = `does not match its pinned sha256 (Istio ${ISTIO}'s samples/addons/kiali.yaml): expected ${pin}, got ${tamperedSha}; the add-on is not applied`;
        const timings: string[] = [];
        const timed = async <T>(what: string, run: () => Promise<T>) => {
            const started = Date.now();
            const result = await run();
            timings.push(`${what} ${Math.round((Date.now() - started) / 1000)}s`);
            return result;
        };

        try {
            await tamperedRuns(refusal, timed);
        } finally {
            await stack.setConfig(`${P}telemetryAddonsSource`, { value: mirror.url("/addons") });
        }
        console.log(`      ${timings.join(", ")}`);
    });

    /** The tampered runs of the test above (the caller restores the source). */
    async function tamperedRuns(refusal: string, timed: <T>(what: string, run: () => Promise<T>) => Promise<T>): Promise<void> {
        const failure = async (run: Promise<unknown>) => run.then(() => "no error", (e: Error) => e.message);
        const kialiBefore = await cluster.json<{ data: Record<string, string> }>("/api/v1/namespaces/istio-system/configmaps/kiali");

        // A local mirror directory: `pulumi up` stops, and nothing of the add-ons changes.
        await stack.setConfig(`${P}telemetryAddonsSource`, { value: tamperedDir });
        const r = recorder();
        const local = await timed("up (local, tampered)", () => failure(stack.up({ onEvent: r.onEvent, onOutput: r.onOutput })));
        expect(local).to.include(`${path.join(tamperedDir, "kiali.yaml")} ${refusal}`);
        expect(r.steps.filter((step) => !["same", "read"].includes(step.op)).map((step) => `${step.op} ${step.urn}`), "no resource changed").to.deep.equal([]);
        expect(await cluster.names("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings")).to.not.include("kiali-admin");
        expect(await cluster.json<{ data: Record<string, string> }>("/api/v1/namespaces/istio-system/configmaps/kiali")).to.deep.include({ data: kialiBefore.data });

        // Over https: the same file from the mirror.
        await stack.setConfig(`${P}telemetryAddonsSource`, { value: mirror.url("/tampered") });
        expect(await timed("preview (https, tampered)", () => failure(stack.preview()))).to.include(`${mirror.url("/tampered/kiali.yaml")} ${refusal}`);

        // Behind a redirect, even to Istio's own files: refused, and not followed.
        await stack.setConfig(`${P}telemetryAddonsSource`, { value: mirror.url("/moved") });
        const seen = mirror.requested.length;
        expect(await timed("preview (https, redirect)", () => failure(stack.preview()))).to.match(
            /cannot fetch the add-on manifest https:\/\/127\.0\.0\.1:\d+\/moved\/\w+\.yaml: HTTP 302, a redirect to https:\/\/127\.0\.0\.1:\d+\/addons\/\w+\.yaml: redirects are refused/);
        const requested = mirror.requested.slice(seen);
        expect(requested.length).to.be.greaterThan(0);
        expect(requested.filter((p) => !p.startsWith("/moved/")), "no redirect followed").to.deep.equal([]);
    }

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
        // The generated credentials survived every update since.
        const secret = await cluster.json<{ data: Record<string, string> }>("/api/v1/namespaces/istio-system/secrets/grafana-admin");
        expect(Buffer.from(secret.data["admin-password"], "base64").toString("utf8")).to.equal(grafanaPassword);
    });

    it("destroys the add-ons (their cluster-wide RBAC, NetworkPolicies after their pods, and Secrets included), the policies and the Telemetry", async () => {
        const r = recorder();
        const destroy = await stack.destroy({ onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      destroy: ${JSON.stringify(destroy.summary.resourceChanges)}`);
        const deleted = r.steps.filter((s) => s.op === "delete").map((s) => s.urn.split("::").pop());
        expect(deleted.indexOf("mesh-default-deny"), "the mesh-wide deny goes before Bookinfo's exceptions").to.be.lessThan(deleted.indexOf("bookinfo-productpage"));
        expect(deleted.indexOf("bookinfo-default-deny")).to.be.lessThan(deleted.indexOf("bookinfo-productpage"));
        for (const addon of ADDON_DEPLOYMENTS) {
            expect(stepIndex(r.steps, "delete", `kubernetes:networking.k8s.io/v1:NetworkPolicy::telemetry-${addon}`), `${addon}'s NetworkPolicy goes after its pods`)
                .to.be.greaterThan(stepIndex(r.steps, "delete", `kubernetes:apps/v1:Deployment::telemetry-${addon}:istio-system/${addon}`));
        }
        const clusterRoles = await cluster.names("/apis/rbac.authorization.k8s.io/v1/clusterroles");
        expect(clusterRoles).to.not.include.members(["kiali"]);
        expect(clusterRoles).to.not.include.members(["prometheus"]);
        expect(await cluster.names("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings")).to.not.include.members(["kiali"]);
        expect(await cluster.names("/apis/networking.k8s.io/v1/namespaces/istio-system/networkpolicies")).to.deep.equal([]);
        expect(await cluster.names("/api/v1/namespaces/istio-system/secrets")).to.not.include.members(["istio-system/grafana-admin", "istio-system/kiali-login-token-signing-key"]);
        expect(await cluster.names("/apis/security.istio.io/v1/authorizationpolicies")).to.deep.equal([]);
        expect(await cluster.names("/apis/telemetry.istio.io/v1/telemetries")).to.deep.equal([]);
        expect(await eventually(async () => (await cluster.names("/apis/apps/v1/namespaces/istio-system/deployments")).length === 0, 60_000)).to.equal(true);
    });
});
