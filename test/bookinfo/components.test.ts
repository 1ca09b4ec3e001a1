/**
 * The Bookinfo components under Pulumi mocks: every object of Istio 1.30's sample, injection per mode, the
 * Gateway's agreement with the gateway Service, the mTLS DestinationRules, dependencies, and schema validity.
 */
import * as k8s from "@pulumi/kubernetes";
import { expect } from "chai";
import { BookinfoApp, BookinfoAppArgs } from "../../components/bookinfo/app";
import { BookinfoDestinationRules } from "../../components/bookinfo/destinationRules";
import { BookinfoIngress } from "../../components/bookinfo/ingress";
import { IstioBase } from "../../components/istio/base";
import { IstioControlPlane } from "../../components/istio/controlPlane";
import { IstioDefaultValidator } from "../../components/istio/defaultValidator";
import { IstioIngressGateway } from "../../components/istio/ingressGateway";
import { LB_ADDRESS, Recorder, Registered, dependenciesOf, isSecretValue, mocks, unwrap, useMocks } from "../support/harness";
import { isManifest, validateManifest, validateManifests } from "../support/validate";

const charts = { repository: "https://blob.istio.io/istio-release/charts", version: "1.30.3" };
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const SERVICE = "kubernetes:core/v1:Service";
const SA = "kubernetes:core/v1:ServiceAccount";
const NAMESPACE = "kubernetes:core/v1:Namespace";
/** The exact field manager of the program's label patches (stack "test"). */
const OWN_PATCH = { "pulumi.com/patchFieldManager": "pks-istio-mesh/test" };
/** The mark of a namespace the program creates (project pks-istio-mesh, stack "test"). */
const OWN_NAMESPACE = { "pks-istio-mesh/stack": "pks-istio-mesh/test" };
const GATEWAY = "kubernetes:networking.istio.io/v1:Gateway";
const VIRTUAL_SERVICE = "kubernetes:networking.istio.io/v1:VirtualService";
const DESTINATION_RULE = "kubernetes:networking.istio.io/v1:DestinationRule";

interface PodTemplate {
    metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
    spec: {
        serviceAccountName: string;
        containers: Array<{ name: string; image: string; imagePullPolicy: string; ports: unknown; env?: unknown; volumeMounts?: unknown }>;
        volumes?: unknown;
    };
}

interface GatewayManifest {
    spec: { selector: Record<string, string>; servers: Array<{ port: { number: number; name: string; protocol: string }; hosts: string[] }> };
}

interface GatewayValues {
    labels?: Record<string, string>;
    service: { ports: Array<{ port: number; targetPort: number }> };
}

/**
 * Whether an Istio Gateway is served by a Helm-installed gateway: its selector must match the pods' labels and
 * each server port must be a port of the gateway Service (istio#50693: 8080 on the Helm chart binds a port no
 * Service port targets, so clients get connection resets).
 */
function gatewayProblems(gateway: GatewayManifest, releaseName: string, values: GatewayValues): string[] {
    const podLabels: Record<string, string> = {
        ...values.labels,
        app: values.labels?.app ?? releaseName,
        istio: values.labels?.istio ?? releaseName.replace(/^istio-/, ""),
    };
    const problems: string[] = [];
    for (const [k, v] of Object.entries(gateway.spec.selector)) {
        if (podLabels[k] !== v) {
            problems.push(`selector ${k}=${v} matches no gateway pod (pods have ${k}=${podLabels[k]})`);
        }
    }
    for (const server of gateway.spec.servers) {
        if (!values.service.ports.some((p) => p.port === server.port.number)) {
            problems.push(`server port ${server.port.number} is not a port of the gateway Service (${values.service.ports.map((p) => p.port).join(", ")})`);
        }
    }
    return problems;
}

async function deploy(recorder: Recorder, app: Partial<BookinfoAppArgs> = {}, revision?: string, mtls?: boolean) {
    const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
    const base = new IstioBase("istio", { provider, charts });
    const controlPlane = new IstioControlPlane("istio", { provider, charts, base, revision });
    const gateway = new IstioIngressGateway("istio", { provider, charts, injection: controlPlane.injection });
    const { validation } = new IstioDefaultValidator("istio", { provider, controlPlane });
    const bookinfo = new BookinfoApp("bookinfo", { provider, injection: controlPlane.injection, ...app }, recorder.opts());
    const ingress = new BookinfoIngress("bookinfo", { provider, validation, gateway, namespace: bookinfo.namespaceName }, recorder.opts());
    const rules = new BookinfoDestinationRules("bookinfo", { provider, validation, namespace: bookinfo.namespaceName, mtls }, recorder.opts());
    await recorder.settle();
    await unwrap(gateway.address);
    return { provider, controlPlane, gateway, bookinfo, ingress, rules };
}

const deployments = () => mocks.ofType(DEPLOYMENT);
const template = (r: Registered) => (r.inputs.spec as { template: PodTemplate }).template;

describe("BookinfoApp", () => {
    before(() => useMocks());
    beforeEach(() => mocks.reset());

    it("declares the upstream 1.30 sample: 4 Services, 4 ServiceAccounts, 6 Deployments", async () => {
        await deploy(new Recorder());
        expect(mocks.ofType(SERVICE).filter((s) => !s.id).map((s) => s.inputs.metadata)).to.have.deep.members(
            ["details", "ratings", "reviews", "productpage"].map((app) => ({ name: app, namespace: "bookinfo", labels: { app, service: app } })));
        for (const svc of mocks.ofType(SERVICE).filter((s) => !s.id)) {
            const spec = svc.inputs.spec as { ports: unknown; selector: unknown };
            expect(spec).to.deep.equal({ ports: [{ port: 9080, name: "http" }], selector: { app: (svc.inputs.metadata as { name: string }).name } });
        }
        expect(mocks.ofType(SA).map((s) => s.inputs.metadata)).to.have.deep.members(
            ["details", "ratings", "reviews", "productpage"].map((app) => ({ name: `bookinfo-${app}`, namespace: "bookinfo", labels: { account: app } })));

        expect(deployments().map((d) => (d.inputs.metadata as { name: string }).name)).to.have.members(
            ["details-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3", "productpage-v1"]);
        for (const d of deployments()) {
            const [app, version] = (d.inputs.metadata as { name: string }).name.split("-");
            const spec = d.inputs.spec as { replicas: number; selector: unknown; template: PodTemplate };
            expect(d.inputs.metadata).to.deep.include({ namespace: "bookinfo", labels: { app, version } });
            expect(spec.replicas).to.equal(1);
            expect(spec.selector).to.deep.equal({ matchLabels: { app, version } });
            expect(spec.template.metadata.labels).to.deep.equal({ app, version });
            expect(spec.template.spec.serviceAccountName).to.equal(`bookinfo-${app}`);
            const [container] = spec.template.spec.containers;
            expect(container).to.deep.include({
                name: app, image: `docker.io/istio/examples-bookinfo-${app}-${version}:1.20.3`,
                imagePullPolicy: "IfNotPresent", ports: [{ containerPort: 9080 }],
            });
        }
    });

    it("keeps the reviews log directory and volumes, and the productpage metrics annotations", async () => {
        await deploy(new Recorder());
        for (const name of ["reviews-v1", "reviews-v2", "reviews-v3"]) {
            const t = template(mocks.find(DEPLOYMENT, `bookinfo-${name}`));
            expect(t.spec.containers[0].env).to.deep.equal([{ name: "LOG_DIR", value: "/tmp/logs" }]);
            expect(t.spec.containers[0].volumeMounts).to.deep.equal([{ name: "tmp", mountPath: "/tmp" }, { name: "wlp-output", mountPath: "/opt/ibm/wlp/output" }]);
            expect(t.spec.volumes).to.deep.equal([{ name: "wlp-output", emptyDir: {} }, { name: "tmp", emptyDir: {} }]);
            // Only the control plane its sidecar must come from (a new one rolls the pods).
            expect(t.metadata.annotations).to.deep.equal({ "pks-istio-mesh/control-plane": "istiod@1.30.3" });
        }
        const productpage = template(mocks.find(DEPLOYMENT, "bookinfo-productpage-v1"));
        expect(productpage.metadata.annotations).to.deep.equal({
            "pks-istio-mesh/control-plane": "istiod@1.30.3", "prometheus.io/scrape": "true", "prometheus.io/port": "9080", "prometheus.io/path": "/metrics",
        });
        expect(productpage.spec.containers[0].volumeMounts).to.deep.equal([{ name: "tmp", mountPath: "/tmp" }]);
        expect(productpage.spec.volumes).to.deep.equal([{ name: "tmp", emptyDir: {} }]);
        expect(productpage.spec.containers[0].env).to.equal(undefined);
        for (const name of ["details-v1", "ratings-v1"]) {
            const t = template(mocks.find(DEPLOYMENT, `bookinfo-${name}`));
            expect(t.spec.volumes).to.equal(undefined);
            expect(t.spec.containers[0].env).to.equal(undefined);
        }
    });

    it("in namespace mode labels the namespace istio-injection=enabled (never the procedure's isito-injection typo)", async () => {
        await deploy(new Recorder());
        expect(mocks.find(NAMESPACE, "bookinfo-namespace").inputs.metadata).to.deep.equal({ name: "bookinfo", labels: { "istio-injection": "enabled" }, annotations: OWN_NAMESPACE });
        for (const d of deployments()) {
            expect(template(d).metadata.labels).to.not.have.any.keys("sidecar.istio.io/inject", "istio.io/rev");
        }
        expect(JSON.stringify(mocks.registered)).to.not.include("isito");
    });

    it("in pod mode labels only Bookinfo's pod templates and leaves the namespace unlabelled", async () => {
        await deploy(new Recorder(), { injectionMode: "pod" });
        expect(mocks.find(NAMESPACE, "bookinfo-namespace").inputs.metadata).to.deep.equal({ name: "bookinfo", labels: {}, annotations: OWN_NAMESPACE });
        for (const d of deployments()) {
            expect(template(d).metadata.labels).to.include({ "sidecar.istio.io/inject": "true" });
        }
    });

    it("uses istio.io/rev labels with a control-plane revision", async () => {
        await deploy(new Recorder(), {}, "canary");
        expect(mocks.find(NAMESPACE, "bookinfo-namespace").inputs.metadata).to.deep.equal({ name: "bookinfo", labels: { "istio.io/rev": "canary" }, annotations: OWN_NAMESPACE });
        mocks.reset();
        await deploy(new Recorder(), { injectionMode: "pod" }, "canary");
        for (const d of deployments()) {
            expect(template(d).metadata.labels).to.include({ "istio.io/rev": "canary" });
        }
    });

    it("uses an existing namespace without owning it: only the injection label is patched on", async () => {
        await deploy(new Recorder(), { namespace: "default", createNamespace: false });
        expect(mocks.ofType(NAMESPACE).map((n) => n.name)).to.not.include("bookinfo-namespace");
        const patch = mocks.find("kubernetes:core/v1:NamespacePatch", "bookinfo-injection-label");
        expect(patch.inputs.metadata).to.deep.equal({ name: "default", labels: { "istio-injection": "enabled" }, annotations: OWN_PATCH });
        expect(deployments().every((d) => (d.inputs.metadata as { namespace: string }).namespace === "default")).to.equal(true);

        expect(mocks.ofType("command:local:Command"), "nothing to remove for the default revision in namespace mode").to.deep.equal([]);
    });

    it("removes an existing namespace's labels that would block the configured injection, and only those", async () => {
        const kubeconfig = "apiVersion: v1\nkind: Config\n# token: keep-me-secret\n";
        const removal = () => mocks.find("command:local:Command", "bookinfo-blocking-labels");
        const rules = () => JSON.parse((removal().inputs.environment as Record<string, string>).NAMESPACE_LABELS_REMOVE) as Record<string, string | null>;

        // A revision's webhooks select only namespaces without istio-injection, whatever its value.
        const recorder = new Recorder();
        const { bookinfo } = await deploy(recorder, { namespace: "default", createNamespace: false, kubeconfig }, "canary");
        expect(rules()).to.deep.equal({ "istio-injection": null });
        expect(removal().inputs).to.deep.include({ create: "remove", update: "remove", delete: "restore" });
        expect(isSecretValue(removal().rawInputs.environment), "the kubeconfig reaches the engine as a secret").to.equal(true);
        expect(mocks.find("kubernetes:core/v1:NamespacePatch", "bookinfo-injection-label").inputs.metadata).to.deep.equal({ name: "default", labels: { "istio.io/rev": "canary" }, annotations: OWN_PATCH });
        // The label goes before the revision label is set and before any pod is created.
        const removing = recorder.find("command:local:Command", "bookinfo-blocking-labels").resource;
        const labelling = recorder.find("kubernetes:core/v1:NamespacePatch", "bookinfo-injection-label");
        expect(bookinfo.existingNamespace?.labelRemoval).to.not.equal(undefined);
        expect(await dependenciesOf(labelling)).to.include(removing);
        for (const name of Object.keys(bookinfo.deployments)) {
            expect(await dependenciesOf(recorder.find(DEPLOYMENT, `bookinfo-${name}`)), name).to.include(labelling.resource);
        }

        // Pod mode: the object webhooks also need no istio.io/rev of another revision; enabled injection may stay.
        mocks.reset();
        await deploy(new Recorder(), { namespace: "default", createNamespace: false, injectionMode: "pod", kubeconfig });
        expect(rules()).to.deep.equal({ "istio-injection": "enabled", "istio.io/rev": "default" });
        expect(mocks.ofType("kubernetes:core/v1:NamespacePatch")).to.deep.equal([]);
        mocks.reset();
        await deploy(new Recorder(), { namespace: "default", createNamespace: false, injectionMode: "pod", kubeconfig }, "canary");
        expect(rules()).to.deep.equal({ "istio-injection": null, "istio.io/rev": "canary" });

        // Without the kubeconfig it cannot, and says so.
        mocks.reset();
        let error: Error | undefined;
        try {
            await deploy(new Recorder(), { namespace: "default", createNamespace: false, injectionMode: "pod" });
        } catch (e) {
            error = e as Error;
        }
        expect(error?.message).to.include("needs the kubeconfig, to remove istio-injection, istio.io/rev while the stack exists");
    });

    it("pulls Bookinfo from the image hub override", async () => {
        await deploy(new Recorder(), { imageHub: "harbor.example.com/istio" });
        expect(deployments().map((d) => template(d).spec.containers[0].image)).to.have.members([
            "details-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3", "productpage-v1",
        ].map((n) => `harbor.example.com/istio/examples-bookinfo-${n}:1.20.3`));
    });

    it("creates pods only after istiod (its injection webhook), and never waits for the ingress gateway", async () => {
        const recorder = new Recorder();
        const { controlPlane, gateway, bookinfo } = await deploy(recorder);
        for (const name of Object.keys(bookinfo.deployments)) {
            const deps = await dependenciesOf(recorder.find(DEPLOYMENT, `bookinfo-${name}`));
            expect(deps, name).to.include(controlPlane.release).and.include(bookinfo.namespace);
            expect(deps, name).to.not.include(gateway.release);
        }
    });
});

describe("BookinfoIngress", () => {
    before(() => useMocks());
    beforeEach(() => mocks.reset());

    it("routes the product page paths through a Gateway the Helm gateway really serves", async () => {
        const recorder = new Recorder();
        const { gateway, ingress } = await deploy(recorder);
        const gw = mocks.find(GATEWAY, "bookinfo-gateway");
        expect(gw.inputs.metadata).to.deep.equal({ name: "bookinfo-gateway", namespace: "bookinfo" });
        expect(gw.inputs.spec).to.deep.equal({
            selector: { istio: "ingressgateway" },
            servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["*"] }],
        });
        const release = mocks.find("kubernetes:helm.sh/v3:Release", "istio-gateway");
        expect(gatewayProblems(gw.inputs as unknown as GatewayManifest, release.inputs.name as string, release.inputs.values as GatewayValues)).to.deep.equal([]);

        const vs = mocks.find(VIRTUAL_SERVICE, "bookinfo-virtualservice");
        expect(vs.inputs.metadata).to.deep.equal({ name: "bookinfo", namespace: "bookinfo" });
        expect(vs.inputs.spec).to.deep.equal({
            hosts: ["*"],
            gateways: ["bookinfo-gateway"],
            http: [{
                match: [
                    { uri: { exact: "/productpage" } }, { uri: { prefix: "/static" } }, { uri: { exact: "/login" } },
                    { uri: { exact: "/logout" } }, { uri: { prefix: "/api/v1/products" } },
                ],
                route: [{ destination: { host: "productpage", port: { number: 9080 } } }],
            }],
        });
        expect(await unwrap(ingress.productPageUrl)).to.equal(`http://${LB_ADDRESS}/productpage`);
        expect(recorder.explicitDependencies(GATEWAY, "bookinfo-gateway")).to.include(gateway.release);
    });

    it("would catch the upstream sample's port 8080 and a selector the Helm gateway's pods do not carry", async () => {
        await deploy(new Recorder());
        const release = mocks.find("kubernetes:helm.sh/v3:Release", "istio-gateway");
        const upstreamSample: GatewayManifest = {
            spec: { selector: { istio: "ingress" }, servers: [{ port: { number: 8080, name: "http", protocol: "HTTP" }, hosts: ["*"] }] },
        };
        expect(gatewayProblems(upstreamSample, release.inputs.name as string, release.inputs.values as GatewayValues)).to.deep.equal([
            "selector istio=ingress matches no gateway pod (pods have istio=ingressgateway)",
            "server port 8080 is not a port of the gateway Service (15021, 80, 443)",
        ]);
    });

    it("makes the Gateway wait for istiod's validation webhook and the gateway install, the VirtualService only for istiod", async () => {
        const recorder = new Recorder();
        const { controlPlane, gateway, bookinfo } = await deploy(recorder);
        const gwDeps = await dependenciesOf(recorder.find(GATEWAY, "bookinfo-gateway"));
        expect(gwDeps).to.include(controlPlane.release).and.include(gateway.release);
        const vsDeps = await dependenciesOf(recorder.find(VIRTUAL_SERVICE, "bookinfo-virtualservice"));
        expect(vsDeps).to.include(controlPlane.release).and.not.include(gateway.release);
        for (const d of Object.values(bookinfo.deployments)) {
            expect(gwDeps).to.not.include(d);
            expect(vsDeps).to.not.include(d);
        }
    });
});

describe("BookinfoDestinationRules", () => {
    before(() => useMocks());
    beforeEach(() => mocks.reset());

    it("declares the sample's rules with ISTIO_MUTUAL client TLS", async () => {
        await deploy(new Recorder());
        const rules = mocks.ofType(DESTINATION_RULE);
        expect(rules.map((r) => r.inputs.spec)).to.have.deep.members([
            { host: "productpage", versions: ["v1"] },
            { host: "reviews", versions: ["v1", "v2", "v3"] },
            { host: "ratings", versions: ["v1", "v2", "v2-mysql", "v2-mysql-vm"] },
            { host: "details", versions: ["v1", "v2"] },
        ].map(({ host, versions }) => ({
            host, trafficPolicy: { tls: { mode: "ISTIO_MUTUAL" } }, subsets: versions.map((v) => ({ name: v, labels: { version: v } })),
        })));
        expect(rules.map((r) => r.inputs.metadata)).to.have.deep.members(
            ["productpage", "reviews", "ratings", "details"].map((name) => ({ name, namespace: "bookinfo" })));
    });

    it("can leave client TLS to auto-mTLS", async () => {
        await deploy(new Recorder(), {}, undefined, false);
        for (const r of mocks.ofType(DESTINATION_RULE)) {
            expect(r.inputs.spec).to.not.have.property("trafficPolicy");
        }
    });

    it("waits for istiod's validation webhook and the namespace, not for the Deployments", async () => {
        const recorder = new Recorder();
        const { controlPlane, bookinfo } = await deploy(recorder);
        for (const host of ["productpage", "reviews", "ratings", "details"]) {
            const deps = await dependenciesOf(recorder.find(DESTINATION_RULE, `bookinfo-${host}`));
            expect(deps).to.include(controlPlane.release).and.include(bookinfo.namespace);
            for (const d of Object.values(bookinfo.deployments)) {
                expect(deps).to.not.include(d);
            }
        }
    });
});

describe("Bookinfo manifests", () => {
    before(() => useMocks());
    beforeEach(() => mocks.reset());

    for (const variant of [{ injectionMode: "namespace" as const }, { injectionMode: "pod" as const }, { namespace: "default", createNamespace: false }]) {
        it(`pass the Kubernetes and Istio schemas (${JSON.stringify(variant)})`, async () => {
            await deploy(new Recorder(), variant);
            const manifests = mocks.registered.filter((r) => isManifest(r) && !r.id);
            expect(manifests.length).to.be.greaterThan(20);
            validateManifests(manifests);
        });
    }

    it("are rejected when the API server would reject them", () => {
        const bad = (type: string, inputs: Record<string, unknown>): Registered => ({ type, name: "bad", inputs, rawInputs: inputs, custom: true });
        const deployment = (containerPort: unknown) => bad(DEPLOYMENT, {
            apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" },
            spec: { selector: { matchLabels: { app: "x" } }, template: { metadata: { labels: { app: "x" } }, spec: { containers: [{ name: "x", image: "x", ports: [{ containerPort }] }] } } },
        });
        expect(() => validateManifest(deployment(9080))).to.not.throw();
        expect(() => validateManifest(deployment("9080"))).to.throw(/containerPort must be integer/);
        expect(() => validateManifest(bad(DESTINATION_RULE, {
            apiVersion: "networking.istio.io/v1", kind: "DestinationRule", metadata: { name: "x" },
            spec: { host: "x", trafficPolicy: { tls: { mode: "ISTIO_MUTUAL_TLS" } } },
        }))).to.throw(/spec.trafficPolicy.tls.mode: Unsupported value: "ISTIO_MUTUAL_TLS"/);
        expect(() => validateManifest(bad(GATEWAY, {
            apiVersion: "networking.istio.io/v1", kind: "Gateway", metadata: { name: "x" },
            spec: { selector: { istio: "ingressgateway" }, servers: [{ port: { number: "80", name: "http", protocol: "HTTP" }, hosts: ["*"] }] },
        }))).to.throw(/spec.servers\[0\].port.number: Invalid value: "string": spec.servers\[0\].port.number in body must be of type integer/);
        expect(() => validateManifest(bad("kubernetes:security.istio.io/v1:PeerAuthentication", {
            apiVersion: "security.istio.io/v1", kind: "PeerAuthentication", metadata: { name: "default", namespace: "istio-system" }, spec: { mtls: { mode: "strict" } },
        }))).to.throw(/spec.mtls.mode: Unsupported value: "strict"/);
        // Istio's CEL rules and strict field validation, as the API server applies them.
        expect(() => validateManifest(bad(VIRTUAL_SERVICE, {
            apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "x", namespace: "bookinfo" },
            spec: { hosts: ["x"], http: [{ timeout: "100us", route: [{ destination: { host: "x" } }] }] },
        }))).to.throw(/spec.http\[0\].timeout: Invalid value: "string": must be a valid duration greater than 1ms/);
        expect(() => validateManifest(bad(VIRTUAL_SERVICE, {
            apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "x", namespace: "bookinfo" },
            spec: { hosts: ["x"], gateway: ["bookinfo-gateway"] },
        }))).to.throw(/unknown field "spec.gateway"/);
        expect(() => validateManifest(bad(SERVICE, {
            apiVersion: "v1", kind: "Service", metadata: { name: "x" }, spec: { ports: [{ port: 9080, name: "http", protocol: "HTTPS" }] },
        }))).to.throw(/protocol/);
    });
});
