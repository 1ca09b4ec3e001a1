/**
 * The ingress API (`ingressApi`) and the data plane (`dataPlane`): their settings and rules, the Gateway API release
 * each Istio release expects (from Istio's own go.mod) and its pinned files (the module's bytes, from the tool
 * cache), what the CRD installer may do with what a cluster has, and the objects of each mode under the mocks —
 * Bookinfo's Gateway and HTTPRoute equal to Istio's sample and valid against the Gateway API's CRDs, and the
 * ambient policies valid against Istio's.
 */
import { spawnSync } from "child_process";
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { ConfigError, PROJECT, loadConfig } from "../config";
import {
    GATEWAY_API_RELEASES, GatewayApiBundle, InstalledObject, gatewayApiVersionFor, loadGatewayApi, objectKey, planInstall,
} from "../programs/mesh/gatewayApiBundle";
import { AuthorizationPolicySpec } from "../components/istio/resources";
import { minorOf } from "../components/istio/releases";
import { mocks, runProgram } from "./support/harness";
import { upstreamDir } from "./support/upstream";
import { istioProblems } from "./support/validate";
import { toolVersions, toolsBin } from "../local/workspace";

const P = `${PROJECT}:`;
const BIN = toolsBin();
const ISTIO = toolVersions().ISTIO_VERSION;
const ISTIO_PREVIOUS = toolVersions().ISTIO_PREVIOUS_VERSION;
const KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://lab.example.com:6443', certificate-authority-data: Zm9v}}]\n" +
    "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: t0k3n}}]\n";
const EXISTING = { [`${P}clusterSource`]: "existing", [`${P}kubeconfig`]: KUBECONFIG };
const gatewayApiDir = (version: string) => path.join(BIN, `gateway-api-${version}`);

function problems(config: Record<string, string>): string {
    try {
        loadConfig(config, (k) => k.endsWith("kubeconfig"), {});
    } catch (e) {
        expect(e).to.be.instanceOf(ConfigError);
        return (e as Error).message;
    }
    throw new Error("the configuration was accepted");
}

/** Problems of Gateway API objects against a release's CRDs, as kube-apiserver would report them on create. */
function gatewayApiProblems(objects: Array<Record<string, unknown>>, version: string): string[][] {
    const crds = Object.keys(GATEWAY_API_RELEASES[version].files).filter((f) => !f.includes("_vap_")).map((f) => path.join(gatewayApiDir(version), f));
    const run = spawnSync(path.join(BIN, "crd-validate"), crds, { input: JSON.stringify(objects), encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (run.status !== 0) {
        throw new Error(`crd-validate failed (${run.status ?? run.signal}): ${run.stderr}`);
    }
    return (JSON.parse(run.stdout) as Array<{ errors: string[] }>).map((r) => r.errors);
}

const manifest = (type: string, name: string) => {
    const { apiVersion, kind, metadata, spec } = mocks.find(type, name).inputs as Record<string, unknown>;
    return { apiVersion, kind, metadata, spec } as { apiVersion: string; kind: string; metadata: { name: string; namespace: string; labels?: Record<string, string> }; spec: Record<string, unknown> };
};
const GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway";
const ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute";
const POLICY = "kubernetes:security.istio.io/v1:AuthorizationPolicy";
const policySpec = (name: string) => manifest(POLICY, name).spec as AuthorizationPolicySpec;

describe("ingress API and data plane settings", () => {
    it("default to Istio's ingress API and sidecars", () => {
        const config = loadConfig(EXISTING, (k) => k.endsWith("kubeconfig"), {});
        expect(config.modes).to.deep.equal({ ingressApi: "istio", dataPlane: "sidecar", waypoint: false, gatewayApi: undefined });
    });

    it("resolve the Gateway API release the newest control plane's Istio expects", () => {
        const gatewayApi = loadConfig({ ...EXISTING, [`${P}ingressApi`]: "gateway-api" }, (k) => k.endsWith("kubeconfig"), {});
        expect(gatewayApi.modes.gatewayApi).to.deep.equal({ version: "v1.6.3", source: undefined });
        const old = loadConfig({ ...EXISTING, [`${P}ingressApi`]: "gateway-api", [`${P}istioVersion`]: "1.30.3" }, (k) => k.endsWith("kubeconfig"), {});
        expect(old.modes.gatewayApi?.version).to.equal("v1.5.1");
        const waypoint = loadConfig({ ...EXISTING, [`${P}dataPlane`]: "ambient", [`${P}ambientWaypoint`]: "true" }, (k) => k.endsWith("kubeconfig"), {});
        expect(waypoint.modes).to.deep.include({ ingressApi: "istio", dataPlane: "ambient", waypoint: true });
        expect(waypoint.modes.gatewayApi?.version).to.equal("v1.6.3");
    });

    it("refuse bad values and combinations, naming the setting", () => {
        expect(problems({ ...EXISTING, [`${P}ingressApi`]: "nginx" })).to.include(`${P}ingressApi: "nginx" is not allowed: expected one of istio, gateway-api`);
        expect(problems({ ...EXISTING, [`${P}dataPlane`]: "sidecarless" })).to.include(`${P}dataPlane: "sidecarless" is not allowed: expected one of sidecar, ambient`);
        expect(problems({ ...EXISTING, [`${P}gatewayApiCrdsSource`]: "/srv/gateway-api" })).to.include(`${P}gatewayApiCrdsSource: is only used when ingressApi is gateway-api`);
        expect(problems({ ...EXISTING, [`${P}gatewayApiCrdsSource`]: "http://mirror/x", [`${P}ingressApi`]: "gateway-api" })).to.include(`${P}gatewayApiCrdsSource: "http://mirror/x" is not allowed: expected an https:// base URL or a local directory`);
        expect(problems({ ...EXISTING, [`${P}ingressApi`]: "gateway-api", [`${P}gatewayApiCrdsSource`]: os.tmpdir() }))
            .to.match(/gatewayApiCrdsSource: ".*" is not allowed: the local directory has no gateway\.networking\.k8s\.io_gatewayclasses\.yaml, .* \(copy config\/crd\/standard of the Gateway API's v1\.6\.3\)/);
        expect(problems({ ...EXISTING, [`${P}ambientWaypoint`]: "true" })).to.include(`${P}ambientWaypoint: is only used when dataPlane is ambient`);
        expect(problems({ ...EXISTING, [`${P}ingressApi`]: "gateway-api", [`${P}istioVersion`]: "1.29.2" }))
            .to.include(`${P}ingressApi: needs the Gateway API CRDs of the release Istio 1.29.2 expects, and the program pins them for Istio 1.30, 1.31 only`);
    });

    it("refuse injection-only settings in ambient mode", () => {
        const message = problems({
            ...EXISTING, [`${P}dataPlane`]: "ambient", [`${P}injectionMode`]: "pod", [`${P}meshNamespaces`]: JSON.stringify({ shop: "canary" }),
            [`${P}istioRevisions`]: JSON.stringify([{ name: "canary" }]), [`${P}bookinfoRevision`]: "canary",
        });
        for (const key of ["injectionMode", "meshNamespaces", "bookinfoRevision", "istioRevisions"]) {
            expect(message).to.include(`${P}${key}: is not allowed when dataPlane is ambient`);
        }
        // Ambient runs the CNI agent anyway: its directories and baseline Pod Security need no istioCni.
        expect(() => loadConfig({ ...EXISTING, [`${P}dataPlane`]: "ambient", [`${P}istioCniBinDir`]: "/var/vcap/jobs/kubelet/packages/cni/bin", [`${P}bookinfoPodSecurity`]: "baseline" },
            (k) => k.endsWith("kubeconfig"), {})).to.not.throw();
    });
});

describe("the Gateway API release of each Istio release", function () {
    this.timeout(120_000);

    it("is the line Istio's go.mod builds against (sigs.k8s.io/gateway-api), at the pinned patch", () => {
        for (const release of [ISTIO, ISTIO_PREVIOUS]) {
            const tarball = path.join(upstreamDir(), `istio-${release}.tar.gz`);
            const goMod = spawnSync("tar", ["-xzOf", tarball, "--wildcards", "*/go.mod"], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }).stdout;
            const required = /^\tsigs\.k8s\.io\/gateway-api (v\d+\.\d+)\.\d+$/m.exec(goMod)?.[1];
            expect(required, `${release}'s go.mod`).to.not.equal(undefined);
            expect(gatewayApiVersionFor(minorOf(release)), release).to.match(new RegExp(`^${required!.replace(".", "\\.")}\\.\\d+$`));
        }
    });

    it("pins each file's sha256 as the module has it, and loads only verified, standard objects", async () => {
        for (const [version, release] of Object.entries(GATEWAY_API_RELEASES)) {
            const files = fs.readdirSync(gatewayApiDir(version)).filter((f) => f.endsWith(".yaml")).sort();
            expect(files, version).to.deep.equal(Object.keys(release.files).sort());
            const bundle = await loadGatewayApi(version, gatewayApiDir(version));
            expect(bundle.objects.filter((o) => o.kind === "CustomResourceDefinition").length, version).to.be.greaterThanOrEqual(8);
        }
        const tampered = fs.mkdtempSync(path.join(os.tmpdir(), "gateway-api-"));
        for (const f of Object.keys(GATEWAY_API_RELEASES["v1.6.3"].files)) {
            fs.copyFileSync(path.join(gatewayApiDir("v1.6.3"), f), path.join(tampered, f));
        }
        fs.appendFileSync(path.join(tampered, "gateway.networking.k8s.io_httproutes.yaml"), "\n# changed\n");
        let error = "";
        await loadGatewayApi("v1.6.3", tampered).catch((e: Error) => { error = e.message; });
        expect(error).to.match(/gateway\.networking\.k8s\.io_httproutes\.yaml does not match its pinned sha256 .*; the Gateway API CRDs are not applied$/);
        fs.rmSync(tampered, { recursive: true, force: true });
    });

    it("is installed unless present and new enough, never downgraded, never taken over without adoption", async () => {
        const bundle: GatewayApiBundle = await loadGatewayApi("v1.5.1", gatewayApiDir("v1.5.1"));
        const gateways = "CustomResourceDefinition gateways.gateway.networking.k8s.io";
        const plan = (found: InstalledObject, adopt = false) => {
            const p = planInstall(bundle, new Map([[gateways, found]]), "pks-istio-mesh/dev", adopt);
            return { action: p.objects.find((o) => objectKey(o.kind === undefined ? { kind: "", metadata: { name: "" } } : { kind: o.kind, metadata: { name: o.name } }) === gateways)?.action, refusals: p.refusals };
        };
        expect(planInstall(bundle, new Map(), "pks-istio-mesh/dev", false).objects.every((o) => o.action === "create")).to.equal(true);
        expect(plan({ bundleVersion: "v1.6.3", channel: "standard", mark: "someone" })).to.deep.equal({ action: "keep", refusals: [] });
        expect(plan({ bundleVersion: "v1.6.0", channel: "experimental" })).to.deep.equal({ action: "keep", refusals: [] });
        expect(plan({ bundleVersion: "v1.4.0", channel: "standard", mark: "pks-istio-mesh/dev" })).to.deep.equal({ action: "upgrade", refusals: [] });
        expect(plan({ bundleVersion: "v1.4.0", channel: "standard" }).refusals[0]).to.match(/is v1\.4\.0 \(standard\), older than v1\.5\.1, and this stack did not install it: .*adoptExistingObjects/);
        expect(plan({ bundleVersion: "v1.4.0", channel: "standard" }, true).action).to.equal("upgrade");
        expect(plan({ bundleVersion: "v1.4.0", channel: "experimental", mark: "pks-istio-mesh/dev" }).refusals[0]).to.match(/experimental channel/);
    });
});

describe("the program in each mode", function () {
    this.timeout(60_000);

    it("gateway-api: Istio's sample Gateway and HTTPRoute, valid against both releases' CRDs; no gateway chart; authorization at the provisioned gateway", async () => {
        const run = await runProgram({ ...EXISTING, [`${P}ingressApi`]: "gateway-api", [`${P}gatewayApiCrdsSource`]: gatewayApiDir("v1.6.3"), [`${P}verifyProductPage`]: "false" }, [`${P}kubeconfig`]);
        expect(run.error).to.equal(undefined);
        expect(mocks.ofType("kubernetes:helm.sh/v3:Release").map((r) => r.name)).to.have.members(["istio-istio-base", "istio-istiod"]);
        expect(mocks.ofType("kubernetes:networking.istio.io/v1:Gateway")).to.deep.equal([]);
        const gateway = manifest(GATEWAY, "bookinfo-gateway");
        const route = manifest(ROUTE, "bookinfo-route");
        // Equal to Istio's sample (its namespace aside, and the annotations that make Pulumi wait for Programmed).
        const sample = YAML.parseAllDocuments(fs.readFileSync(path.join(BIN, `istio-samples-${ISTIO}`, "bookinfo", "gateway-api", "bookinfo-gateway.yaml"), "utf8")).map((d) => d.toJSON() as Record<string, { name: string }>);
        const strip = (o: { metadata: { name: string } }) => ({ ...o, metadata: { name: o.metadata.name } });
        expect([strip(gateway), strip(route)]).to.deep.equal(sample);
        expect(gateway.metadata.namespace).to.equal("bookinfo");
        for (const version of Object.keys(GATEWAY_API_RELEASES)) {
            expect(gatewayApiProblems([gateway, route], version), version).to.deep.equal([[], []]);
        }
        // The gateway's identity is the service account istiod creates for the Gateway.
        expect(mocks.ofType("kubernetes:core/v1:ServiceAccount").filter((r) => r.id !== undefined).map((r) => r.id)).to.include("bookinfo/bookinfo-gateway-istio");
        expect(policySpec("bookinfo-productpage").rules?.[0].from?.[0].source.principals).to.deep.equal(["cluster.local/ns/bookinfo/sa/bookinfo-gateway-istio"]);
        expect(mocks.find("command:local:Command", "gateway-api").inputs).to.deep.nested.include({ "environment.GATEWAY_API_VERSION": "v1.6.3" });
    });

    it("gateway-api with meshDefaultDeny: the gateway's own policy targets its Gateway, valid against Istio's CRDs", async () => {
        const run = await runProgram({ ...EXISTING, [`${P}ingressApi`]: "gateway-api", [`${P}gatewayApiCrdsSource`]: gatewayApiDir("v1.6.3"), [`${P}verifyProductPage`]: "false", [`${P}meshDefaultDeny`]: "true" }, [`${P}kubeconfig`]);
        expect(run.error).to.equal(undefined);
        const ingress = manifest(POLICY, "bookinfo-ingress");
        expect(ingress.metadata.namespace).to.equal("bookinfo");
        expect(ingress.spec).to.deep.include({ targetRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: "bookinfo-gateway" }] });
        expect(istioProblems([ingress]).flatMap((r) => r.errors)).to.deep.equal([]);
    });

    it("ambient: istiod, CNI and ztunnel in ambient mode, Bookinfo enrolled without injection, L4 policies at ztunnel", async () => {
        const run = await runProgram({ ...EXISTING, [`${P}dataPlane`]: "ambient", [`${P}verifyProductPage`]: "false" }, [`${P}kubeconfig`]);
        expect(run.error).to.equal(undefined);
        const release = (name: string) => mocks.find("kubernetes:helm.sh/v3:Release", name).inputs as { values: Record<string, unknown>; chart: string };
        expect(release("istio-istiod").values).to.deep.include({ profile: "ambient" });
        expect(release("istio-cni").values).to.deep.include({ profile: "ambient" });
        expect(release("istio-ztunnel").chart).to.equal("ztunnel");
        const namespace = manifest("kubernetes:core/v1:Namespace", "bookinfo-namespace");
        expect(namespace.metadata.labels).to.include({ "istio.io/dataplane-mode": "ambient" });
        expect(namespace.metadata.labels).to.not.have.any.keys("istio-injection", "istio.io/rev");
        expect(mocks.ofType("kubernetes:networking.istio.io/v1:DestinationRule")).to.deep.equal([]);
        // ztunnel enforces layer 4 only: callers and port, no methods or paths.
        const policies = mocks.ofType(POLICY).map((r) => manifest(POLICY, r.name));
        for (const p of policies.filter((x) => x.metadata.name !== "default-deny")) {
            for (const rule of (p.spec as AuthorizationPolicySpec).rules ?? []) {
                expect(rule.to?.[0].operation, p.metadata.name).to.not.have.any.keys("methods", "paths");
            }
        }
        expect(istioProblems(policies).flatMap((r) => r.errors)).to.deep.equal([]);
    });

    it("ambient with a waypoint: the L7 rules target Bookinfo's Services at the waypoint, ztunnel admits only the waypoint", async () => {
        const run = await runProgram({ ...EXISTING, [`${P}dataPlane`]: "ambient", [`${P}ambientWaypoint`]: "true", [`${P}gatewayApiCrdsSource`]: gatewayApiDir("v1.6.3"), [`${P}verifyProductPage`]: "false" }, [`${P}kubeconfig`]);
        expect(run.error).to.equal(undefined);
        const waypoint = manifest(GATEWAY, "bookinfo-gateway");
        expect(waypoint.metadata).to.deep.include({ name: "waypoint", namespace: "bookinfo" });
        expect(waypoint.spec).to.deep.equal({ gatewayClassName: "istio-waypoint", listeners: [{ name: "mesh", port: 15008, protocol: "HBONE" }] });
        for (const version of Object.keys(GATEWAY_API_RELEASES)) {
            expect(gatewayApiProblems([waypoint], version), version).to.deep.equal([[]]);
        }
        expect(manifest("kubernetes:core/v1:Namespace", "bookinfo-namespace").metadata.labels).to.include({ "istio.io/use-waypoint": "waypoint" });
        const details = policySpec("bookinfo-waypoint-details");
        expect(details.targetRefs).to.deep.equal([{ group: "", kind: "Service", name: "details" }]);
        expect(details.rules?.[0].to?.[0].operation).to.deep.equal({ methods: ["GET"], paths: ["/details/*"] });
        expect(policySpec("bookinfo-details").rules?.[0].from?.[0].source.principals).to.deep.equal(["cluster.local/ns/bookinfo/sa/waypoint"]);
        const policies = mocks.ofType(POLICY).map((r) => manifest(POLICY, r.name));
        expect(istioProblems(policies).flatMap((r) => r.errors)).to.deep.equal([]);
    });
});
