/**
 * Bookinfo under named hosts (`bookinfoHosts`, what the policy pack requires in production): the setting's rules,
 * the Gateway and VirtualService hosts, the URLs, and the product page check sending the Host header the gateway
 * routes by (against a real local HTTP server that routes by it too).
 */
import * as k8s from "@pulumi/kubernetes";
import { expect } from "chai";
import * as http from "http";
import { AddressInfo } from "net";
import { BookinfoIngress } from "../../components/bookinfo/ingress";
import { ProductPageCheck } from "../../components/bookinfo/productPageCheck";
import { configSchema } from "../../config/schema";
import { IstioBase } from "../../components/istio/base";
import { IstioControlPlane } from "../../components/istio/controlPlane";
import { IstioDefaultValidator } from "../../components/istio/defaultValidator";
import { IstioIngressGateway } from "../../components/istio/ingressGateway";
import { LB_ADDRESS, mocks, unwrap, useMocks } from "../support/harness";
import { runToEnd } from "../support/process";
import { ROOT } from "../support/stacks";

const charts = { repository: "https://blob.istio.io/istio-release/charts", version: "1.30.3" };

async function ingressWith(hosts?: string[]): Promise<BookinfoIngress> {
    const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
    const base = new IstioBase("istio", { provider, charts });
    const controlPlane = new IstioControlPlane("istio", { provider, charts, base });
    const gateway = new IstioIngressGateway("istio", { provider, charts, injection: controlPlane.injection });
    const { validation } = new IstioDefaultValidator("istio", { provider, controlPlane });
    const ingress = new BookinfoIngress("bookinfo", { provider, validation, gateway, namespace: "bookinfo", hosts });
    await unwrap(ingress.gatewayUrl);
    return ingress;
}

describe("bookinfoHosts", () => {
    const hosts = configSchema.shape.bookinfoHosts;

    it("takes host names, *.<domain> wildcards and *, as a list", () => {
        expect(hosts.parse('["bookinfo.example.com","*.apps.example.com"]')).to.deep.equal(["bookinfo.example.com", "*.apps.example.com"]);
        expect(hosts.parse(["*"])).to.deep.equal(["*"]);
        expect(hosts.parse(undefined)).to.equal(undefined);
    });

    it("refuses what a Gateway cannot serve, naming the value", () => {
        const message = (value: unknown) => hosts.safeParse(value).error?.issues.map((i) => i.message).join("; ");
        expect(message("bookinfo.example.com")).to.equal("expected a list of host names, e.g. [\"bookinfo.example.com\"]");
        expect(message([])).to.equal("expected at least one host");
        expect(message(["Bookinfo.Example.com"])).to.equal("\"Bookinfo.Example.com\" is not allowed: expected a host name, a *.<domain> wildcard, or * (any host)");
        expect(message(["books.*.example.com"])).to.include("is not allowed");
        expect(message(["https://bookinfo.example.com"])).to.include("is not allowed");
    });
});

describe("BookinfoIngress with named hosts", () => {
    before(() => useMocks());
    beforeEach(() => mocks.reset());

    it("serves only those hosts, and names the page by its host", async () => {
        const ingress = await ingressWith(["bookinfo.example.com", "*.books.example.com"]);
        expect(mocks.find("kubernetes:networking.istio.io/v1:Gateway", "bookinfo-gateway").inputs.spec).to.deep.include({
            servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["bookinfo.example.com", "*.books.example.com"] }],
        });
        expect((mocks.find("kubernetes:networking.istio.io/v1:VirtualService", "bookinfo-virtualservice").inputs.spec as { hosts: string[] }).hosts)
            .to.deep.equal(["bookinfo.example.com", "*.books.example.com"]);
        expect(ingress.host).to.equal("bookinfo.example.com");
        expect(await unwrap(ingress.productPageUrl)).to.equal("http://bookinfo.example.com/productpage");
        expect(await unwrap(ingress.gatewayUrl)).to.equal(`http://${LB_ADDRESS}/productpage`);
    });

    it("sends productpage.<domain> for a wildcard, and no Host of its own when any host is served", async () => {
        expect((await ingressWith(["*.books.example.com"])).host).to.equal("productpage.books.example.com");
        const any = await ingressWith();
        expect(any.host).to.equal(undefined);
        expect(await unwrap(any.productPageUrl)).to.equal(`http://${LB_ADDRESS}/productpage`);
    });

    it("hands the Host header to the check script only when there is one", async () => {
        const checks = [
            new ProductPageCheck("named", { url: `http://${LB_ADDRESS}/productpage`, host: "bookinfo.example.com" }),
            new ProductPageCheck("any", { url: `http://${LB_ADDRESS}/productpage` }),
        ];
        await Promise.all(checks.map((c) => unwrap(c.result)));
        expect((mocks.find("command:local:Command", "named").inputs.environment as Record<string, string>).PRODUCTPAGE_HOST).to.equal("bookinfo.example.com");
        expect(mocks.find("command:local:Command", "any").inputs.environment).to.not.have.property("PRODUCTPAGE_HOST");
    });
});

describe("the product page check with a Host header", function () {
    this.timeout(30_000);

    it("reaches the page through a gateway that routes by host, and fails without the host", async () => {
        const hostsSeen: string[] = [];
        const gateway = http.createServer((req, res) => {
            hostsSeen.push(req.headers.host ?? "");
            if (req.headers.host === "bookinfo.example.com" && req.url === "/productpage") {
                res.writeHead(200, { "content-type": "text/html" }).end("<html><head><title>Simple Bookstore App</title></head></html>");
            } else {
                res.writeHead(404).end();
            }
        });
        await new Promise<void>((resolve) => gateway.listen(0, "127.0.0.1", resolve));
        const url = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/productpage`;
        const run = (host?: string) => runToEnd("node", ["components/launcher/run.js", "components/bookinfo/checkProductPage.ts", "check"], {
            cwd: ROOT,
            env: { ...process.env, PRODUCTPAGE_URL: url, PRODUCTPAGE_TIMEOUT_SECONDS: "1", PRODUCTPAGE_INTERVAL_SECONDS: "0.2", ...(host ? { PRODUCTPAGE_HOST: host } : {}) },
        });
        try {
            const named = await run("bookinfo.example.com");
            expect(named.code, named.stderr).to.equal(0);
            expect(JSON.parse(named.stdout)).to.include({ url, status: 200, attempts: 1 });
            const unnamed = await run();
            expect(unnamed.code).to.equal(1);
            expect(unnamed.stderr).to.include("last answer: HTTP 404");
            expect(hostsSeen[0]).to.equal("bookinfo.example.com");
            expect(hostsSeen[1]).to.match(/^127\.0\.0\.1:\d+$/);
        } finally {
            gateway.close();
        }
    });
});
