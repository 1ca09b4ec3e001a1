/**
 * A real PostgreSQL server for the shared-state test, started the way a site runs one for Pulumi's state: Debian's
 * server binaries (tools/tools.sh links them), a data directory of its own, listening on loopback only, TLS
 * with a certificate of a test CA, and password (SCRAM) authentication for every network connection; plain-text
 * network connections are refused. The superuser is reached over the server's own Unix socket only.
 *
 * PostgreSQL refuses to run as root: when the test runs as root (CI), the server and initdb run as Debian's
 * `postgres` user, in a directory that user owns.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ProcessResult, runToEnd } from "./process";
import { freePort } from "../../local/ports";

export interface PostgresOptions {
    /** The tools directory (initdb, pg_ctl, postgres, psql). */
    toolsBin: string;
    log: (line: string) => void;
}

/** The account PostgreSQL runs as: ours, or Debian's `postgres` user when we are root. */
function serverAccount(): { uid: number; gid: number } | undefined {
    if (process.getuid?.() !== 0) {
        return undefined;
    }
    const entry = fs.readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith("postgres:"));
    if (!entry) {
        throw new Error("running as root, and there is no postgres user to run PostgreSQL as (apt-get install postgresql creates it)");
    }
    const [, , uid, gid] = entry.split(":");
    return { uid: Number(uid), gid: Number(gid) };
}

export class PostgresServer {
    private constructor(
        /** The server's directory: data/, run/ (its socket), tls/, postgres.log. */
        public readonly dir: string,
        public readonly port: number,
        private readonly bin: string,
        private readonly account: { uid: number; gid: number } | undefined,
    ) {}

    /** The CA certificate that signed the server's certificate (a client's `sslrootcert`). */
    get caFile(): string {
        return path.join(this.dir, "tls", "ca.crt");
    }

    /** Creates a cluster in a fresh directory and starts the server; resolves once it accepts connections. */
    static async start(options: PostgresOptions): Promise<PostgresServer> {
        const account = serverAccount();
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pks-istio-mesh-postgres-"));
        const server = new PostgresServer(dir, await freePort(), options.toolsBin, account);
        for (const sub of ["run", "tls"]) {
            fs.mkdirSync(path.join(dir, sub));
        }
        server.createCertificates();
        if (account) {
            execFileSync("chown", ["-R", `${account.uid}:${account.gid}`, dir]);
        }
        const started = Date.now();
        await server.run("initdb", ["-D", path.join(dir, "data"), "-U", "postgres", "--auth-local=trust", "--auth-host=reject", "-E", "UTF8", "--no-instructions"]);
        fs.writeFileSync(path.join(dir, "data", "pg_hba.conf"), [
            "# The superuser only over the server's own socket; every network connection with TLS and a password.",
            "local all postgres trust",
            "hostssl all all 127.0.0.1/32 scram-sha-256",
            "hostnossl all all 0.0.0.0/0 reject",
            "",
        ].join("\n"));
        fs.appendFileSync(path.join(dir, "data", "postgresql.conf"), [
            "",
            "listen_addresses = '127.0.0.1'",
            `port = ${server.port}`,
            `unix_socket_directories = '${path.join(dir, "run")}'`,
            "ssl = on",
            `ssl_cert_file = '${path.join(dir, "tls", "server.crt")}'`,
            `ssl_key_file = '${path.join(dir, "tls", "server.key")}'`,
            "password_encryption = scram-sha-256",
            // A test server: durability is not what is tested.
            "fsync = off",
            "",
        ].join("\n"));
        await server.run("pg_ctl", ["-D", path.join(dir, "data"), "-l", path.join(dir, "postgres.log"), "-w", "-t", "60", "start"]);
        options.log(`PostgreSQL ${(await server.run("postgres", ["--version"])).stdout.trim()} on 127.0.0.1:${server.port} (TLS), ready in ${Date.now() - started} ms, in ${dir}`);
        return server;
    }

    /** A CA and a server certificate for 127.0.0.1 and localhost, signed by it. */
    private createCertificates(): void {
        const tls = path.join(this.dir, "tls");
        const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: tls, stdio: "pipe" });
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=pks-istio-mesh test CA", "-keyout", "ca.key", "-out", "ca.crt");
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr");
        fs.writeFileSync(path.join(tls, "server.ext"), "subjectAltName = IP:127.0.0.1, DNS:localhost\n");
        openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.crt");
        fs.chmodSync(path.join(tls, "server.key"), 0o600);
        fs.chmodSync(path.join(tls, "ca.crt"), 0o644);
        fs.chmodSync(tls, 0o755);
        fs.chmodSync(this.dir, 0o755);
    }

    /**
     * Runs one of the server's programs as the server's account; fails with its output. (By its real path: the
     * tools directory's links may sit where that account cannot look, e.g. under root's home.)
     */
    private async run(program: string, args: string[], stdin?: string): Promise<ProcessResult> {
        const result = await runToEnd(fs.realpathSync(path.join(this.bin, program)), args, { ...this.account, stdin, cwd: this.dir });
        if (result.code !== 0) {
            throw new Error(`${program} ${args.join(" ")} exited ${result.code}:\n${result.stdout}${result.stderr}`);
        }
        return result;
    }

    /** Runs SQL (psql's input: statements and meta-commands) as the superuser over the socket, stopping at an error. */
    async sql(input: string, database = "postgres"): Promise<string> {
        const args = ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", path.join(this.dir, "run"), "-p", String(this.port), "-U", "postgres", "-d", database];
        return (await this.run("psql", args, input)).stdout;
    }

    /** Stops the server (fast shutdown) and removes its directory. */
    async stop(): Promise<void> {
        if (fs.existsSync(path.join(this.dir, "data", "postmaster.pid"))) {
            await this.run("pg_ctl", ["-D", path.join(this.dir, "data"), "-m", "fast", "-w", "stop"]);
        }
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
