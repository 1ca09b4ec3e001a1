/**
 * The end-to-end suite's RBAC evaluator (xds.ts) on its own, with the RBAC filter that istiod 1.30.3 computed for
 * Bookinfo's ratings (default-deny plus the two rules of the `ratings` policy, as `xds-listeners` printed it): who
 * gets through, what an empty or DENY configuration means, and that a matcher it does not know is an error
 * rather than a guess.
 */
import { expect } from "chai";
import { RbacConfig, XdsDump, gatewayAllows, inboundAllows } from "../support/xds";

const principal = (sa: string) => ({ and_ids: { ids: [{ or_ids: { ids: [{ authenticated: { principal_name: { exact: `spiffe://cluster.local/ns/bookinfo/sa/${sa}` } } }] } }] } });
const getRatings = {
    and_rules: {
        rules: [
            { or_rules: { rules: [{ header: { name: ":method", string_match: { exact: "GET" } } }] } },
            { or_rules: { rules: [{ url_path: { path: { prefix: "/ratings/" } } }] } },
            { or_rules: { rules: [{ destination_port: 9080 }] } },
        ],
    },
};

/** What istiod computed for ratings-v1's inbound port 9080 (e2e run, 1.30.3). */
const RATINGS: RbacConfig = {
    rules: {
        policies: {
            "ns[bookinfo]-policy[default-deny]-rule[0]": { permissions: [{ not_rule: { any: true } }], principals: [{ not_id: { any: true } }] },
            "ns[bookinfo]-policy[ratings]-rule[0]": { permissions: [getRatings], principals: [principal("bookinfo-reviews")] },
            "ns[bookinfo]-policy[ratings]-rule[1]": { permissions: [getRatings], principals: [principal("bookinfo-productpage")] },
        },
    },
};

function dump(rbac: RbacConfig[], port = 9080): XdsDump {
    return {
        node: "sidecar~10.244.0.9~ratings-v1-x.bookinfo~bookinfo.svc.cluster.local",
        version: "1",
        listeners: [{
            name: "virtualInbound", port: 15006, trafficDirection: "INBOUND",
            filterChains: ["tls", "raw_buffer"].map((transportProtocol) => ({
                name: `0.0.0.0_${port}`, destinationPort: port, transportProtocol, rbac: rbac.map((config) => ({ filter: "envoy.filters.http.rbac", level: "http" as const, config })),
            })),
        }],
    };
}

const from = (sa: string | undefined, method = "GET", path = "/ratings/0", port = 9080) =>
    ({ principal: sa && `spiffe://cluster.local/ns/bookinfo/sa/${sa}`, method, path, port });

describe("the RBAC evaluator of the end-to-end suite", () => {
    it("admits exactly the callers, methods, paths and port of istiod's rules for ratings", () => {
        const ratings = dump([RATINGS]);
        expect(inboundAllows(ratings, from("bookinfo-reviews"))).to.equal(true);
        expect(inboundAllows(ratings, from("bookinfo-productpage", "GET", "/ratings/0?x=1"))).to.equal(true);
        expect(inboundAllows(ratings, from("bookinfo-details"))).to.equal(false);
        expect(inboundAllows(ratings, from(undefined))).to.equal(false);
        expect(inboundAllows(ratings, from("bookinfo-reviews", "POST"))).to.equal(false);
        expect(inboundAllows(ratings, from("bookinfo-reviews", "GET", "/health"))).to.equal(false);
        expect(() => inboundAllows(ratings, from("bookinfo-reviews", "GET", "/ratings/0", 9090))).to.throw("has no inbound filter chain for port 9090");
    });

    it("reads no rules as no enforcement, an empty ALLOW as deny-all, and DENY as an exception list", () => {
        expect(inboundAllows(dump([{}]), from(undefined))).to.equal(true);
        expect(inboundAllows(dump([{ rules: {} }]), from("bookinfo-reviews"))).to.equal(false);
        const deny: RbacConfig = { rules: { action: "DENY", policies: { p: { permissions: [{ any: true }], principals: [principal("bookinfo-details")] } } } };
        expect(inboundAllows(dump([deny]), from("bookinfo-details"))).to.equal(false);
        expect(inboundAllows(dump([deny]), from("bookinfo-reviews"))).to.equal(true);
        // Every filter must admit the request.
        expect(inboundAllows(dump([deny, RATINGS]), from("bookinfo-reviews"))).to.equal(true);
        expect(inboundAllows(dump([deny, RATINGS]), from("bookinfo-productpage", "DELETE"))).to.equal(false);
    });

    it("evaluates a gateway's listener by port, and refuses to guess on an unknown matcher", () => {
        const productPage: RbacConfig = { rules: { policies: { "ns[istio-ingress]-policy[bookinfo-ingress]-rule[0]": {
            permissions: [{ and_rules: { rules: [{ or_rules: { rules: [{ url_path: { path: { exact: "/productpage" } } }] } }, { or_rules: { rules: [{ destination_port: 80 }] } }] } }],
            principals: [{ any: true }],
        } } } };
        const gateway: XdsDump = { ...dump([]), listeners: [{ name: "0.0.0.0_80", port: 80, trafficDirection: "OUTBOUND", filterChains: dump([productPage], 80).listeners[0].filterChains }] };
        expect(gatewayAllows(gateway, from(undefined, "GET", "/productpage", 80))).to.equal(true);
        expect(gatewayAllows(gateway, from(undefined, "GET", "/admin", 80))).to.equal(false);
        expect(() => gatewayAllows(gateway, from(undefined, "GET", "/", 443))).to.throw("has no listener on port 443");
        const unknown = { rules: { policies: { p: { permissions: [{ requested_server_name: { exact: "x" } }], principals: [{ any: true }] } } } } as unknown as RbacConfig;
        expect(() => inboundAllows(dump([unknown]), from(undefined))).to.throw("unsupported RBAC permission");
    });
});
