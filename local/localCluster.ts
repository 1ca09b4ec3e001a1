/**
 * A local Kubernetes control plane for the end-to-end suite and the `local` stack, from the binaries that
 * tools/tools.sh builds: etcd, kube-apiserver (loopback, token authentication, RBAC, its default admission
 * plugins: webhooks, ValidatingAdmissionPolicy, Pod Security), kube-controller-manager, kube-scheduler, kwok
 * playing one node and its kubelet (pods become Ready without running anything) — and the real istiod: every
 * istiod pod scheduled on the node runs as a `pilot-discovery` process (istiodKubelet.ts), and the API server
 * reaches its webhooks through its egress selector and a CONNECT proxy (egressProxy.ts). The harness also plays
 * what nothing else plays here:
 *
 * - the cloud load balancer: every `type: LoadBalancer` Service gets `status.loadBalancer.ingress[0].ip` =
 *   127.0.0.1;
 * - the Envoy behind that address: http://127.0.0.1:80/productpage answers as Bookinfo would — 200 with the
 *   title "Simple Bookstore App" — only while the cluster really holds what makes it answer (a Gateway on port
 *   80, a VirtualService routing /productpage to productpage:9080, an Available productpage-v1 Deployment),
 *   503 otherwise.
 *
 * State (etcd data, keys, tokens, ports) stays in `dir`, so a stopped control plane restarts with everything it
 * held: `npm run local -- up` and a later `npm run local -- destroy` see the same cluster.
 */
import { ChildProcess, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { WebhookWriteDelay } from "./apiDelay";
import { EgressProxy, ServiceView } from "./egressProxy";
import { ISTIOD_POD_LABEL, IstiodKubelet } from "./istiodKubelet";
import { freePort } from "./ports";

export interface LocalClusterOptions {
    /** Directory for the cluster's state and logs. */
    dir: string;
    /** Directory with the tools (`tools/tools.sh --print-bin`). */
    toolsBin: string;
    /** Where progress lines go. */
    log?: (line: string) => void;
    /**
     * Holds istiod's writes to ValidatingWebhookConfigurations (its CA patch, its switch to fail-closed) for this
     * long after the first of them (apiDelay.ts): a cluster where istiod is slow to secure its webhooks.
     */
    istiodWebhookWriteDelayMs?: number;
}

/** Two bearer tokens of cluster administrators, so a test can rotate the kubeconfig's credentials. */
export interface Tokens {
    first: string;
    second: string;
}

interface Ports {
    etcdClient: number;
    etcdPeer: number;
    apiserver: number;
    controllerManager: number;
    scheduler: number;
    kwok: number;
}

export const LOAD_BALANCER_IP = "127.0.0.1";
export const NODE_NAME = "kwok-node-0";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class LocalCluster {
    private readonly processes: Array<{ name: string; child: ChildProcess }> = [];
    private loadBalancer?: NodeJS.Timeout;
    private productPage?: http.Server;
    private egress?: EgressProxy;
    /** The istiod processes (one per scheduled istiod pod). */
    istiod?: IstiodKubelet;
    /** The slow path of istiod's webhook writes, with `istiodWebhookWriteDelayMs`. */
    webhookWriteDelay?: WebhookWriteDelay;
    readonly server: string;

    private constructor(private readonly options: LocalClusterOptions, private readonly ports: Ports, readonly tokens: Tokens) {
        this.server = `https://127.0.0.1:${ports.apiserver}`;
    }

    private get log(): (line: string) => void {
        return this.options.log ?? (() => undefined);
    }

    /** Starts (or restarts, from its state) the control plane and waits until it serves. */
    static async start(options: LocalClusterOptions): Promise<LocalCluster> {
        const dir = options.dir;
        fs.mkdirSync(path.join(dir, "logs"), { recursive: true });
        const portsFile = path.join(dir, "ports.json");
        const ports: Ports = fs.existsSync(portsFile) ? JSON.parse(fs.readFileSync(portsFile, "utf8")) as Ports : {
            etcdClient: await freePort(), etcdPeer: await freePort(), apiserver: await freePort(),
            controllerManager: await freePort(), scheduler: await freePort(), kwok: await freePort(),
        };
        fs.writeFileSync(portsFile, JSON.stringify(ports));
        const tokensFile = path.join(dir, "tokens.json");
        const tokens: Tokens = fs.existsSync(tokensFile) ? JSON.parse(fs.readFileSync(tokensFile, "utf8")) as Tokens
            : { first: crypto.randomBytes(24).toString("hex"), second: crypto.randomBytes(24).toString("hex") };
        fs.writeFileSync(tokensFile, JSON.stringify(tokens), { mode: 0o600 });
        const cluster = new LocalCluster(options, ports, tokens);
        try {
            await cluster.boot();
        } catch (e) {
            await cluster.stop();
            throw e;
        }
        return cluster;
    }

    /**
     * The CA of the API server's certificate (base64 PEM): kube-apiserver's self-signed serving certificate, which
     * it writes, followed by the CA that signed it, into its certificate directory on first start (its names include
     * 127.0.0.1). Known once the API server has started.
     */
    get certificateAuthorityData(): string {
        return fs.readFileSync(this.file("certs", "apiserver.crt")).toString("base64");
    }

    /**
     * A kubeconfig for a cluster administrator with the given token (of the API server, or of a proxy to it that
     * presents the API server's certificate), verifying the API server's certificate.
     */
    kubeconfig(token = this.tokens.first, server = this.server): string {
        return [
            "apiVersion: v1", "kind: Config",
            "clusters:", `- name: local`, `  cluster: {server: "${server}", certificate-authority-data: "${this.certificateAuthorityData}"}`,
            "users:", `- name: admin`, `  user: {token: "${token}"}`,
            "contexts:", `- name: local`, `  context: {cluster: local, user: admin}`,
            "current-context: local", "",
        ].join("\n");
    }

    private file(...parts: string[]): string {
        return path.join(this.options.dir, ...parts);
    }

    private run(name: string, args: string[]): ChildProcess {
        const out = fs.openSync(this.file("logs", `${name}.log`), "a");
        const child = spawn(path.join(this.options.toolsBin, name), args, { stdio: ["ignore", out, out] });
        fs.closeSync(out);
        this.processes.push({ name, child });
        child.on("exit", (code, signal) => {
            if (this.processes.some((p) => p.child === child)) {
                this.log(`local cluster: ${name} exited (${code ?? signal}); see ${this.file("logs", `${name}.log`)}`);
            }
        });
        return child;
    }

    private async waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
        const started = Date.now();
        for (;;) {
            if (await check().catch(() => false)) {
                return;
            }
            if (Date.now() - started > timeoutMs) {
                throw new Error(`local cluster: ${what} did not come up within ${timeoutMs / 1000}s; see ${this.file("logs")}`);
            }
            await sleep(250);
        }
    }

    private async boot(): Promise<void> {
        const { ports } = this;
        const started = Date.now();
        const pki = this.file("pki");
        fs.mkdirSync(pki, { recursive: true });
        if (!fs.existsSync(path.join(pki, "sa.key"))) {
            const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
            fs.writeFileSync(path.join(pki, "sa.key"), privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
            fs.writeFileSync(path.join(pki, "sa.pub"), publicKey.export({ type: "spki", format: "pem" }));
        }
        fs.writeFileSync(path.join(pki, "tokens.csv"),
            `${this.tokens.first},pks-admin,pks-admin,system:masters\n${this.tokens.second},pks-admin-rotated,pks-admin-rotated,system:masters\n`,
            { mode: 0o600 });

        this.run("etcd", [
            "--name", "local", "--data-dir", this.file("etcd"),
            "--listen-client-urls", `http://127.0.0.1:${ports.etcdClient}`, "--advertise-client-urls", `http://127.0.0.1:${ports.etcdClient}`,
            "--listen-peer-urls", `http://127.0.0.1:${ports.etcdPeer}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${ports.etcdPeer}`,
            "--initial-cluster", `local=http://127.0.0.1:${ports.etcdPeer}`, "--auto-compaction-retention", "1", "--log-level", "warn",
        ]);
        await this.waitFor("etcd", async () => (await fetch(`http://127.0.0.1:${ports.etcdClient}/health`)).ok);

        // Webhook calls (and any other API server → cluster connection) go through the egress proxy.
        const socket = this.file("egress.sock").length < 100 ? this.file("egress.sock")
            : path.join(os.tmpdir(), `pks-istio-mesh-egress-${crypto.createHash("sha256").update(this.options.dir).digest("hex").slice(0, 12)}.sock`);
        // istiod reaches the API server directly, or (istiodWebhookWriteDelayMs) through the delaying proxy.
        const istiodKubeconfig = this.options.istiodWebhookWriteDelayMs === undefined ? this.file("admin.kubeconfig") : this.file("istiod.kubeconfig");
        this.istiod = new IstiodKubelet({
            toolsBin: this.options.toolsBin, dir: this.file("pods"), kubeconfigPath: istiodKubeconfig, log: this.log,
            request: (method, urlPath, body, contentType) => this.request(method, urlPath, body, contentType),
        });
        this.egress = await EgressProxy.listen(socket, (ip) => this.serviceByClusterIP(ip), this.istiod, this.log);
        fs.writeFileSync(this.file("egress-selector.yaml"), YAML.stringify({
            apiVersion: "apiserver.k8s.io/v1beta1",
            kind: "EgressSelectorConfiguration",
            egressSelections: [{
                name: "cluster",
                // A Unix socket: kube-apiserver 1.34 panics on a TCP transport without TLS settings.
                connection: { proxyProtocol: "HTTPConnect", transport: { uds: { udsName: socket } } },
            }],
        }));

        this.run("kube-apiserver", [
            "--etcd-servers", `http://127.0.0.1:${ports.etcdClient}`,
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", String(ports.apiserver),
            "--endpoint-reconciler-type", "none", "--cert-dir", this.file("certs"),
            "--token-auth-file", path.join(pki, "tokens.csv"), "--authorization-mode", "RBAC",
            "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file", path.join(pki, "sa.pub"), "--service-account-signing-key-file", path.join(pki, "sa.key"),
            "--service-cluster-ip-range", "10.96.0.0/16",
            "--egress-selector-config-file", this.file("egress-selector.yaml"),
        ]);
        await this.waitFor("kube-apiserver", async () => (await this.request("GET", "/readyz")).status === 200, 120_000);
        // Its certificate exists now: every kubeconfig verifies it.
        fs.writeFileSync(this.file("admin.kubeconfig"), this.kubeconfig(), { mode: 0o600 });

        const kubeconfig = this.file("admin.kubeconfig");
        this.run("kube-controller-manager", [
            "--kubeconfig", kubeconfig, "--authentication-kubeconfig", kubeconfig, "--authorization-kubeconfig", kubeconfig,
            "--service-account-private-key-file", path.join(pki, "sa.key"), "--root-ca-file", this.file("certs", "apiserver.crt"),
            "--leader-elect=false", "--bind-address", "127.0.0.1", "--secure-port", String(ports.controllerManager),
            "--use-service-account-credentials=false",
        ]);
        this.run("kube-scheduler", [
            "--kubeconfig", kubeconfig, "--authentication-kubeconfig", kubeconfig, "--authorization-kubeconfig", kubeconfig,
            "--leader-elect=false", "--bind-address", "127.0.0.1", "--secure-port", String(ports.scheduler),
        ]);
        const node = await this.request("GET", `/api/v1/nodes/${NODE_NAME}`);
        if (node.status === 404) {
            await this.ok("POST", "/api/v1/nodes", {
                apiVersion: "v1", kind: "Node",
                metadata: { name: NODE_NAME, annotations: { "kwok.x-k8s.io/node": "fake" }, labels: { "kubernetes.io/hostname": NODE_NAME, type: "kwok" } },
            });
        }
        this.run("kwok", [
            "--kubeconfig", kubeconfig, "--manage-all-nodes=false", "--manage-nodes-with-annotation-selector", "kwok.x-k8s.io/node=fake",
            "--cidr", "10.244.0.0/24", "--node-ip", "10.0.0.10", "--node-lease-duration-seconds", "40",
            "--server-address", `127.0.0.1:${ports.kwok}`,
            ...this.kwokStages().flatMap((f) => ["-c", f]),
        ]);
        await this.waitFor("the kwok node", async () => {
            const status = (await this.json<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(`/api/v1/nodes/${NODE_NAME}`)).status;
            return status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
        });
        await this.waitFor("the default service account", async () => (await this.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")).status === 200);

        if (this.options.istiodWebhookWriteDelayMs !== undefined) {
            this.webhookWriteDelay = await WebhookWriteDelay.listen(this.server, this.tokens.first, this.options.istiodWebhookWriteDelayMs, this.log);
            fs.writeFileSync(istiodKubeconfig, this.kubeconfig(this.tokens.first, this.webhookWriteDelay.url), { mode: 0o600 });
        }
        this.istiod.start();
        this.loadBalancer = setInterval(() => { this.playLoadBalancer().catch(() => undefined); }, 500);
        await this.playProductPage();
        this.log(`local cluster: ready at ${this.server} in ${Math.round((Date.now() - started) / 1000)}s (state in ${this.options.dir})`);
    }

    /**
     * kwok's stages, except that its pod-ready stage leaves istiod pods alone: their process reports readiness
     * (istiodKubelet.ts).
     */
    private kwokStages(): string[] {
        const dir = path.join(this.options.toolsBin, "kwok-stages");
        return fs.readdirSync(dir).sort().map((f) => {
            if (f !== "pod-ready.yaml") {
                return path.join(dir, f);
            }
            const stage = YAML.parse(fs.readFileSync(path.join(dir, f), "utf8")) as { spec: { selector: { matchExpressions: unknown[] } } };
            stage.spec.selector.matchExpressions.push({ key: `.metadata.labels.${ISTIOD_POD_LABEL.key}`, operator: "NotIn", values: [ISTIOD_POD_LABEL.value] });
            const file = this.file("kwok-pod-ready.yaml");
            fs.writeFileSync(file, YAML.stringify(stage));
            return file;
        });
    }

    /** The Service that has this cluster IP, as the egress proxy routes to it. */
    private async serviceByClusterIP(ip: string): Promise<ServiceView | undefined> {
        const list = await this.json<{ items: Array<{ spec: ServiceView }> }>("/api/v1/services");
        return list.items.find((s) => s.spec.clusterIP === ip)?.spec;
    }

    /** Gives every LoadBalancer Service without an address the loopback address, as a cloud controller would. */
    private async playLoadBalancer(): Promise<void> {
        const services = await this.json<{ items: Array<{ metadata: { name: string; namespace: string }; spec: { type: string }; status?: { loadBalancer?: { ingress?: unknown[] } } }> }>("/api/v1/services");
        for (const svc of services.items) {
            if (svc.spec.type === "LoadBalancer" && !(svc.status?.loadBalancer?.ingress?.length)) {
                await this.request("PATCH", `/api/v1/namespaces/${svc.metadata.namespace}/services/${svc.metadata.name}/status`,
                    { status: { loadBalancer: { ingress: [{ ip: LOAD_BALANCER_IP }] } } }, "application/merge-patch+json");
                this.log(`local cluster: load balancer address ${LOAD_BALANCER_IP} for ${svc.metadata.namespace}/${svc.metadata.name}`);
            }
        }
    }

    /** Whether the cluster holds what makes Bookinfo's product page answer through the gateway. */
    async productPageRouted(): Promise<boolean> {
        type List<T> = { items: T[] };
        const gateways = await this.json<List<{ spec: { servers: Array<{ port: { number: number } }> } }>>("/apis/networking.istio.io/v1/gateways");
        const services = await this.json<List<{ spec: { http?: Array<{ match?: Array<{ uri?: { exact?: string } }>; route: Array<{ destination: { host: string; port?: { number: number } } }> }> } }>>("/apis/networking.istio.io/v1/virtualservices");
        const deployments = await this.json<List<{ metadata: { name: string }; status?: { conditions?: Array<{ type: string; status: string }> } }>>("/apis/apps/v1/deployments");
        const listens = gateways.items.some((g) => g.spec.servers.some((s) => s.port.number === 80));
        const routes = services.items.some((vs) => (vs.spec.http ?? []).some((h) =>
            (h.match ?? []).some((m) => m.uri?.exact === "/productpage")
            && h.route.some((r) => r.destination.host === "productpage" && r.destination.port?.number === 9080)));
        const available = deployments.items.some((d) => d.metadata.name === "productpage-v1"
            && (d.status?.conditions ?? []).some((c) => c.type === "Available" && c.status === "True"));
        return listens && routes && available;
    }

    /** Whether the harness answers for the product page (false when port 80 cannot be bound, e.g. not root). */
    servesProductPage = false;

    private async playProductPage(): Promise<void> {
        this.productPage = http.createServer((req, res) => {
            this.productPageRouted().then((routed) => {
                if (routed && req.url === "/productpage") {
                    res.writeHead(200, { "content-type": "text/html" }).end("<html><head><title>Simple Bookstore App</title></head><body>The Comedy of Errors</body></html>");
                } else {
                    res.writeHead(routed ? 404 : 503).end(routed ? "" : "no healthy upstream");
                }
            }, () => res.writeHead(503).end("no healthy upstream"));
        });
        this.servesProductPage = await new Promise<boolean>((resolve) => {
            this.productPage!.once("error", (e: NodeJS.ErrnoException) => {
                this.log(`local cluster: cannot answer for the product page on ${LOAD_BALANCER_IP}:80 (${e.code}); its check must be skipped`);
                resolve(false);
            });
            this.productPage!.listen(80, LOAD_BALANCER_IP, () => resolve(true));
        });
    }

    /** A request to the API server as a cluster administrator (or as the holder of another bearer token). */
    request(method: string, urlPath: string, body?: unknown, contentType = "application/json", token = this.tokens.first): Promise<{ status: number; body: string }> {
        return new Promise((resolve, reject) => {
            const req = https.request(`${this.server}${urlPath}`, {
                method,
                rejectUnauthorized: false,
                headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": contentType }) },
            }, (res) => {
                let text = "";
                res.on("data", (d: Buffer) => { text += d.toString(); });
                res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
            });
            req.on("error", reject);
            req.end(body === undefined ? undefined : JSON.stringify(body));
        });
    }

    private async ok(method: string, urlPath: string, body?: unknown): Promise<string> {
        const res = await this.request(method, urlPath, body);
        if (res.status >= 300) {
            throw new Error(`${method} ${urlPath}: HTTP ${res.status}: ${res.body.slice(0, 300)}`);
        }
        return res.body;
    }

    /** GET a path and parse the JSON answer (throws on an error status). */
    async json<T>(urlPath: string): Promise<T> {
        return JSON.parse(await this.ok("GET", urlPath)) as T;
    }

    /** The names of the objects at a list path (an empty list when the resource type is not served). */
    async names(listPath: string): Promise<string[]> {
        const res = await this.request("GET", listPath);
        if (res.status === 404) {
            return [];
        }
        if (res.status >= 300) {
            throw new Error(`GET ${listPath}: HTTP ${res.status}`);
        }
        return (JSON.parse(res.body) as { items: Array<{ metadata: { name: string; namespace?: string } }> }).items
            .map((i) => (i.metadata.namespace ? `${i.metadata.namespace}/${i.metadata.name}` : i.metadata.name));
    }

    /** Stops every process (newest first) and the players. */
    async stop(): Promise<void> {
        clearInterval(this.loadBalancer);
        await this.istiod?.stop();
        await new Promise<void>((resolve) => (this.servesProductPage ? this.productPage!.close(() => resolve()) : resolve()));
        for (const { child } of this.processes.splice(0).reverse()) {
            if (child.exitCode === null && child.signalCode === null) {
                const exited = new Promise((resolve) => child.once("exit", resolve));
                child.kill("SIGTERM");
                await Promise.race([exited, sleep(10_000)]);
                child.kill("SIGKILL");
            }
        }
        await this.egress?.close();
        await this.webhookWriteDelay?.close();
    }
}
