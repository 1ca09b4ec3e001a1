/**
 * End to end, the Kubernetes Gateway API ingress (`ingressApi: gateway-api`): the program run by the pulumi CLI on
 * an existing cluster (the local control plane with the live istiod, `clusterSource: existing`), the Gateway API's
 * standard channel installed from an air-gapped directory (the tool cache's copy of `sigs.k8s.io/gateway-api`'s
 * config/crd/standard), and proof from istiod itself: it deploys the gateway (Deployment, Service, service account)
 * for Bookinfo's `Gateway`, reports the Gateway `Programmed` with the load balancer's address, and serves the
 * gateway proxy the routes of Bookinfo's `HTTPRoute` (read over xDS as that proxy: listeners, then their RDS route
 * configuration). No `istio/gateway` chart and no `istio-ingress` namespace exist in that mode.
 *
 * Played rather than real: kwok's pods (the gateway's become Ready without running) and the load balancer
 * (localCluster.ts). The product page check is off: the harness answers for it only behind Istio's own Gateway
 * and VirtualService; what the gateway would route is read from istiod instead.
 */
import { Stack } from "@pulumi/pulumi/automation";
import { expect } from "chai";
import * as crypto from "crypto";
import * as path from "path";
import { GATEWAY_API_RELEASES } from "../../programs/mesh/gatewayApiBundle";
import { STACK_ANNOTATION } from "../../programs/mesh/meshInventory";
import { eventually, recorder } from "../support/engine";
import { LOAD_BALANCER_IP, LocalCluster } from "../../local/localCluster";
import { useLocalCluster } from "../support/suite";
import { localIstio, meshStack, requireTools, toolVersions, toolsBin } from "../../local/workspace";
import { XdsDump, listenersOf, podsOf } from "../support/xds";

const P = "pks-istio-mesh:";
const TOOLS_BIN = toolsBin();
const ISTIO = toolVersions().ISTIO_VERSION;
/** The Gateway API release Istio 1.31 expects. */
const GATEWAY_API = "v1.6.3";
const PRODUCTPAGE_CLUSTER = "outbound|9080||productpage.bookinfo.svc.cluster.local";

interface Routed {
    routes: Array<{ name: string; virtualHosts: Array<{ name: string; domains: string[]; routes: Array<{ match: string; clusters: string[] }> }> }>;
}

describe("end to end: Bookinfo's ingress through the Kubernetes Gateway API, against a live istiod", function () {
    this.timeout(15 * 60_000);
    before(() => requireTools(TOOLS_BIN, ["pulumi", "pulumi-language-nodejs", "pulumi-resource-command", "pulumi-resource-kubernetes",
        `pilot-discovery-${ISTIO}`, `istio-charts-${ISTIO}`, `gateway-api-${GATEWAY_API}`, "xds-listeners"]));
    const suite = useLocalCluster("gateway-api", TOOLS_BIN);
    let cluster: LocalCluster;
    let stack: Stack;

    before(async () => {
        cluster = suite.cluster;
        stack = await meshStack({ dir: path.join(suite.dir, "pulumi"), toolsBin: TOOLS_BIN, stackName: "gatewayapi", passphrase: crypto.randomBytes(12).toString("hex") });
        await stack.setAllConfig({
            [`${P}clusterSource`]: { value: "existing" },
            [`${P}kubeconfig`]: { value: cluster.kubeconfig(), secret: true },
            ...localIstio(TOOLS_BIN),
            [`${P}ingressApi`]: { value: "gateway-api" },
            // An air-gapped site's copy of the release's config/crd/standard (each file checked against its pin).
            [`${P}gatewayApiCrdsSource`]: { value: path.join(TOOLS_BIN, `gateway-api-${GATEWAY_API}`) },
            [`${P}verifyProductPage`]: { value: "false" },
        });
    });

    it("installs the Gateway API CRDs, and istiod deploys Bookinfo's gateway and reports it Programmed", async () => {
        const r = recorder();
        const started = Date.now();
        const up = await stack.up({ onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      up: ${JSON.stringify(up.summary.resourceChanges)} in ${Math.round((Date.now() - started) / 1000)}s`);

        // The release's CRDs, marked as this stack's.
        for (const file of Object.keys(GATEWAY_API_RELEASES[GATEWAY_API].files).filter((f) => !f.includes("_vap_"))) {
            const name = file.replace(/^gateway\.networking\.k8s\.io_(.*)\.yaml$/, "$1.gateway.networking.k8s.io");
            const crd = await cluster.json<{ metadata: { annotations: Record<string, string> } }>(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
            expect(crd.metadata.annotations["gateway.networking.k8s.io/bundle-version"], name).to.equal(GATEWAY_API);
            expect(crd.metadata.annotations["gateway.networking.k8s.io/channel"], name).to.equal("standard");
            expect(crd.metadata.annotations[STACK_ANNOTATION], name).to.equal("pks-istio-mesh/gatewayapi");
        }
        const report = (up.outputs.modesInUse.value as { gatewayApi: { version: string; objects: Array<{ kind: string; name: string; action: string }> } }).gatewayApi;
        expect(report.version).to.equal(GATEWAY_API);
        expect(report.objects.filter((o) => o.kind === "CustomResourceDefinition").map((o) => o.action)).to.satisfy((a: string[]) => a.length >= 5 && a.every((x) => x === "create"));

        // No gateway chart: no istio-ingress namespace, no gateway release.
        expect(await cluster.names("/api/v1/namespaces")).to.not.include("istio-ingress");
        expect(r.steps.map((s) => s.urn)).to.not.satisfy((urns: string[]) => urns.some((u) => u.endsWith("::istio-gateway")));

        // istiod deployed the gateway for the Gateway (owned by it) and reported it Programmed with the LB address.
        const owned = (o: { metadata: { ownerReferences?: Array<{ kind: string; name: string }> } }) =>
            (o.metadata.ownerReferences ?? []).some((ref) => ref.kind === "Gateway" && ref.name === "bookinfo-gateway");
        for (const kind of ["apis/apps/v1/namespaces/bookinfo/deployments", "api/v1/namespaces/bookinfo/services", "api/v1/namespaces/bookinfo/serviceaccounts"]) {
            const object = await cluster.json<{ metadata: { ownerReferences?: Array<{ kind: string; name: string }> } }>(`/${kind}/bookinfo-gateway-istio`);
            expect(owned(object), `${kind}/bookinfo-gateway-istio is istiod's, for the Gateway`).to.equal(true);
        }
        const gateway = await cluster.json<{ status: { addresses?: Array<{ value: string }>; conditions: Array<{ type: string; status: string }> } }>(
            "/apis/gateway.networking.k8s.io/v1/namespaces/bookinfo/gateways/bookinfo-gateway");
        expect(gateway.status.conditions.find((c) => c.type === "Programmed")?.status).to.equal("True");
        expect(gateway.status.addresses?.[0]?.value).to.equal(LOAD_BALANCER_IP);
        expect(up.outputs.gatewayAddress.value).to.equal(LOAD_BALANCER_IP);
        expect(up.outputs.productPageUrl.value).to.equal(`http://${LOAD_BALANCER_IP}/productpage`);

        // Bookinfo's authorization admits the provisioned gateway's identity at the product page.
        const productpage = await cluster.json<{ spec: { rules: Array<{ from: Array<{ source: { principals: string[] } }> }> } }>(
            "/apis/security.istio.io/v1/namespaces/bookinfo/authorizationpolicies/productpage");
        expect(productpage.spec.rules.flatMap((rule) => rule.from.flatMap((f) => f.source.principals)))
            .to.deep.equal(["cluster.local/ns/bookinfo/sa/bookinfo-gateway-istio"]);
    });

    it("istiod serves the gateway proxy the routes of Bookinfo's HTTPRoute", async () => {
        let dump: (XdsDump & Routed) | undefined;
        const routedTo = (d: XdsDump & Routed) => d.routes.flatMap((rc) => rc.virtualHosts.flatMap((vh) => vh.routes))
            .filter((route) => route.clusters.includes(PRODUCTPAGE_CLUSTER)).map((route) => route.match);
        // The gateway's pod (kwok's) and the routes reach istiod's registry shortly after the Gateway is Programmed.
        const found = await eventually(async () => {
            const [pod] = await podsOf(cluster, "bookinfo", "gateway.networking.k8s.io/gateway-name=bookinfo-gateway");
            if (pod === undefined) {
                return false;
            }
            dump = await listenersOf(TOOLS_BIN, cluster, pod, "router") as XdsDump & Routed;
            return routedTo(dump).length >= 5;
        }, 120_000, 2000);
        expect(found, `routes to productpage: ${JSON.stringify(dump?.routes)}`).to.equal(true);
        console.log(`      gateway listeners: ${dump!.listeners.map((l) => `${l.name}`).join(", ")}; routes to productpage: ${routedTo(dump!).join(", ")}`);
        expect(dump!.listeners.map((l) => l.port)).to.include(80);
        expect(routedTo(dump!)).to.have.members(["exact:/productpage", "path-prefix:/static", "exact:/login", "exact:/logout", "path-prefix:/api/v1/products"]);
        // Nothing else reaches the product page through this gateway.
        const others = dump!.routes.flatMap((rc) => rc.virtualHosts.flatMap((vh) => vh.routes)).filter((route) => route.clusters.length > 0 && !route.clusters.includes(PRODUCTPAGE_CLUSTER));
        expect(others, JSON.stringify(others)).to.deep.equal([]);
    });

    it("a second update changes nothing, and destroy removes the gateway but leaves the CRDs", async () => {
        const preview = await stack.preview();
        const changes = Object.entries(preview.changeSummary).filter(([op]) => op !== "same" && op !== "read");
        expect(changes, JSON.stringify(preview.changeSummary)).to.deep.equal([]);
        const started = Date.now();
        await stack.destroy();
        console.log(`      destroy: ${Math.round((Date.now() - started) / 1000)}s`);
        expect(await eventually(async () => !(await cluster.names("/apis/apps/v1/namespaces/bookinfo/deployments")).includes("bookinfo/bookinfo-gateway-istio"), 60_000)).to.equal(true);
        expect(await cluster.names("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")).to.include("gateways.gateway.networking.k8s.io");
    });
});
