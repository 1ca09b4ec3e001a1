/**
 * Bookinfo's authorization under Pulumi mocks: the default-deny policy and one ALLOW policy per service, with
 * principals taken from the service accounts the program created (and the gateway's, read back), methods, paths
 * derived from the VirtualService, the port, the order of creation, the gateway's own policy when the mesh denies
 * by default, and every policy valid against Istio's CRDs.
 */
import * as k8s from "@pulumi/kubernetes";
import { expect } from "chai";
import { BookinfoApp } from "../../components/bookinfo/app";
import { BOOKINFO_CALLS, BookinfoAuthorization, routedPaths } from "../../components/bookinfo/authorization";
import { BookinfoIngress } from "../../components/bookinfo/ingress";
import { IstioBase } from "../../components/istio/base";
import { IstioControlPlane } from "../../components/istio/controlPlane";
import { IstioDefaultValidator } from "../../components/istio/defaultValidator";
import { IstioIngressGateway } from "../../components/istio/ingressGateway";
import { AuthorizationPolicySpec } from "../../components/istio/resources";
import { Recorder, Registered, mocks, unwrap, useMocks } from "../support/harness";
import { validateManifests } from "../support/validate";

const charts = { repository: "https://blob.istio.io/istio-release/charts", version: "1.30.3" };
const POLICY = "kubernetes:security.istio.io/v1:AuthorizationPolicy";
const ROUTED = ["/productpage", "/static*", "/login", "/logout", "/api/v1/products*"];

async function secure(recorder: Recorder, options: { namespace?: string; trustDomain?: string; allowAtGateway?: boolean; namespaceDefaultDeny?: boolean } = {}) {
    const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
    const base = new IstioBase("istio", { provider, charts });
    const controlPlane = new IstioControlPlane("istio", { provider, charts, base });
    const gateway = new IstioIngressGateway("istio", { provider, charts, injection: controlPlane.injection });
    const app = new BookinfoApp("bookinfo", { provider, injection: controlPlane.injection, namespace: options.namespace });
    const { validation } = new IstioDefaultValidator("istio", { provider, controlPlane });
    const ingress = new BookinfoIngress("bookinfo", { provider, validation, gateway, namespace: app.namespaceName });
    const authorization = new BookinfoAuthorization("bookinfo", {
        provider, validation, app, entry: ingress.entry, trustDomain: options.trustDomain, allowAtGateway: options.allowAtGateway,
        namespaceDefaultDeny: options.namespaceDefaultDeny,
    }, recorder.opts());
    await recorder.settle();
    await unwrap(authorization.allowed);
    return { controlPlane, validation, gateway, app, authorization };
}

const policy = (name: string): { metadata: { name: string; namespace: string }; spec: AuthorizationPolicySpec } =>
    mocks.find(POLICY, name).inputs as { metadata: { name: string; namespace: string }; spec: AuthorizationPolicySpec };
const policies = (): Registered[] => mocks.ofType(POLICY);

describe("BookinfoAuthorization", () => {
    before(() => useMocks());
    beforeEach(() => mocks.reset());

    it("denies by default in Bookinfo's namespace and allows exactly the calls Bookinfo makes", async () => {
        await secure(new Recorder());
        expect(policies().map((p) => (p.inputs.metadata as { name: string }).name).sort()).to.deep.equal(["default-deny", "details", "productpage", "ratings", "reviews"]);
        expect(mocks.find(POLICY, "bookinfo-default-deny").inputs).to.deep.equal({
            apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy", metadata: { name: "default-deny", namespace: "bookinfo" }, spec: {},
        });

        const sa = (app: string) => `cluster.local/ns/bookinfo/sa/bookinfo-${app}`;
        expect(policy("bookinfo-productpage").spec).to.deep.equal({
            selector: { matchLabels: { app: "productpage" } },
            action: "ALLOW",
            rules: [{
                from: [{ source: { principals: ["cluster.local/ns/istio-ingress/sa/istio-ingressgateway"] } }],
                to: [{ operation: { ports: ["9080"], methods: ["GET", "POST"], paths: ROUTED } }],
            }],
        });
        expect(policy("bookinfo-details").spec).to.deep.equal({
            selector: { matchLabels: { app: "details" } },
            action: "ALLOW",
            rules: [{ from: [{ source: { principals: [sa("productpage")] } }], to: [{ operation: { ports: ["9080"], methods: ["GET"], paths: ["/details/*"] } }] }],
        });
        expect(policy("bookinfo-reviews").spec.rules).to.deep.equal([
            { from: [{ source: { principals: [sa("productpage")] } }], to: [{ operation: { ports: ["9080"], methods: ["GET"], paths: ["/reviews/*"] } }] },
        ]);
        // reviews v2/v3 read the ratings, and so does the product page's JSON API (/api/v1/products/<id>/ratings).
        expect(policy("bookinfo-ratings").spec.rules).to.deep.equal([
            { from: [{ source: { principals: [sa("reviews")] } }], to: [{ operation: { ports: ["9080"], methods: ["GET"], paths: ["/ratings/*"] } }] },
            { from: [{ source: { principals: [sa("productpage")] } }], to: [{ operation: { ports: ["9080"], methods: ["GET"], paths: ["/ratings/*"] } }] },
        ]);
        // Nobody else is named: details and ratings call no one, and the gateway only the product page.
        const callers = new Set(policies().flatMap((p) => ((p.inputs.spec as AuthorizationPolicySpec).rules ?? [])
            .flatMap((r) => r.from ?? []).flatMap((f) => f.source.principals ?? [])));
        expect([...callers].sort()).to.deep.equal(["cluster.local/ns/bookinfo/sa/bookinfo-productpage", "cluster.local/ns/bookinfo/sa/bookinfo-reviews",
            "cluster.local/ns/istio-ingress/sa/istio-ingressgateway"]);
        expect(BOOKINFO_CALLS.map((c) => `${c.from}→${c.to}`)).to.deep.equal(["productpage→details", "productpage→reviews", "reviews→ratings", "productpage→ratings"]);
    });

    it("writes no namespace-wide default-deny in a namespace it does not own; each Bookinfo workload keeps its ALLOW policy", async () => {
        const { authorization } = await secure(new Recorder(), { namespace: "default", namespaceDefaultDeny: false });
        expect(authorization.namespaceDefaultDeny).to.equal(false);
        expect(policies().map((p) => (p.inputs.metadata as { name: string }).name).sort()).to.deep.equal(["details", "productpage", "ratings", "reviews"]);
        // Every Bookinfo workload is selected by an ALLOW policy, so Istio refuses what that policy does not admit.
        for (const app of ["productpage", "details", "reviews", "ratings"]) {
            expect(policy(`bookinfo-${app}`).spec).to.deep.include({ selector: { matchLabels: { app } }, action: "ALLOW" });
            expect(policy(`bookinfo-${app}`).metadata.namespace).to.equal("default");
        }
    });

    it("reads the gateway's service account back from the cluster, as the gateway chart names it", async () => {
        const recorder = new Recorder();
        const { gateway, authorization } = await secure(recorder);
        const read = mocks.find("kubernetes:core/v1:ServiceAccount", "bookinfo-gateway-sa");
        expect(read.id).to.equal("istio-ingress/istio-ingressgateway");
        expect(await unwrap(authorization.principals.gateway)).to.equal("cluster.local/ns/istio-ingress/sa/istio-ingressgateway");
        // Read once the release has installed it.
        expect(recorder.explicitDependencies("kubernetes:core/v1:ServiceAccount", "bookinfo-gateway-sa")).to.deep.equal([gateway.release]);
    });

    it("derives the principals from the namespace and the trust domain, never widening them", async () => {
        const { authorization } = await secure(new Recorder(), { namespace: "shop", trustDomain: "mesh.example.com" });
        for (const p of policies()) {
            expect((p.inputs.metadata as { namespace: string }).namespace, p.name).to.equal("shop");
        }
        expect(policy("bookinfo-details").spec.rules?.[0].from?.[0].source.principals).to.deep.equal(["mesh.example.com/ns/shop/sa/bookinfo-productpage"]);
        expect(policy("bookinfo-productpage").spec.rules?.[0].from?.[0].source.principals).to.deep.equal(["mesh.example.com/ns/istio-ingress/sa/istio-ingressgateway"]);
        expect(await unwrap(authorization.principals.reviews)).to.equal("mesh.example.com/ns/shop/sa/bookinfo-reviews");
        // No wildcard, no namespace-wide source: every rule names exact principals.
        const sources = policies().flatMap((p) => ((p.inputs.spec as AuthorizationPolicySpec).rules ?? []).flatMap((r) => r.from ?? []).map((f) => f.source));
        for (const source of sources) {
            expect(Object.keys(source)).to.deep.equal(["principals"]);
            expect(source.principals!.join()).to.not.include("*");
        }
    });

    it("creates default-deny after the ALLOW policies, so destroy deletes it first", async () => {
        const recorder = new Recorder();
        const { validation, authorization } = await secure(recorder);
        const deps = recorder.explicitDependencies(POLICY, "bookinfo-default-deny");
        expect(deps).to.include.members(validation.readyBefore);
        for (const name of ["productpage", "details", "reviews", "ratings"]) {
            expect(deps, name).to.include(authorization.policies[name]);
            expect(recorder.explicitDependencies(POLICY, `bookinfo-${name}`), name).to.deep.equal(validation.readyBefore);
        }
    });

    it("leaves the gateway open unless the mesh denies by default; then allows Bookinfo's routes there, from anyone", async () => {
        await secure(new Recorder());
        expect(policies().some((p) => (p.inputs.metadata as { namespace: string }).namespace === "istio-ingress")).to.equal(false);
        mocks.reset();
        const { authorization } = await secure(new Recorder(), { allowAtGateway: true });
        expect(policy("bookinfo-ingress")).to.deep.include({
            metadata: { name: "bookinfo-ingress", namespace: "istio-ingress" },
            spec: {
                selector: { matchLabels: { istio: "ingressgateway" } },
                action: "ALLOW",
                rules: [{ to: [{ operation: { ports: ["80"], methods: ["GET", "POST"], paths: ROUTED } }] }],
            },
        });
        expect((await unwrap(authorization.allowed))["bookinfo-ingress"]).to.deep.equal([`anyone → GET,POST ${ROUTED.join(" ")} on port 80`]);
    });

    it("describes what each policy allows", async () => {
        const { authorization } = await secure(new Recorder());
        expect(await unwrap(authorization.allowed)).to.deep.equal({
            productpage: [`cluster.local/ns/istio-ingress/sa/istio-ingressgateway → GET,POST ${ROUTED.join(" ")} on port 9080`],
            details: ["cluster.local/ns/bookinfo/sa/bookinfo-productpage → GET /details/* on port 9080"],
            reviews: ["cluster.local/ns/bookinfo/sa/bookinfo-productpage → GET /reviews/* on port 9080"],
            ratings: ["cluster.local/ns/bookinfo/sa/bookinfo-reviews → GET /ratings/* on port 9080", "cluster.local/ns/bookinfo/sa/bookinfo-productpage → GET /ratings/* on port 9080"],
        });
    });

    it("produces policies that Istio 1.30.3's CRDs accept", async () => {
        await secure(new Recorder(), { allowAtGateway: true, trustDomain: "mesh.example.com" });
        expect(policies()).to.have.length(6);
        validateManifests(policies());
    });
});

describe("routedPaths", () => {
    const route = (host: string, match?: Array<{ uri?: { exact: string } | { prefix: string } | { regex: string } }>) =>
        ({ ...(match ? { match } : {}), route: [{ destination: { host } }] });

    it("turns a VirtualService's exact and prefix matches to a host into AuthorizationPolicy paths", () => {
        expect(routedPaths({ hosts: ["*"], http: [
            route("productpage", [{ uri: { exact: "/productpage" } }, { uri: { prefix: "/static" } }]),
            route("productpage.bookinfo.svc.cluster.local", [{ uri: { exact: "/login" } }, { uri: { exact: "/productpage" } }]),
            route("reviews", [{ uri: { prefix: "/reviews" } }]),
        ] }, "productpage")).to.deep.equal(["/productpage", "/static*", "/login"]);
    });

    it("allows every path for a catch-all route, and refuses what a policy cannot express", () => {
        expect(routedPaths({ hosts: ["*"], http: [route("productpage")] }, "productpage")).to.equal(undefined);
        expect(routedPaths({ hosts: ["*"], http: [route("productpage", [{ uri: { prefix: "/a" } }, {}])] }, "productpage")).to.equal(undefined);
        expect(() => routedPaths({ hosts: ["*"], http: [route("productpage", [{ uri: { regex: "/p.*" } }])] }, "productpage"))
            .to.throw("regular expression (/p.*), which an AuthorizationPolicy cannot express");
        expect(routedPaths({ hosts: ["*"] }, "productpage")).to.deep.equal([]);
    });
});
