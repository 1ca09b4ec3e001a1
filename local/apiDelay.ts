/**
 * A slow path from istiod to the API server, for showing what happens while istiod has not yet written its CA
 * into its webhooks: a plain-HTTP proxy on loopback that istiod's kubeconfig points at, which forwards every
 * request to the API server with an administrator's token (client-go sends no credentials over plain HTTP),
 * except that it holds writes to ValidatingWebhookConfigurations (istiod's CA patch and its switch to
 * fail-closed) until `delayMs` after the first of them arrived. It records when each held write arrived and when
 * it went through.
 */
import * as http from "http";
import * as https from "https";

/** One write the proxy held. */
export interface HeldWrite {
    method: string;
    path: string;
    /** When it arrived and when it was forwarded (ms since the epoch; unset while held). */
    arrived: number;
    released?: number;
}

const HELD = /^\/apis\/admissionregistration\.k8s\.io\/v1\/validatingwebhookconfigurations(\/|\?|$)/;

export class WebhookWriteDelay {
    /** The writes held so far, in the order they arrived. */
    readonly held: HeldWrite[] = [];
    /** Where istiod's kubeconfig points (set once listening). */
    url = "";
    private releaseAt?: number;
    private readonly server: http.Server;
    private readonly upstream: URL;

    private constructor(apiServer: string, private readonly token: string, private readonly delayMs: number, private readonly log: (line: string) => void) {
        this.upstream = new URL(apiServer);
        this.server = http.createServer((req, res) => this.handle(req, res));
    }

    /** Listens on a free loopback port, forwarding to `apiServer` (https, its certificate not checked) as `token`. */
    static async listen(apiServer: string, token: string, delayMs: number, log: (line: string) => void): Promise<WebhookWriteDelay> {
        const proxy = new WebhookWriteDelay(apiServer, token, delayMs, log);
        await new Promise<void>((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
        proxy.url = `http://127.0.0.1:${(proxy.server.address() as { port: number }).port}`;
        return proxy;
    }

    private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
        const out = https.request({
            host: this.upstream.hostname, port: this.upstream.port, method: req.method, path: req.url, rejectUnauthorized: false,
            headers: { ...req.headers, host: this.upstream.host, authorization: `Bearer ${this.token}` },
        }, (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
        });
        out.on("error", (e) => res.destroy(e));
        req.pipe(out);
    }

    private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
        if (req.method === "GET" || req.method === "HEAD" || !HELD.test(req.url ?? "")) {
            this.forward(req, res);
            return;
        }
        const arrived = Date.now();
        this.releaseAt ??= arrived + this.delayMs;
        const wait = Math.max(0, this.releaseAt - arrived);
        this.log(`api delay: holding ${req.method} ${req.url} for ${Math.round(wait / 1000)}s`);
        const write: HeldWrite = { method: req.method ?? "", path: req.url ?? "", arrived };
        this.held.push(write);
        req.pause();
        setTimeout(() => {
            write.released = Date.now();
            req.resume();
            this.forward(req, res);
        }, wait);
    }

    async close(): Promise<void> {
        this.server.closeAllConnections();
        await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }
}
