/**
 * The Istio components under Pulumi mocks: chart sources and values, namespaces, dependencies, the gateway's
 * selector and ports, and mesh-wide mTLS, with every manifest validated against its schema.
 */
import * as k8s from "@pulumi/kubernetes";
import { expect } from "chai";
import { IstioBase } from "../../components/istio/base";
import { chartReleaseArgs, compatibilityValues } from "../../components/istio/chart";
import { IstioControlPlane } from "../../components/istio/controlPlane";
import { IstioDefaultValidator } from "../../components/istio/defaultValidator";
import { GATEWAY_RELEASE_NAME, IstioIngressGateway } from "../../components/istio/ingressGateway";
import { MeshMtls } from "../../components/istio/meshMtls";
import { LB_ADDRESS, Recorder, Registered, dependenciesOf, mocks, unwrap, useMocks } from "../support/harness";
import { isManifest, validateManifests } from "../support/validate";

const charts = { repository: "https://blob.istio.io/istio-release/charts", version: "1.30.3" };
const RELEASE = "kubernetes:helm.sh/v3:Release";
const VWC = "kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration";

/** The gateway chart's rule for its pods' selector labels (templates/_helpers.tpl, `gateway.selectorLabels`). */
function gatewayChartSelector(releaseName: string, values: { labels?: Record<string, string> }): Record<string, string> {
    return {
        app: values.labels?.app ?? releaseName,
        istio: values.labels?.istio ?? releaseName.replace(/^istio-/, ""),
    };
}

async function mesh(recorder: Recorder, controlPlane: Partial<ConstructorParameters<typeof IstioControlPlane>[1]> = {}, serviceType?: "LoadBalancer" | "NodePort") {
    const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
    const base = new IstioBase("istio", { provider, charts }, recorder.opts());
    const cp = new IstioControlPlane("istio", { provider, charts, base, ...controlPlane }, recorder.opts());
    const gateway = new IstioIngressGateway("istio", { provider, charts, injection: cp.injection, serviceType }, recorder.opts());
    const validator = new IstioDefaultValidator("istio", { provider, controlPlane: cp }, recorder.opts());
    const mtls = new MeshMtls("mesh", { provider, validation: validator.validation }, recorder.opts());
    await recorder.settle();
    return { provider, base, cp, validator, gateway, mtls, providerRef: `${await unwrap(provider.urn)}::${await unwrap(provider.id)}` };
}

describe("Istio charts", () => {
    it("come from an HTTPS repository, an OCI registry or a local directory", () => {
        expect(chartReleaseArgs("istiod", charts)).to.deep.equal({ chart: "istiod", version: "1.30.3", repositoryOpts: { repo: charts.repository } });
        expect(chartReleaseArgs("base", { repository: "oci://ghcr.io/istio/release/charts/", version: "1.31.1" }))
            .to.deep.equal({ chart: "oci://ghcr.io/istio/release/charts/base", version: "1.31.1" });
        expect(chartReleaseArgs("gateway", { repository: "./charts", version: "1.30.3" })).to.deep.equal({ chart: "./charts/gateway" });
        expect(chartReleaseArgs("gateway", { repository: "/srv/istio-charts/", version: "1.30.3" })).to.deep.equal({ chart: "/srv/istio-charts/gateway" });
    });
});

describe("Istio components", () => {
    before(() => useMocks());
    beforeEach(() => mocks.reset());

    it("install base → istiod → gateway as Helm releases chained by dependencies", async () => {
        const recorder = new Recorder();
        const { base, cp, gateway, providerRef } = await mesh(recorder);

        const baseRelease = mocks.find(RELEASE, "istio-istio-base");
        expect(baseRelease.inputs).to.deep.include({ name: "istio-base", namespace: "istio-system", chart: "base", version: "1.30.3", repositoryOpts: { repo: charts.repository } });
        // The chart's own default validator would call an istiod not installed yet; IstioDefaultValidator's waits.
        expect(baseRelease.inputs.values).to.deep.equal({ defaultRevision: "" });
        const istiod = mocks.find(RELEASE, "istio-istiod");
        expect(istiod.inputs).to.deep.include({ name: "istiod", namespace: "istio-system", chart: "istiod", version: "1.30.3" });
        const gatewayRelease = mocks.find(RELEASE, "istio-gateway");
        expect(gatewayRelease.inputs).to.deep.include({ name: GATEWAY_RELEASE_NAME, namespace: "istio-ingress", chart: "gateway", version: "1.30.3" });
        expect(mocks.find("kubernetes:core/v1:Namespace", "istio-istio-system").inputs.metadata).to.deep.equal({ name: "istio-system", annotations: { "pks-istio-mesh/stack": "pks-istio-mesh/test" } });
        expect(mocks.find("kubernetes:core/v1:Namespace", "istio-namespace").inputs.metadata).to.deep.equal({ name: "istio-ingress", annotations: { "pks-istio-mesh/stack": "pks-istio-mesh/test" } });

        expect(recorder.explicitDependencies(RELEASE, "istio-istiod")).to.deep.equal([base.release]);
        expect(recorder.explicitDependencies(RELEASE, "istio-gateway")).to.deep.equal([cp.release]);
        expect(await dependenciesOf(recorder.find(RELEASE, "istio-istio-base"))).to.include(base.namespace);

        for (const r of mocks.registered.filter((r) => r.custom && !r.type.startsWith("pulumi:providers:"))) {
            expect(r.provider, `${r.type} ${r.name} uses the explicit provider`).to.equal(providerRef);
        }
        expect(await unwrap(gateway.release.urn)).to.match(/pks-istio-mesh:istio:IstioIngressGateway\$kubernetes:helm.sh\/v3:Release::istio-gateway$/);
        expect(await unwrap(cp.release.urn)).to.match(/pks-istio-mesh:istio:IstioControlPlane\$kubernetes:helm.sh\/v3:Release::istio-istiod$/);
        expect(await unwrap(base.release.urn)).to.match(/pks-istio-mesh:istio:IstioBase\$kubernetes:helm.sh\/v3:Release::istio-istio-base$/);
    });

    it("gives istiod replicas, resources, hub and revision per stack", async () => {
        const recorder2 = new Recorder();
        const { cp: canaryPlane } = await mesh(recorder2, {
            revision: "canary", imageHub: "harbor.example.com/istio", replicas: 2,
            resources: { requests: { cpu: "1", memory: "2Gi" } },
        });
        const istiod = mocks.find(RELEASE, "istio-istiod");
        expect(istiod.inputs.name).to.equal("istiod-canary");
        expect(istiod.inputs.values).to.deep.equal({
            autoscaleEnabled: true, autoscaleMin: 2, autoscaleMax: 5, revision: "canary",
            global: { hub: "harbor.example.com/istio" }, resources: { requests: { cpu: "1", memory: "2Gi" } },
        });

        // The istiod chart leaves the replica count to its autoscaler (HPA autoscaleMin..autoscaleMax) and creates
        // its PodDisruptionBudget only when autoscaleMin > 1.
        expect((istiod.inputs.values as { autoscaleMin: number }).autoscaleMin).to.be.greaterThan(1);
        expect(mocks.find(RELEASE, "istio-istio-base").inputs.values).to.deep.equal({ defaultRevision: "" });
        const validator = mocks.find(VWC, "istio-webhook");
        // istiod finds the webhooks it serves by their istio.io/rev label.
        expect((validator.inputs.metadata as { name: string; labels: Record<string, string> }).name).to.equal("istiod-default-validator");
        expect((validator.inputs.metadata as { labels: Record<string, string> }).labels).to.include({ "istio.io/rev": "canary" });
        expect((validator.inputs.webhooks as Array<{ clientConfig: unknown }>)[0].clientConfig)
            .to.deep.equal({ service: { name: "istiod-canary", namespace: "istio-system", path: "/validate" } });
        expect(recorder2.explicitDependencies(VWC, "istio-webhook")).to.deep.equal([canaryPlane.release]);
        expect((mocks.find(RELEASE, "istio-gateway").inputs.values as { revision: string }).revision).to.equal("canary");
    });

    it("pulls Istio's images from docker.io/istio unless imageHub says otherwise, and keeps an earlier minor's behaviour on request", async () => {
        await mesh(new Recorder(), { charts: { ...charts, version: "1.31.1", compatibilityVersion: "1.30" } });
        // Releases from 1.31 on are published only there (the charts of 1.30 name registry.istio.io/release).
        const values = mocks.find(RELEASE, "istio-istiod").inputs.values as { global: unknown; compatibilityVersion?: string };
        expect(values.global).to.deep.equal({ hub: "docker.io/istio" });
        // Only charts newer than the kept minor get it: a chart has profiles for the minors before its own only.
        expect(values.compatibilityVersion).to.equal("1.30");
        expect(mocks.find(RELEASE, "istio-istio-base").inputs.values).to.deep.equal({ defaultRevision: "" });
        expect(compatibilityValues({ ...charts, compatibilityVersion: "1.30" })).to.deep.equal({});
        expect(compatibilityValues({ ...charts, version: "1.31.0-rc.0", compatibilityVersion: "1.30" })).to.deep.equal({ compatibilityVersion: "1.30" });
    });

    it("creates the default validator failing open and leaves to istiod what istiod owns, as upstream's default tag does", async () => {
        const recorder = new Recorder();
        await mesh(recorder);
        const webhook = (mocks.find(VWC, "istio-webhook").inputs.webhooks as Array<Record<string, unknown>>)[0];
        // Until istiod has written its CA in, the API server cannot call it: failing open then admits the object
        // (unvalidated) instead of refusing it; istiod switches the webhook to Fail itself.
        expect(webhook.failurePolicy).to.equal("Ignore");
        expect(webhook.clientConfig).to.not.have.nested.property("caBundle");
        // Objects labelled for a revision are that revision's own validator's, during a canary too.
        expect(webhook.objectSelector).to.deep.equal({ matchExpressions: [{ key: "istio.io/rev", operator: "DoesNotExist" }] });
        // A later update never takes back what istiod wrote: no diff on those fields, not even after a refresh.
        const declared = recorder.find(VWC, "istio-webhook");
        expect(declared.opts.ignoreChanges).to.have.members(["webhooks[*].failurePolicy", "webhooks[*].clientConfig.caBundle"]);
    });

    it("labels injection for the default revision and for a named one, and names its control plane for workloads", async () => {
        const { cp } = await mesh(new Recorder());
        expect(cp.injection).to.deep.include({
            selector: undefined, namespaceLabels: { "istio-injection": "enabled" }, podLabels: { "sidecar.istio.io/inject": "true" },
            workloadAnnotations: { "pks-istio-mesh/control-plane": "istiod@1.30.3" },
        });
        expect(cp.injection.readyBefore).to.deep.equal([cp.release]);
        mocks.reset();
        const { cp: canary } = await mesh(new Recorder(), { revision: "canary" });
        expect(canary.injection).to.deep.include({
            selector: "canary", namespaceLabels: { "istio.io/rev": "canary" }, podLabels: { "istio.io/rev": "canary" },
            workloadAnnotations: { "pks-istio-mesh/control-plane": "istiod-canary@1.30.3" },
        });
    });

    it("exposes a gateway whose pod labels and HTTP port are what the chart really renders", async () => {
        const { gateway } = await mesh(new Recorder());
        const release = mocks.find(RELEASE, "istio-gateway");
        const values = release.inputs.values as { labels: Record<string, string>; service: { type: string; ports: Array<{ name: string; port: number; targetPort: number }> } };
        const podLabels = gatewayChartSelector(release.inputs.name as string, values);
        for (const [k, v] of Object.entries(gateway.selector)) {
            expect(podLabels[k], `gateway pods carry ${k}=${v}`).to.equal(v);
        }
        expect(values.service.type).to.equal("LoadBalancer");
        const http = values.service.ports.find((p) => p.port === gateway.httpPort);
        expect(http, "the HTTP port is a port of the gateway Service").to.deep.include({ name: "http2", port: 80, targetPort: 80 });
        expect(values.service.ports.map((p) => p.port)).to.not.include(8080);

        const read = mocks.find("kubernetes:core/v1:Service", "istio-service");
        expect(read.id).to.equal(`istio-ingress/${GATEWAY_RELEASE_NAME}`);
        expect(await unwrap(gateway.address)).to.equal(LB_ADDRESS);
    });

    it("reports a load balancer that gives a hostname instead of an IP", async () => {
        mocks.loadBalancerIngress = { hostname: "istio-gw.lb.example.com" };
        const { gateway } = await mesh(new Recorder());
        expect(await unwrap(gateway.address)).to.equal("istio-gw.lb.example.com");
    });

    it("reports no address while the load balancer has none", async () => {
        mocks.loadBalancerIngress = {};
        const { gateway } = await mesh(new Recorder());
        expect(await unwrap(gateway.address)).to.equal(undefined);
    });

    it("can expose the gateway as a NodePort", async () => {
        await mesh(new Recorder(), {}, "NodePort");
        expect((mocks.find(RELEASE, "istio-gateway").inputs.values as { service: { type: string } }).service.type).to.equal("NodePort");
    });

    it("enforces mesh-wide mutual TLS with the default PeerAuthentication in the root namespace", async () => {
        const recorder = new Recorder();
        const { cp, validator } = await mesh(recorder);
        const pa = mocks.find("kubernetes:security.istio.io/v1:PeerAuthentication", "mesh-default");
        expect(pa.inputs).to.deep.equal({
            apiVersion: "security.istio.io/v1", kind: "PeerAuthentication",
            metadata: { name: "default", namespace: "istio-system" }, spec: { mtls: { mode: "STRICT" } },
        });
        // istiod's validation webhook, not only the CRDs, must be there first.
        expect(recorder.explicitDependencies("kubernetes:security.istio.io/v1:PeerAuthentication", "mesh-default")).to.deep.equal([cp.release, validator.webhook]);

        mocks.reset();
        const provider = new k8s.Provider("k8s2", { kubeconfig: "{}" });
        new MeshMtls("permissive", { provider, validation: new IstioDefaultValidator("permissive", { provider, controlPlane: cp }).validation, mode: "PERMISSIVE" });
        await new Recorder().settle();
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect((mocks.find("kubernetes:security.istio.io/v1:PeerAuthentication", "permissive-default").inputs.spec as { mtls: { mode: string } }).mtls.mode).to.equal("PERMISSIVE");
    });

    it("produces manifests that pass the Kubernetes and Istio schemas", async () => {
        await mesh(new Recorder());
        const manifests = mocks.registered.filter((r: Registered) => isManifest(r) && r.id === undefined);
        expect(manifests.map((m) => m.type).sort()).to.deep.equal([
            "kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration",
            "kubernetes:core/v1:Namespace", "kubernetes:core/v1:Namespace", "kubernetes:security.istio.io/v1:PeerAuthentication",
        ]);
        validateManifests(manifests);
    });
});
