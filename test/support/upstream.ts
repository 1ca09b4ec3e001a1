/**
 * Istio's own add-on manifests (`samples/addons/{prometheus,grafana,kiali,jaeger}.yaml`) at each release tag the
 * program pins, taken from the upstream source snapshots (`$PKS_ISTIO_MESH_UPSTREAM`, else ../shared/upstream
 * beside the clone or beside its origin, as tools/tools.sh finds them), each snapshot checked against its
 * sha256 first; and an https server with a certificate of its own, to play an add-on mirror.
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import { TELEMETRY_ADDONS } from "../../components/telemetry/manifests";
import { toolVersions } from "../../local/workspace";
import { ROOT } from "./stacks";

/** The snapshots of the releases whose add-ons the program pins (as tools/versions.env names them). */
export const ISTIO_SNAPSHOTS: Readonly<Record<string, { file: string; sha256: string }>> = {
    [toolVersions().ISTIO_PREVIOUS_VERSION]: { file: toolVersions().ISTIO_PREVIOUS_SNAPSHOT, sha256: toolVersions().ISTIO_PREVIOUS_SHA256 },
    [toolVersions().ISTIO_VERSION]: { file: toolVersions().ISTIO_SNAPSHOT, sha256: toolVersions().ISTIO_SHA256 },
};

/** Where the upstream snapshots are. */
export function upstreamDir(): string {
    if (process.env.PKS_ISTIO_MESH_UPSTREAM) {
        return process.env.PKS_ISTIO_MESH_UPSTREAM;
    }
    const beside = path.join(ROOT, "..", "shared", "upstream");
    if (fs.existsSync(beside)) {
        return beside;
    }
    const origin = execFileSync("git", ["-C", ROOT, "config", "--get", "remote.origin.url"], { encoding: "utf8" }).trim();
    return path.join(origin, "..", "shared", "upstream");
}

const extracted = new Map<string, string>();

/** A directory holding the four add-on manifests of an Istio release, unpacked from its checked snapshot. */
export function istioAddons(release: string): string {
    const known = extracted.get(release);
    if (known !== undefined) {
        return known;
    }
    const snapshot = ISTIO_SNAPSHOTS[release];
    const archive = path.join(upstreamDir(), snapshot.file);
    const sha256 = crypto.createHash("sha256").update(fs.readFileSync(archive)).digest("hex");
    if (sha256 !== snapshot.sha256) {
        throw new Error(`${archive} has sha256 ${sha256}, expected ${snapshot.sha256}`);
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `istio-${release}-addons-`));
    const files = Object.values(TELEMETRY_ADDONS).map((a) => `istio-${release}/samples/addons/${a.file}`);
    execFileSync("tar", ["-xzf", archive, "-C", dir, "--strip-components=3", ...files]);
    extracted.set(release, dir);
    return dir;
}

/** An https server on 127.0.0.1 with a self-signed certificate, answering each path as told; records the requests. */
export class HttpsMirror {
    private constructor(
        private readonly server: https.Server,
        readonly base: string,
        readonly ca: string,
        readonly caFile: string,
        private readonly routes: Map<string, (res: http.ServerResponse) => void>,
        /** The paths requested, in order. */
        readonly requested: string[],
    ) {}

    /** Starts a server whose certificate (for IP 127.0.0.1) is written to `dir`/mirror-ca.pem. */
    static async start(dir: string): Promise<HttpsMirror> {
        const key = path.join(dir, "mirror-key.pem");
        const caFile = path.join(dir, "mirror-ca.pem");
        execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", caFile], { stdio: "ignore" });
        const ca = fs.readFileSync(caFile, "utf8");
        const routes = new Map<string, (res: http.ServerResponse) => void>();
        const requested: string[] = [];
        const server = https.createServer({ key: fs.readFileSync(key), cert: ca }, (req, res) => {
            requested.push(req.url ?? "");
            const route = routes.get(req.url ?? "");
            if (route) {
                route(res);
            } else {
                res.writeHead(404).end();
            }
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        return new HttpsMirror(server, `https://127.0.0.1:${(server.address() as { port: number }).port}`, ca, caFile, routes, requested);
    }

    /** Serves a body at a path (with its Content-Length unless `chunked`). */
    serve(urlPath: string, body: Buffer | string, chunked = false): void {
        this.routes.set(urlPath, (res) => {
            if (chunked) {
                res.writeHead(200, { "content-type": "text/plain" });
                res.end(body);
            } else {
                res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(body) }).end(body);
            }
        });
    }

    /** Serves every file of a directory under a path prefix. */
    serveDir(prefix: string, dir: string): void {
        for (const file of fs.readdirSync(dir)) {
            this.serve(`${prefix}/${file}`, fs.readFileSync(path.join(dir, file)));
        }
    }

    /** Answers a path with a redirect. */
    redirect(urlPath: string, location: string, status = 302): void {
        this.routes.set(urlPath, (res) => res.writeHead(status, { location }).end());
    }

    /** Answers a path with anything, e.g. a body that never ends. */
    handle(urlPath: string, handler: (res: http.ServerResponse) => void): void {
        this.routes.set(urlPath, handler);
    }

    url(urlPath: string): string {
        return `${this.base}${urlPath}`;
    }

    close(): Promise<void> {
        this.server.closeAllConnections();
        return new Promise((resolve) => this.server.close(() => resolve()));
    }
}
