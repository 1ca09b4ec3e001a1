/**
 * The product page check: the script against a real local HTTP server (run as the command provider runs it),
 * and the component's Command under the mocks.
 */
import { expect } from "chai";
import * as http from "http";
import { AddressInfo } from "net";
import { ProductPageCheck } from "../../components/bookinfo/productPageCheck";
import { mocks, unwrap, useMocks } from "../support/harness";
import { ProcessResult, runToEnd } from "../support/process";
import { ROOT } from "../support/stacks";

const PAGE = "<html><head><title>Simple Bookstore App</title></head><body>Book Details</body></html>";

/** A product page that fails `failures` times (503), then answers with `body`. */
function server(failures: number, body = PAGE): Promise<{ url: string; hits: () => number; close: () => void }> {
    let hits = 0;
    const srv = http.createServer((req, res) => {
        hits += 1;
        if (req.url !== "/productpage") {
            res.writeHead(404).end();
        } else if (hits <= failures) {
            res.writeHead(503).end("upstream connect error or disconnect/reset before headers");
        } else {
            res.writeHead(200, { "content-type": "text/html" }).end(body);
        }
    });
    return new Promise((resolve) => srv.listen(0, "127.0.0.1", () => resolve({
        url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/productpage`,
        hits: () => hits,
        close: () => srv.close(),
    })));
}

function check(url: string, timeoutSeconds: number): Promise<ProcessResult> {
    return runToEnd("node", ["components/launcher/run.js", "components/bookinfo/checkProductPage.ts", "check"], {
        cwd: ROOT,
        env: { ...process.env, PRODUCTPAGE_URL: url, PRODUCTPAGE_TIMEOUT_SECONDS: String(timeoutSeconds), PRODUCTPAGE_INTERVAL_SECONDS: "0.2" },
    });
}

describe("the product page check", function () {
    this.timeout(30_000);

    it("retries with a progress line per attempt until the page answers 200 with its title", async () => {
        const page = await server(2);
        try {
            const run = await check(page.url, 20);
            expect(run.code, run.stderr).to.equal(0);
            const result = JSON.parse(run.stdout) as { status: number; title: string; attempts: number };
            expect(result).to.include({ status: 200, title: "Simple Bookstore App", attempts: 3 });
            expect(run.stderr.match(/HTTP 503/g)).to.have.length(2);
            expect(page.hits()).to.equal(3);
        } finally {
            page.close();
        }
    });

    it("fails at the timeout naming the last answer when the title never appears", async () => {
        const page = await server(0, "<html><head><title>Welcome to nginx!</title></head></html>");
        try {
            const run = await check(page.url, 1);
            expect(run.code).to.equal(1);
            expect(run.stdout).to.equal("");
            expect(run.stderr).to.match(/productpage check failed: no HTTP 200 with title "Simple Bookstore App" from .* within 1s; last answer: HTTP 200, title "Welcome to nginx!"/);
        } finally {
            page.close();
        }
    });

    it("reports a refused connection", async () => {
        const page = await server(0);
        page.close();
        const run = await check(page.url, 1);
        expect(run.code).to.equal(1);
        expect(run.stderr).to.include("last answer: ECONNREFUSED");
    });
});

describe("ProductPageCheck", () => {
    before(() => useMocks());

    it("runs the check script with the URL and timing, and exposes its result", async () => {
        const component = new ProductPageCheck("productpage", { url: "http://203.0.113.10/productpage", timeoutSeconds: 120, intervalSeconds: 5 });
        expect(await unwrap(component.result)).to.deep.include({ status: 200, title: "Simple Bookstore App" });
        const command = mocks.find("command:local:Command", "productpage");
        expect(command.inputs.interpreter).to.deep.equal(["node", "components/launcher/run.js", "components/bookinfo/checkProductPage.ts"]);
        expect(command.inputs.environment).to.deep.equal({
            PRODUCTPAGE_URL: "http://203.0.113.10/productpage", PRODUCTPAGE_TIMEOUT_SECONDS: "120", PRODUCTPAGE_INTERVAL_SECONDS: "5",
        });
        expect(command.inputs.logging).to.equal("stderr");
    });
});
