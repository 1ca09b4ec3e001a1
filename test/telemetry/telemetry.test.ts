/**
 * The telemetry add-ons and the mesh's Telemetry under Pulumi mocks, against Istio 1.30.3's own add-on manifests
 * (its samples/addons, from the upstream snapshot): which files, the
 * images moved to a mirror registry, the UIs' port-forwards, the add-on component (verified and hardened objects,
 * its NetworkPolicy and generated Secret first), the Telemetry API spec and the mesh's extension provider, valid
 * against Istio's CRDs. Verification and hardening themselves: verification.test.ts, hardening.test.ts.
 */
import * as k8s from "@pulumi/kubernetes";
import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { IstioBase } from "../../components/istio/base";
import { IstioControlPlane } from "../../components/istio/controlPlane";
import { IstioDefaultValidator } from "../../components/istio/defaultValidator";
import { meshConfigOf } from "../../components/istio/meshSettings";
import {
    ManifestObject, TELEMETRY_ADDONS, TelemetryAddonName, addonUi, imagesOf, manifestLocation, parseManifest, publishedAddons, rehost,
    telemetryAddonsOf, withImageHub,
} from "../../components/telemetry/manifests";
import { PINNED_ADDON_SHA256, loadAddon, manifestPin } from "../../components/telemetry/verification";
import { addonNetworkPolicy, hardenAddon } from "../../components/telemetry/hardening";
import { MeshTelemetry, tracingExtensionProvider } from "../../components/telemetry/meshTelemetry";
import { TelemetryAddon } from "../../components/telemetry/telemetryAddon";
import { Recorder, isSecretValue, mocks, unwrap, useMocks } from "../support/harness";
import { validateManifests } from "../support/validate";
import { istioAddons } from "../support/upstream";

const ADDONS = istioAddons("1.30.3");
const charts = { repository: "https://blob.istio.io/istio-release/charts", version: "1.30.3" };
const HUB = "harbor.example.com/mirror";

/** The images Istio 1.30.3's samples/addons run. */
const UPSTREAM_IMAGES: Record<TelemetryAddonName, string[]> = {
    prometheus: ["ghcr.io/prometheus-operator/prometheus-config-reloader:v0.89.0", "docker.io/prom/prometheus:v3.10.0"],
    grafana: ["docker.io/grafana/grafana:12.0.1"],
    kiali: ["quay.io/kiali/kiali:v2.26"],
    jaeger: ["docker.io/jaegertracing/jaeger:2.14.0"],
};

const read = async (addon: TelemetryAddonName) => loadAddon(addon, ADDONS, manifestPin(addon, "1.30.3"));

describe("telemetry add-on manifests", () => {
    it("are the add-ons the settings turn on, in installation order", () => {
        expect(telemetryAddonsOf({ prometheus: true, grafana: true, kiali: true, tracing: "jaeger" })).to.deep.equal(["prometheus", "grafana", "kiali", "jaeger"]);
        expect(telemetryAddonsOf({ prometheus: false, grafana: false, kiali: false, tracing: "jaeger" })).to.deep.equal(["jaeger"]);
        expect(telemetryAddonsOf({ prometheus: false, grafana: false, kiali: false, tracing: "none" })).to.deep.equal([]);
    });

    it("come from Istio's published samples of the release, a mirror, or a local directory", () => {
        expect(publishedAddons("1.30.3")).to.equal("https://raw.githubusercontent.com/istio/istio/1.30.3/samples/addons");
        expect(manifestLocation(publishedAddons("1.30.3"), "kiali.yaml")).to.equal("https://raw.githubusercontent.com/istio/istio/1.30.3/samples/addons/kiali.yaml");
        expect(manifestLocation("https://mirror.example.com/istio/1.30.3/addons//", "jaeger.yaml")).to.equal("https://mirror.example.com/istio/1.30.3/addons/jaeger.yaml");
        expect(manifestLocation("/srv/addons", "grafana.yaml")).to.equal("/srv/addons/grafana.yaml");
        expect(manifestLocation("./addons", "grafana.yaml")).to.equal(path.resolve("addons", "grafana.yaml"));
    });

    it("name the images of Istio 1.30.3's add-ons", async () => {
        for (const addon of Object.keys(TELEMETRY_ADDONS) as TelemetryAddonName[]) {
            expect(imagesOf(await read(addon)), addon).to.deep.equal(UPSTREAM_IMAGES[addon]);
        }
    });

    it("move every image to the mirror registry, keeping repository and tag", async () => {
        expect(rehost("docker.io/prom/prometheus:v3.10.0", HUB)).to.equal(`${HUB}/prom/prometheus:v3.10.0`);
        expect(rehost("quay.io/kiali/kiali:v2.26", `${HUB}/`)).to.equal(`${HUB}/kiali/kiali:v2.26`);
        expect(rehost("localhost:5000/team/app@sha256:abc", HUB)).to.equal(`${HUB}/team/app@sha256:abc`);
        expect(rehost("localhost/app:1", HUB)).to.equal(`${HUB}/app:1`);
        // No registry part: Docker Hub's short names keep their path.
        expect(rehost("grafana/grafana:12.0.1", HUB)).to.equal(`${HUB}/grafana/grafana:12.0.1`);
        expect(rehost("busybox", HUB)).to.equal(`${HUB}/busybox`);

        const prometheus = await read("prometheus");
        const moved = withImageHub(prometheus, HUB);
        expect(imagesOf(moved)).to.deep.equal([`${HUB}/prometheus-operator/prometheus-config-reloader:v0.89.0`, `${HUB}/prom/prometheus:v3.10.0`]);
        expect(imagesOf(prometheus), "the input is left alone").to.deep.equal(UPSTREAM_IMAGES.prometheus);
        expect(imagesOf(withImageHub(prometheus, undefined))).to.deep.equal(UPSTREAM_IMAGES.prometheus);
        // Every kind that runs pods.
        const pod = (kind: string, spec: unknown): ManifestObject => ({ apiVersion: "v1", kind, metadata: { name: kind }, spec });
        const containers = { initContainers: [{ image: "docker.io/a/init:1" }], containers: [{ image: "docker.io/a/main:1" }] };
        const objects = [pod("Pod", containers), pod("StatefulSet", { template: { spec: containers } }), pod("CronJob", { jobTemplate: { spec: { template: { spec: containers } } } })];
        expect(imagesOf(withImageHub(objects, HUB))).to.deep.equal(Array(3).fill([`${HUB}/a/init:1`, `${HUB}/a/main:1`]).flat());
    });

    it("say how to open each UI", async () => {
        const ui = async (addon: TelemetryAddonName) => addonUi(await read(addon), TELEMETRY_ADDONS[addon], addon);
        expect(await ui("prometheus")).to.deep.equal({ service: "istio-system/prometheus", portForward: "kubectl -n istio-system port-forward svc/prometheus 9090:9090", url: "http://localhost:9090/" });
        expect(await ui("grafana")).to.deep.equal({ service: "istio-system/grafana", portForward: "kubectl -n istio-system port-forward svc/grafana 3000:3000", url: "http://localhost:3000/" });
        expect(await ui("kiali")).to.deep.equal({ service: "istio-system/kiali", portForward: "kubectl -n istio-system port-forward svc/kiali 20001:20001", url: "http://localhost:20001/kiali" });
        expect(await ui("jaeger")).to.deep.equal({ service: "istio-system/tracing", portForward: "kubectl -n istio-system port-forward svc/tracing 16686:80", url: "http://localhost:16686/jaeger" });
        expect(() => addonUi([], TELEMETRY_ADDONS.kiali, "kiali.yaml")).to.throw("kiali.yaml has no Service kiali");
    });

    it("fail clearly on broken YAML, or a Jaeger without the collector, even one the user pinned", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "addons-"));
        const failure = async (promise: Promise<unknown>) => promise.then(() => "no error", (e: Error) => e.message);
        expect(() => parseManifest("kind: [", "x.yaml")).to.throw("x.yaml is not valid YAML");
        expect(() => parseManifest("---\nfoo: bar\n", "x.yaml")).to.throw("x.yaml has a document that is not a Kubernetes object");
        expect(parseManifest("---\n# nothing\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n", "x.yaml")).to.have.length(1);
        const jaeger = fs.readFileSync(path.join(ADDONS, "jaeger.yaml"), "utf8").replace(/- port: 4317\n/, "- port: 4318\n");
        fs.writeFileSync(path.join(dir, "jaeger.yaml"), jaeger);
        const userPin = manifestPin("jaeger", "1.30.3", crypto.createHash("sha256").update(jaeger).digest("hex"));
        expect(await failure(loadAddon("jaeger", dir, userPin))).to.equal(`${path.join(dir, "jaeger.yaml")}: Service jaeger-collector has no port 4317, where the mesh's tracing provider sends spans`);
        expect(await read("jaeger")).to.have.length(5);
    });
});

async function controlPlane() {
    const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
    const base = new IstioBase("istio", { provider, charts });
    const cp = new IstioControlPlane("istio", { provider, charts, base });
    return { provider, controlPlane: cp, validator: new IstioDefaultValidator("istio", { provider, controlPlane: cp }) };
}

describe("TelemetryAddon", () => {
    before(() => useMocks());
    beforeEach(() => mocks.reset());

    const GROUP = "kubernetes:yaml/v2:ConfigGroup";
    const POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy";
    const SECRET = "kubernetes:core/v1:Secret";

    it("applies the verified, hardened manifest as a ConfigGroup in istio-system after istiod, its NetworkPolicy and its Secret", async () => {
        const recorder = new Recorder();
        const { provider, controlPlane: cp } = await controlPlane();
        const kiali = new TelemetryAddon("telemetry-kiali", { provider, controlPlane: cp, addon: "kiali", source: ADDONS, istioVersion: "1.30.3", imageHub: HUB }, recorder.opts());
        await recorder.settle();
        const objs = mocks.find(GROUP, "telemetry-kiali").inputs.objs as ManifestObject[];
        expect(objs.map((o) => `${o.kind}/${o.metadata.name}`)).to.deep.equal(["ServiceAccount/kiali", "ConfigMap/kiali", "ClusterRole/kiali", "ClusterRoleBinding/kiali", "Service/kiali", "Deployment/kiali"]);
        expect(objs).to.deep.equal(withImageHub(hardenAddon("kiali", await read("kiali"), kiali.location), HUB));
        expect(imagesOf(objs)).to.deep.equal([`${HUB}/kiali/kiali:v2.26`]);
        expect(kiali.sha256).to.equal(PINNED_ADDON_SHA256["1.30.3"].kiali);

        const policy = mocks.find(POLICY, "telemetry-kiali").inputs;
        expect(policy.metadata).to.deep.equal({ name: "kiali", namespace: "istio-system" });
        expect(policy.spec).to.deep.equal(addonNetworkPolicy("kiali"));
        const secret = mocks.find(SECRET, "telemetry-kiali-kiali-login-token-signing-key");
        expect(secret.inputs.metadata).to.deep.equal({ name: "kiali-login-token-signing-key", namespace: "istio-system" });
        expect(Buffer.from((secret.inputs.data as Record<string, string>)["value.txt"], "base64").toString()).to.match(/^[A-Za-z0-9_-]{32}$/);
        expect(isSecretValue(secret.rawInputs.data), "the key is a Pulumi secret").to.equal(true);
        expect(recorder.find(SECRET, "telemetry-kiali-kiali-login-token-signing-key").opts.ignoreChanges, "generated once, then kept").to.deep.equal(["data"]);
        expect(recorder.explicitDependencies(GROUP, "telemetry-kiali")).to.deep.equal([cp.release, kiali.networkPolicy, kiali.secret]);
        expect(recorder.explicitDependencies(POLICY, "telemetry-kiali")).to.deep.equal([cp.release]);

        expect(kiali.location).to.equal(path.join(ADDONS, "kiali.yaml"));
        expect(await unwrap(kiali.images)).to.deep.equal([`${HUB}/kiali/kiali:v2.26`]);
        expect(await unwrap(kiali.ui)).to.deep.include({ portForward: "kubectl -n istio-system port-forward svc/kiali 20001:20001", login: "token: kubectl -n istio-system create token kiali" });
    });

    it("generates Grafana's admin password, and no Secret for Prometheus or Jaeger", async () => {
        const recorder = new Recorder();
        const { provider, controlPlane: cp } = await controlPlane();
        for (const addon of ["prometheus", "grafana", "jaeger"] as const) {
            new TelemetryAddon(`telemetry-${addon}`, { provider, controlPlane: cp, addon, source: ADDONS, istioVersion: "1.30.3" }, recorder.opts());
        }
        await recorder.settle();
        expect(mocks.ofType(SECRET).map((r) => `${r.name}: ${Object.keys(r.inputs.data as object).join()}`)).to.deep.equal(["telemetry-grafana-grafana-admin: admin-password"]);
        expect(mocks.ofType(POLICY).map((r) => (r.inputs.metadata as { name: string }).name)).to.have.members(["prometheus", "grafana", "jaeger"]);
        expect(imagesOf(mocks.find(GROUP, "telemetry-prometheus").inputs.objs as ManifestObject[]), "without the config reloader").to.deep.equal(["docker.io/prom/prometheus:v3.10.0"]);
    });

    it("reads Istio's published samples of a pinned release when no source is given, and takes the user's pin for any other", async () => {
        const { provider, controlPlane: cp } = await controlPlane();
        const published = new TelemetryAddon("telemetry-grafana", { provider, controlPlane: cp, addon: "grafana", istioVersion: "1.31.0-rc.0" });
        expect(published.location).to.equal("https://raw.githubusercontent.com/istio/istio/1.31.0-rc.0/samples/addons/grafana.yaml");
        expect(published.sha256).to.equal(PINNED_ADDON_SHA256["1.31.0-rc.0"].grafana);
        expect(() => new TelemetryAddon("telemetry-jaeger", { provider, controlPlane: cp, addon: "jaeger", source: ADDONS, istioVersion: "1.29.6" }))
            .to.throw("telemetryAddonsSha256 has no sha256 for jaeger.yaml of Istio 1.29.6");
        const pinned = new TelemetryAddon("telemetry-jaeger", { provider, controlPlane: cp, addon: "jaeger", source: ADDONS, istioVersion: "1.29.6", sha256: PINNED_ADDON_SHA256["1.30.3"].jaeger });
        expect(await unwrap(pinned.objects)).to.deep.equal(await read("jaeger"));
    });
});

describe("MeshTelemetry", () => {
    before(() => useMocks());
    beforeEach(() => mocks.reset());

    const TELEMETRY = "kubernetes:telemetry.istio.io/v1:Telemetry";

    it("sets metrics, tracing and access logging mesh-wide with the Telemetry API", async () => {
        const recorder = new Recorder();
        const { provider, controlPlane: cp, validator } = await controlPlane();
        new MeshTelemetry("telemetry", { provider, validation: validator.validation, metrics: true, tracing: { backend: "jaeger", samplingPercentage: 12.5 }, accessLogging: true }, recorder.opts());
        await recorder.settle();
        expect(mocks.find(TELEMETRY, "telemetry-default").inputs).to.deep.equal({
            apiVersion: "telemetry.istio.io/v1", kind: "Telemetry",
            metadata: { name: "mesh-default", namespace: "istio-system" },
            spec: {
                metrics: [{ providers: [{ name: "prometheus" }] }],
                tracing: [{ providers: [{ name: "jaeger" }], randomSamplingPercentage: 12.5 }],
                accessLogging: [{ providers: [{ name: "envoy" }], disabled: false }],
            },
        });
        expect(recorder.explicitDependencies(TELEMETRY, "telemetry-default")).to.deep.equal([cp.release, validator.webhook]);
    });

    it("turns access logging off explicitly, traces 1% by default, and passes Istio's CRDs", async () => {
        const { provider, validator } = await controlPlane();
        const off = new MeshTelemetry("off", { provider, validation: validator.validation });
        const traced = new MeshTelemetry("traced", { provider, validation: validator.validation, tracing: { backend: "jaeger" } });
        expect(off.spec).to.deep.equal({ accessLogging: [{ providers: [{ name: "envoy" }], disabled: true }] });
        expect(traced.spec.tracing).to.deep.equal([{ providers: [{ name: "jaeger" }], randomSamplingPercentage: 1 }]);
        await new Recorder().settle();
        await new Promise((resolve) => setTimeout(resolve, 50));
        validateManifests(mocks.ofType(TELEMETRY));
        expect(mocks.ofType(TELEMETRY)).to.have.length(2);
    });

    it("names a tracing provider that the mesh configuration defines, pointing at Jaeger's OTLP collector", () => {
        expect(tracingExtensionProvider("jaeger")).to.deep.equal({ name: "jaeger", opentelemetry: { service: "jaeger-collector.istio-system.svc.cluster.local", port: 4317 } });
        expect(meshConfigOf({ trustDomain: "cluster.local" })).to.equal(undefined);
        expect(meshConfigOf({ trustDomain: "cluster.local", tracingProvider: tracingExtensionProvider("jaeger") })).to.deep.equal({ extensionProviders: [tracingExtensionProvider("jaeger")] });
        expect(meshConfigOf({ trustDomain: "mesh.example.com" })).to.deep.equal({ trustDomain: "mesh.example.com" });
    });
});
