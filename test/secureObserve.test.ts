/**
 * The program (index.ts) with authorization and telemetry, under the mocks: authorization on by default in
 * every stack, the mesh-wide deny and its order, the trust domain and tracing provider in every istiod's mesh
 * configuration, the add-ons and the Telemetry, and the stack outputs that say what is allowed and how to open
 * each UI.
 */
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { PROJECT, loadConfig } from "../config";
import { AuthorizationPolicySpec } from "../components/istio/resources";
import { ManifestObject, imagesOf } from "../components/telemetry/manifests";
import { toolVersions } from "../local/workspace";
import { ProgramRun, dependenciesOf, mocks, runProgram, unwrap } from "./support/harness";
import { stackConfig, stackNames } from "./support/stacks";
import { istioAddons } from "./support/upstream";
import { isManifest, validateManifests } from "./support/validate";

const P = `${PROJECT}:`;
const POLICY = "kubernetes:security.istio.io/v1:AuthorizationPolicy";
const TELEMETRY = "kubernetes:telemetry.istio.io/v1:Telemetry";
const GROUP = "kubernetes:yaml/v2:ConfigGroup";
const RELEASE = "kubernetes:helm.sh/v3:Release";
const ADDONS = istioAddons(toolVersions().ISTIO_PREVIOUS_VERSION);
const SECRETS: Record<string, Record<string, string>> = { dev: { pksPassword: "dev-password" }, local: { pksPassword: "admin-password" }, prod: { pksPassword: "prod-user-password" } };

async function run(stack: string, extra: Record<string, string> = {}): Promise<ProgramRun> {
    const secrets = Object.fromEntries(Object.entries(SECRETS[stack] ?? {}).map(([k, v]) => [`${P}${k}`, v]));
    const config = { ...stackConfig(stack), ...secrets, ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [`${P}${k}`, v])) };
    const result = await runProgram(config, Object.keys(secrets), stack);
    expect(result.error, result.error?.message).to.equal(undefined);
    return result;
}

const policyNames = () => mocks.ofType(POLICY).map((p) => `${(p.inputs.metadata as { namespace: string }).namespace}/${(p.inputs.metadata as { name: string }).name}`).sort();
const istiodValues = () => mocks.ofType(RELEASE).filter((r) => String(r.inputs.name).startsWith("istiod")).map((r) => r.inputs.values as { meshConfig?: Record<string, unknown> });

describe("authorization and telemetry settings", () => {
    it("default to least privilege for Bookinfo, no mesh-wide deny, Istio's trust domain and no telemetry", () => {
        const kubeconfig = "current-context: lab\ncontexts: [{name: lab, context: {cluster: lab}}]\nclusters: [{name: lab, cluster: {server: 'https://lab:6443'}}]\n";
        const config = loadConfig({ [`${P}clusterSource`]: "existing", [`${P}kubeconfig`]: kubeconfig, [`${P}verifyProductPage`]: "false" }, () => true, {});
        expect(config.authorization).to.deep.equal({ bookinfo: true, meshDefaultDeny: false, trustDomain: "cluster.local" });
        expect(config.telemetry).to.deep.equal({
            prometheus: false, grafana: false, kiali: false, tracing: "none", tracingSampling: undefined, accessLogging: false, addonsSource: undefined,
            addonsSha256: {},
        });
    });

    it("take the user's add-on digests for a release the program does not pin, in any case", () => {
        const kubeconfig = "current-context: lab\ncontexts: [{name: lab, context: {cluster: lab}}]\nclusters: [{name: lab, cluster: {server: 'https://lab:6443'}}]\n";
        const digest = "Ab".repeat(32);
        const config = loadConfig({
            [`${P}clusterSource`]: "existing", [`${P}kubeconfig`]: kubeconfig, [`${P}verifyProductPage`]: "false", [`${P}istioVersion`]: "1.31.4",
            [`${P}telemetryTracing`]: "jaeger", [`${P}telemetryAddonsSha256`]: JSON.stringify({ jaeger: digest }),
        }, () => true, {});
        expect(config.telemetry.addonsSha256).to.deep.equal({ jaeger: "ab".repeat(32) });
    });
});

describe("the program, secured and observed", function () {
    this.timeout(60_000);

    for (const stack of stackNames()) {
        it(`secures Bookinfo by default in the ${stack} stack, and installs no telemetry`, async () => {
            const result = await run(stack);
            const namespace = stackConfig(stack)[`${P}bookinfoNamespace`] ?? "bookinfo";
            expect(policyNames()).to.deep.equal(["default-deny", "details", "productpage", "ratings", "reviews"].map((n) => `${namespace}/${n}`));
            expect(mocks.ofType(GROUP)).to.deep.equal([]);
            expect(mocks.ofType(TELEMETRY)).to.deep.equal([]);
            for (const values of istiodValues()) {
                expect(values, "istiod keeps the chart's mesh configuration").to.not.have.property("meshConfig");
            }
            const authorization = await unwrap(result.exports!.authorization as { allowed: pulumi.Output<Record<string, string[]>>; meshDefaultDeny: boolean });
            expect(Object.keys(authorization.allowed).sort()).to.deep.equal(["details", "productpage", "ratings", "reviews"]);
            expect(authorization.meshDefaultDeny).to.equal(false);
            expect(result.exports!.telemetry).to.equal("off (no telemetry add-on, tracing or access logging configured)");
            validateManifests(mocks.registered.filter((r) => isManifest(r) && r.type.startsWith("kubernetes:") && !r.id));
        });
    }

    it("can leave Bookinfo without policies", async () => {
        const result = await run("dev", { bookinfoAuthorization: "false" });
        expect(mocks.ofType(POLICY)).to.deep.equal([]);
        expect(result.exports!.authorization).to.equal("off (bookinfoAuthorization is false)");
    });

    it("denies by default mesh-wide once Bookinfo's exceptions exist, the gateway's included, and checks the page after them", async () => {
        const result = await run("dev", { meshDefaultDeny: "true" });
        expect(policyNames()).to.deep.equal([
            "bookinfo/default-deny", "bookinfo/details", "bookinfo/productpage", "bookinfo/ratings", "bookinfo/reviews",
            "istio-ingress/bookinfo-ingress", "istio-system/default-deny",
        ]);
        expect((await unwrap(result.exports!.authorization as { meshDefaultDeny: boolean })).meshDefaultDeny).to.equal(true);
        const resource = (type: string, name: string) => result.recorder.find(type, name).resource;
        const bookinfoPolicies = resource("pks-istio-mesh:bookinfo:BookinfoAuthorization", "bookinfo");
        expect(await dependenciesOf(result.recorder.find(POLICY, "mesh-default-deny")), "created after Bookinfo's policies, deleted before them")
            .to.include(bookinfoPolicies);
        const checkDependencies = await dependenciesOf(result.recorder.find("pks-istio-mesh:bookinfo:ProductPageCheck", "productpage"));
        expect(checkDependencies).to.include(bookinfoPolicies).and.include(resource("pks-istio-mesh:istio:MeshDefaultDeny", "mesh"));
    });

    it("gives every istiod the trust domain that the principals use", async () => {
        await run("dev", { trustDomain: "mesh.example.com" });
        for (const values of istiodValues()) {
            expect(values.meshConfig).to.deep.equal({ trustDomain: "mesh.example.com" });
        }
        const details = mocks.find(POLICY, "bookinfo-details").inputs.spec as AuthorizationPolicySpec;
        expect(details.rules?.[0].from?.[0].source.principals).to.deep.equal(["mesh.example.com/ns/bookinfo/sa/bookinfo-productpage"]);
    });

    it("installs the add-ons from the configured source with the image hub, sets the Telemetry API, and says how to open each UI", async () => {
        const result = await run("prod", {
            telemetryPrometheus: "true", telemetryGrafana: "true", telemetryKiali: "true", telemetryTracing: "jaeger",
            telemetryTracingSampling: "2.5", telemetryAccessLogging: "true", telemetryAddonsSource: ADDONS, istioVersion: "1.30.3",
        });
        expect(mocks.ofType(GROUP).map((g) => g.name)).to.have.members(["telemetry-prometheus", "telemetry-grafana", "telemetry-kiali", "telemetry-jaeger"]);
        const images = mocks.ofType(GROUP).flatMap((g) => imagesOf(g.inputs.objs as ManifestObject[]));
        // Prometheus runs without Istio's config reloader (see hardening.ts).
        expect(images).to.have.length(4);
        expect(images.every((i) => i.startsWith("harbor.example.com/istio/")), images.join()).to.equal(true);
        expect(mocks.find(TELEMETRY, "telemetry-default").inputs.spec).to.deep.equal({
            metrics: [{ providers: [{ name: "prometheus" }] }],
            tracing: [{ providers: [{ name: "jaeger" }], randomSamplingPercentage: 2.5 }],
            accessLogging: [{ providers: [{ name: "envoy" }], disabled: false }],
        });
        for (const values of istiodValues()) {
            expect(values.meshConfig).to.deep.equal({ extensionProviders: [{ name: "jaeger", opentelemetry: { service: "jaeger-collector.istio-system.svc.cluster.local", port: 4317 } }] });
        }
        const telemetry = await unwrap(result.exports!.telemetry as { ui: Record<string, pulumi.Output<{ portForward: string; url: string; login?: string }>> });
        expect(Object.fromEntries(Object.entries(telemetry.ui).map(([k, v]) => [k, v.portForward]))).to.deep.equal({
            prometheus: "kubectl -n istio-system port-forward svc/prometheus 9090:9090",
            grafana: "kubectl -n istio-system port-forward svc/grafana 3000:3000",
            kiali: "kubectl -n istio-system port-forward svc/kiali 20001:20001",
            jaeger: "kubectl -n istio-system port-forward svc/tracing 16686:80",
        });
        expect(Object.keys(telemetry.ui).filter((k) => telemetry.ui[k].login !== undefined)).to.deep.equal(["grafana", "kiali"]);
        expect(mocks.ofType("kubernetes:networking.k8s.io/v1:NetworkPolicy")).to.have.length(4);
        validateManifests(mocks.ofType(TELEMETRY));
    });

    it("sets access logging alone without installing any add-on", async () => {
        await run("dev", { telemetryAccessLogging: "true" });
        expect(mocks.ofType(GROUP)).to.deep.equal([]);
        expect(mocks.find(TELEMETRY, "telemetry-default").inputs.spec).to.deep.equal({ accessLogging: [{ providers: [{ name: "envoy" }], disabled: false }] });
    });
});
