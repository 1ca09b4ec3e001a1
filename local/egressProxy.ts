/**
 * The network between the local kube-apiserver and the pods the harness runs as processes (istiod).
 *
 * kube-apiserver's egress selector sends every "cluster" connection (admission webhooks among them) as an HTTP
 * CONNECT over a Unix socket. This proxy answers those CONNECTs the way kube-proxy would route the traffic: the
 * target is a Service's cluster IP and port, the Service's selector picks a ready pod, and the Service's
 * targetPort picks the container port that the pod's process listens on, on loopback. TLS stays end to end (the
 * API server checks the webhook's certificate). Anything else is refused: the proxy dials nothing but
 * 127.0.0.1 ports that a running pod process has published.
 */
import * as fs from "fs";
import * as net from "net";

/** A Service as the proxy needs it. */
export interface ServiceView {
    clusterIP?: string;
    selector?: Record<string, string>;
    ports: Array<{ port: number; targetPort?: number | string }>;
}

/** Where the pod processes listen: the loopback port for a container port of a pod whose labels match. */
export interface Endpoints {
    /** The loopback port serving `containerPort` in a ready pod selected by `selector`, if any. */
    resolve(selector: Record<string, string>, containerPort: number | string): number | undefined;
}

/** Where the proxy looks the target Service up. */
export type ServiceLookup = (clusterIP: string) => Promise<ServiceView | undefined>;

export class EgressProxy {
    private readonly server: net.Server;

    private constructor(private readonly lookup: ServiceLookup, private readonly endpoints: Endpoints, private readonly log: (line: string) => void) {
        this.server = net.createServer((socket) => this.accept(socket));
    }

    /** Listens on the Unix socket `path` (replacing a stale one); `log` gets a line per refused or failed CONNECT. */
    static async listen(path: string, lookup: ServiceLookup, endpoints: Endpoints, log: (line: string) => void): Promise<EgressProxy> {
        fs.rmSync(path, { force: true });
        const proxy = new EgressProxy(lookup, endpoints, log);
        await new Promise<void>((resolve, reject) => {
            proxy.server.once("error", reject);
            proxy.server.listen(path, () => resolve());
        });
        return proxy;
    }

    private accept(socket: net.Socket): void {
        let head = Buffer.alloc(0);
        const onData = (chunk: Buffer) => {
            head = Buffer.concat([head, chunk]);
            const end = head.indexOf("\r\n\r\n");
            if (end < 0) {
                if (head.length > 8192) {
                    socket.destroy();
                }
                return;
            }
            socket.off("data", onData);
            socket.pause();
            const requestLine = head.subarray(0, head.indexOf("\r\n")).toString("latin1");
            const rest = head.subarray(end + 4);
            this.connect(socket, requestLine, rest).catch((e: Error) => this.refuse(socket, requestLine, `502 Bad Gateway`, e.message));
        };
        socket.on("data", onData);
        socket.on("error", () => socket.destroy());
    }

    private async connect(socket: net.Socket, requestLine: string, rest: Buffer): Promise<void> {
        const m = /^CONNECT (\d+\.\d+\.\d+\.\d+):(\d+) HTTP\/1\.[01]$/.exec(requestLine);
        if (!m) {
            this.refuse(socket, requestLine, "405 Method Not Allowed", "only CONNECT to a cluster IP is served");
            return;
        }
        const [, ip, portText] = m;
        const service = await this.lookup(ip);
        const servicePort = service?.ports.find((p) => p.port === Number(portText));
        if (!service || !servicePort || !service.selector) {
            this.refuse(socket, requestLine, "404 Not Found", "no Service with a selector has that cluster IP and port");
            return;
        }
        const local = this.endpoints.resolve(service.selector, servicePort.targetPort ?? servicePort.port);
        if (local === undefined) {
            this.refuse(socket, requestLine, "503 Service Unavailable", "no ready pod process serves it");
            return;
        }
        const upstream = net.connect(local, "127.0.0.1");
        let spliced = false;
        upstream.once("connect", () => {
            spliced = true;
            socket.write("HTTP/1.1 200 Connection established\r\n\r\n");
            if (rest.length > 0) {
                upstream.write(rest);
            }
            socket.pipe(upstream).pipe(socket);
            socket.resume();
        });
        upstream.on("error", (e) => (spliced ? socket.destroy() : this.refuse(socket, requestLine, "502 Bad Gateway", e.message)));
        socket.once("close", () => upstream.destroy());
        upstream.once("close", () => socket.destroy());
    }

    private refuse(socket: net.Socket, requestLine: string, status: string, why: string): void {
        this.log(`egress proxy: ${requestLine}: ${status} (${why})`);
        if (!socket.destroyed) {
            socket.end(`HTTP/1.1 ${status}\r\ncontent-length: 0\r\n\r\n`);
        }
    }

    close(): Promise<void> {
        return new Promise((resolve) => this.server.close(() => resolve()));
    }
}
