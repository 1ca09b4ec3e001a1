/**
 * End to end, the ambient data plane: a stack deployed in the procedure's shape (sidecars, Istio's ingress API) is
 * switched by a user-style `pulumi up` to `dataPlane: ambient` with Bookinfo's waypoint and the Gateway API ingress,
 * proven from the live istiod, and switched back — updates, not rebuilds.
 *
 * What istiod itself shows: it deploys the waypoint for its `Gateway` (class `istio-waypoint`); the workload
 * configuration it serves a ztunnel on the node lists Bookinfo's pods as captured (HBONE) with their identities,
 * and a pod outside the ambient namespace as not captured; the authorizations it serves the ztunnel admit only the
 * waypoint's identity to Bookinfo's workloads (so a direct caller such as the product page is denied by the rule
 * istiod serves); the waypoint's listeners hold the L7 rules (methods, paths, callers).
 *
 * Played rather than real: the CNI node agent's redirection (the pod annotation it writes, `playCniAgent`), kwok's
 * node (labelled kubernetes.io/os=linux, as a kubelet labels its node) and pods (ztunnel, the CNI agent, the waypoint and Bookinfo become Ready without
 * running) and the load balancer (localCluster.ts). The ambient profile runs istiod's distroless image, the same
 * istiod build: the suite's tool directory maps that image tag to the release's `pilot-discovery`.
 */
import { Stack } from "@pulumi/pulumi/automation";
import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { eventually } from "../support/engine";
import { LocalCluster, NODE_NAME } from "../../local/localCluster";
import { useLocalCluster } from "../support/suite";
import { localIstio, meshStack, requireTools, toolVersions, toolsBin } from "../../local/workspace";
import { ZtunnelDump, listenersOf, podsOf, ztunnelConfigOf } from "../support/xds";

const P = "pks-istio-mesh:";
const TOOLS_BIN = toolsBin();
const ISTIO = toolVersions().ISTIO_VERSION;
const GATEWAY_API = "v1.6.3";
const WAYPOINT = "cluster.local/ns/bookinfo/sa/waypoint";

/** The tool directory with istiod's distroless tag as an alias of its build (what the ambient profile deploys). */
function toolsWithDistroless(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    for (const entry of fs.readdirSync(TOOLS_BIN)) {
        fs.symlinkSync(path.join(TOOLS_BIN, entry), path.join(dir, entry));
    }
    fs.symlinkSync(path.join(TOOLS_BIN, `pilot-discovery-${ISTIO}`), path.join(dir, `pilot-discovery-${ISTIO}-distroless`));
}

/**
 * Plays the CNI node agent's part in ambient mode (kwok runs no agent): once it has redirected a pod's traffic to
 * the node's ztunnel it annotates the pod `ambient.istio.io/redirection: enabled`, which istiod reads to serve the
 * pod as captured (HBONE). The agent does so for the pods of namespaces labelled istio.io/dataplane-mode=ambient,
 * except pods that opt out (istio.io/dataplane-mode=none, as istiod's waypoints do) or carry a sidecar.
 */
async function playCniAgent(cluster: LocalCluster): Promise<string[]> {
    const namespaces = await cluster.json<{ items: Array<{ metadata: { name: string } }> }>(`/api/v1/namespaces?labelSelector=${encodeURIComponent("istio.io/dataplane-mode=ambient")}`);
    const redirected: string[] = [];
    for (const { metadata: { name: namespace } } of namespaces.items) {
        const pods = await cluster.json<{ items: Array<{ metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec: { containers: Array<{ name: string }> } }> }>(`/api/v1/namespaces/${namespace}/pods`);
        for (const pod of pods.items) {
            if (pod.metadata.labels?.["istio.io/dataplane-mode"] === "none" || pod.spec.containers.some((c) => c.name === "istio-proxy")
                || pod.metadata.annotations?.["ambient.istio.io/redirection"] === "enabled") {
                continue;
            }
            const patched = await cluster.request("PATCH", `/api/v1/namespaces/${namespace}/pods/${pod.metadata.name}`,
                { metadata: { annotations: { "ambient.istio.io/redirection": "enabled" } } }, "application/merge-patch+json");
            expect(patched.status, patched.body).to.equal(200);
            redirected.push(`${namespace}/${pod.metadata.name}`);
        }
    }
    return redirected;
}

const timed = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    const result = await run();
    const summary = (result as { summary?: { resourceChanges?: unknown } }).summary?.resourceChanges;
    console.log(`      ${what}: ${summary ? `${JSON.stringify(summary)} ` : ""}in ${Math.round((Date.now() - started) / 1000)}s`);
    return result;
};

describe("end to end: switching Bookinfo to the ambient data plane (ztunnel, waypoint), against a live istiod", function () {
    this.timeout(25 * 60_000);
    before(() => requireTools(TOOLS_BIN, ["pulumi", "pulumi-language-nodejs", "pulumi-resource-command", "pulumi-resource-kubernetes",
        `pilot-discovery-${ISTIO}`, `istio-charts-${ISTIO}`, `gateway-api-${GATEWAY_API}`, "xds-listeners"]));
    // Filled before the local cluster starts (hooks run in the order they are registered).
    const bin = path.join(os.tmpdir(), `pks-istio-mesh-ambient-tools-${process.pid}`);
    before(() => toolsWithDistroless(bin));
    const suite = useLocalCluster("ambient", bin);
    let cluster: LocalCluster;
    let stack: Stack;
    let ztunnel: ZtunnelDump;
    after(() => fs.rmSync(bin, { recursive: true, force: true }));

    const containersOf = async (app: string) => (await cluster.json<{ items: Array<{ metadata: { deletionTimestamp?: string }; spec: { containers: Array<{ name: string }>; initContainers?: Array<{ name: string }> } }> }>(
        `/api/v1/namespaces/bookinfo/pods?labelSelector=app%3D${app}`)).items.filter((p) => !p.metadata.deletionTimestamp)
        .map((p) => [...(p.spec.initContainers ?? []), ...p.spec.containers].map((c) => c.name));

    before(async () => {
        cluster = suite.cluster;
        // A kubelet labels its node with its OS (kwok's node has no kubelet): the CNI agent's and ztunnel's
        // DaemonSets select kubernetes.io/os=linux.
        const labelled = await cluster.request("PATCH", `/api/v1/nodes/${NODE_NAME}`, { metadata: { labels: { "kubernetes.io/os": "linux" } } }, "application/merge-patch+json");
        expect(labelled.status, labelled.body).to.equal(200);
        stack = await meshStack({ dir: path.join(suite.dir, "pulumi"), toolsBin: TOOLS_BIN, stackName: "ambient", passphrase: crypto.randomBytes(12).toString("hex") });
        await stack.setAllConfig({
            [`${P}clusterSource`]: { value: "existing" },
            [`${P}kubeconfig`]: { value: cluster.kubeconfig(), secret: true },
            ...localIstio(TOOLS_BIN),
            [`${P}verifyProductPage`]: { value: "false" },
            [`${P}gatewayApiCrdsSource`]: { value: path.join(TOOLS_BIN, `gateway-api-${GATEWAY_API}`) },
        });
        // gatewayApiCrdsSource is refused until something uses the Gateway API: set with the switch below.
        await stack.removeConfig(`${P}gatewayApiCrdsSource`);
        await timed("up (sidecar, istio ingress)", () => stack.up());
        expect((await containersOf("details"))[0]).to.include("istio-proxy");
    });

    it("a pulumi up switches the stack to ambient with a waypoint and the Gateway API ingress", async () => {
        await stack.setAllConfig({
            [`${P}dataPlane`]: { value: "ambient" },
            [`${P}ambientWaypoint`]: { value: "true" },
            [`${P}ingressApi`]: { value: "gateway-api" },
            [`${P}gatewayApiCrdsSource`]: { value: path.join(TOOLS_BIN, `gateway-api-${GATEWAY_API}`) },
        });
        await timed("up (switch to ambient + waypoint + gateway-api)", () => stack.up());
        // istiod and the CNI agent in ambient mode, ztunnel on the node.
        const istiod = cluster.istiod!.running().find((p) => p.ready)!;
        expect(istiod.env.PILOT_ENABLE_AMBIENT).to.equal("true");
        expect(await cluster.names("/apis/apps/v1/namespaces/istio-system/daemonsets")).to.include.members(["istio-system/istio-cni-node", "istio-system/ztunnel"]);
        // Bookinfo's namespace is enrolled, its pods rolled without sidecars.
        const namespace = await cluster.json<{ metadata: { labels: Record<string, string> } }>("/api/v1/namespaces/bookinfo");
        expect(namespace.metadata.labels).to.include({ "istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "waypoint" });
        expect(namespace.metadata.labels).to.not.have.any.keys("istio-injection", "istio.io/rev");
        expect(await eventually(async () => (await containersOf("details")).every((c) => !c.includes("istio-proxy")) && (await containersOf("details")).length > 0, 120_000)).to.equal(true);
        // istiod deployed the waypoint for its Gateway.
        const waypoint = await cluster.json<{ metadata: { ownerReferences?: Array<{ kind: string; name: string }> } }>("/apis/apps/v1/namespaces/bookinfo/deployments/waypoint");
        expect(waypoint.metadata.ownerReferences?.map((r) => `${r.kind}/${r.name}`)).to.include("Gateway/waypoint");
    });

    it("istiod serves the node's ztunnel Bookinfo's pods as captured (HBONE) with their identities, and other pods as not", async () => {
        // A pod of a namespace outside ambient mode.
        for (const [url, body] of [["/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "outside" } }],
            ["/api/v1/namespaces/outside/pods", { apiVersion: "v1", kind: "Pod", metadata: { name: "plain", labels: { app: "plain" } }, spec: { containers: [{ name: "app", image: "docker.io/library/busybox:1.36" }] } }]] as const) {
            const created = await cluster.request("POST", url, body);
            expect(created.status, `${url}: ${created.body}`).to.be.lessThan(300);
        }
        console.log(`      played CNI agent redirected: ${(await playCniAgent(cluster)).join(", ")}`);
        const [node] = await podsOf(cluster, "istio-system", "app=ztunnel");
        expect(node, "the ztunnel pod").to.not.equal(undefined);
        const captured = (d: ZtunnelDump) => d.workloads.filter((w) => w.namespace === "bookinfo" && w.tunnelProtocol === "HBONE");
        expect(await eventually(async () => {
            ztunnel = await ztunnelConfigOf(TOOLS_BIN, cluster, node);
            return captured(ztunnel).length >= 6 && ztunnel.workloads.some((w) => w.namespace === "outside");
        }, 120_000, 2000), JSON.stringify(ztunnel?.workloads.map((w) => `${w.namespace}/${w.name}:${w.tunnelProtocol}`))).to.equal(true);
        console.log(`      ztunnel workloads: ${ztunnel.workloads.map((w) => `${w.namespace}/${w.name}:${w.tunnelProtocol}`).join(", ")}`);
        const bookinfo = ztunnel.workloads.filter((w) => w.namespace === "bookinfo" && !w.name.startsWith("waypoint") && !w.name.startsWith("bookinfo-gateway"));
        for (const w of bookinfo) {
            expect(w.tunnelProtocol, w.name).to.equal("HBONE");
            expect(w.serviceAccount, w.name).to.match(/^bookinfo-(productpage|details|reviews|ratings)$/);
            // istiod leaves the trust domain empty when it is the default (ztunnel then uses cluster.local).
            expect(w.trustDomain, w.name).to.be.oneOf(["", "cluster.local"]);
        }
        const outside = ztunnel.workloads.find((w) => w.namespace === "outside")!;
        expect(outside.tunnelProtocol, "a pod outside the ambient namespace").to.not.equal("HBONE");
    });

    it("the authorizations istiod serves the ztunnel admit only the waypoint to Bookinfo's workloads", async () => {
        // Each caller, as istiod serves it: a principal, or (in the mesh's trust domain) a service account.
        const principals = (name: string) => (ztunnel.authorizations.find((a) => a.namespace === "bookinfo" && a.name === name)?.groups ?? [])
            .flatMap((g) => g.rules ?? []).flatMap((r) => r.matches ?? [])
            .flatMap((m) => [...(m.principals ?? []).map((p) => p.exact ?? JSON.stringify(p)), ...(m.service_accounts ?? []).map((sa) => `cluster.local/ns/${sa.namespace}/sa/${sa.serviceAccount}`)]);
        console.log(`      ztunnel authorizations: ${ztunnel.authorizations.map((a) => `${a.namespace}/${a.name}`).join(", ")}; details: ${JSON.stringify(ztunnel.authorizations.find((a) => a.name === "details"))}`);
        for (const service of ["productpage", "details", "reviews", "ratings"]) {
            const allowed = principals(service);
            expect(allowed, service).to.not.deep.equal([]);
            expect(allowed.every((p) => p.endsWith(WAYPOINT)), `${service}: ${allowed.join(", ")}`).to.equal(true);
            // The product page calling details directly (not through the waypoint) matches no ALLOW rule.
            expect(allowed.some((p) => p.includes("sa/bookinfo-productpage")), service).to.equal(false);
        }
        const deny = ztunnel.authorizations.find((a) => a.namespace === "bookinfo" && a.name === "default-deny");
        expect(deny, "the namespace's default-deny reaches the ztunnel").to.not.equal(undefined);
    });

    it("the waypoint's listeners hold the L7 rules: methods, paths and callers", async () => {
        const [pod] = await podsOf(cluster, "bookinfo", "gateway.networking.k8s.io/gateway-name=waypoint");
        expect(pod, "the waypoint pod").to.not.equal(undefined);
        let rbac = "";
        expect(await eventually(async () => {
            const dump = await listenersOf(TOOLS_BIN, cluster, pod, "waypoint");
            rbac = JSON.stringify(dump.listeners.flatMap((l) => l.filterChains.flatMap((c) => c.rbac.filter((r) => r.level === "http").map((r) => r.config))));
            return rbac.includes("/details/") && rbac.includes("bookinfo-productpage");
        }, 120_000, 2000), rbac.slice(0, 2000)).to.equal(true);
        for (const expected of ["GET", "/details/", "/reviews/", "/ratings/", "ns/bookinfo/sa/bookinfo-productpage", "ns/bookinfo/sa/bookinfo-reviews"]) {
            expect(rbac, expected).to.include(expected);
        }
    });

    it("a pulumi up switches back to sidecars and Istio's ingress API, and destroy removes it all", async () => {
        await stack.setAllConfig({
            [`${P}dataPlane`]: { value: "sidecar" },
            [`${P}ambientWaypoint`]: { value: "false" },
            [`${P}ingressApi`]: { value: "istio" },
        });
        await stack.removeConfig(`${P}gatewayApiCrdsSource`);
        await timed("up (back to sidecar + istio ingress)", () => stack.up());
        expect(await eventually(async () => {
            const pods = await containersOf("details");
            return pods.length > 0 && pods.every((c) => c.includes("istio-proxy"));
        }, 120_000)).to.equal(true);
        expect(await cluster.names("/apis/apps/v1/namespaces/istio-system/daemonsets")).to.not.include("istio-system/ztunnel");
        await timed("destroy", () => stack.destroy());
    });
});
