/**
 * The simulator's login sessions: `login` (a user with `-u` and `-p` or the password prompt, or a UAA client with
 * `--client-name` and `--client-secret`), `logout`, and the session every other command needs, kept in
 * `$PKS_HOME/creds.yml` (login.html.md.erb) and refreshed while the refresh token lives (_uaa.html.md.erb).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { cliName, flag, parseArgs, prompt, str } from "./cli";
import { credentialsRejected, notAuthenticated, notEnoughPrivileges, undocumented } from "./messages";
import { SimPrincipal, SimSettings, withState } from "./state";

export interface Session {
    api: string;
    principal: string;
    kind: "user" | "client";
    access_token: string;
    access_token_expires_at: number;
    refresh_token: string;
    refresh_token_expires_at: number;
    ca_cert?: string;
    skip_ssl_validation?: boolean;
}

/** creds.yml's text: JSON, which is YAML too (and spares every call loading a YAML parser). */
function credsText(session: Session): string {
    return `${JSON.stringify(session, null, 2)}\n`;
}

function credsFile(): string {
    const home = process.env.PKS_HOME ?? path.join(os.homedir(), ".pks");
    return path.join(home, "creds.yml");
}

function randomToken(): string {
    return crypto.randomBytes(24).toString("base64url");
}

export function principalOf(settings: SimSettings, session: Pick<Session, "kind" | "principal">): SimPrincipal | undefined {
    return (session.kind === "user" ? settings.users : settings.clients)[session.principal];
}

/** The current session, refreshed like the real CLI does while the refresh token is valid. */
export function requireSession(settings: SimSettings, now: number): Session {
    let session: Session;
    try {
        session = JSON.parse(fs.readFileSync(credsFile(), "utf8")) as Session;
    } catch {
        throw notAuthenticated();
    }
    if (!session || !principalOf(settings, session) || now >= session.refresh_token_expires_at) {
        throw notAuthenticated();
    }
    if (now >= session.access_token_expires_at) {
        session.access_token = randomToken();
        session.access_token_expires_at = now + settings.accessTokenTtlSeconds * 1000;
        fs.writeFileSync(credsFile(), credsText(session), { mode: 0o600 });
    }
    return session;
}

export function requireAdmin(settings: SimSettings, session: Session): void {
    if (!principalOf(settings, session)?.admin) {
        throw notEnoughPrivileges(cliName() === "tkgi" ? "TKGI" : "PKS");
    }
}

export async function login(args: string[], dir: string): Promise<void> {
    const parsed = parseArgs(args, [
        flag("api", true, "a"), flag("username", true, "u"), flag("password", true, "p"),
        flag("skip-ssl-validation", false, "k"), flag("skip-ssl-verification", false), flag("ca-cert", true),
        flag("client-name", true), flag("client-secret", true), flag("timeout", true),
    ]);
    const api = str(parsed, "api");
    if (!api) {
        throw undocumented("required flag(s) \"api\" not set");
    }
    const clientName = str(parsed, "client-name");
    const username = str(parsed, "username");
    if (!clientName && !username) {
        throw undocumented("required flag(s) \"username\" not set");
    }
    const skip = parsed.flags.has("skip-ssl-validation") || parsed.flags.has("skip-ssl-verification");
    const caCert = str(parsed, "ca-cert");
    if (!skip && !caCert) {
        throw undocumented("Please provide either --ca-cert or --skip-ssl-validation (-k)");
    }
    if (caCert) {
        const pem = fs.readFileSync(caCert, "utf8");
        if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
            throw undocumented(`the CA certificate in ${caCert} is not a PEM certificate`);
        }
    }
    const kind = clientName ? "client" : "user";
    const principal = (clientName ?? username)!;
    // Every documented client login passes --client-secret; that the CLI would prompt for it is not documented,
    // so the simulator does not. A user's password is prompted for without -p (login.html.md.erb); that the
    // prompt reads a piped stdin is our assumption.
    const clientSecret = str(parsed, "client-secret");
    if (kind === "client" && clientSecret === undefined) {
        throw undocumented("required flag(s) \"client-secret\" not set");
    }
    const secret = kind === "client" ? clientSecret! : str(parsed, "password") ?? prompt("Password: ");
    if (!clientName) {
        process.stdout.write("\n");
    }
    const session = await withState(dir, (_state, settings, now): Session => {
        const known = principalOf(settings, { kind, principal });
        if (!known || known.secret !== secret) {
            throw credentialsRejected();
        }
        return {
            api, principal, kind,
            access_token: randomToken(), access_token_expires_at: now + settings.accessTokenTtlSeconds * 1000,
            refresh_token: randomToken(), refresh_token_expires_at: now + settings.refreshTokenTtlSeconds * 1000,
            ...(caCert ? { ca_cert: fs.readFileSync(caCert, "utf8") } : { skip_ssl_validation: true }),
        };
    });
    fs.mkdirSync(path.dirname(credsFile()), { recursive: true });
    fs.writeFileSync(credsFile(), credsText(session), { mode: 0o600 });
    process.stdout.write(`\nAPI Endpoint: ${api}\nUser: ${principal}\nLogin successful.\n\n`);
}

export function logout(): void {
    fs.rmSync(credsFile(), { force: true });
    process.stdout.write("Logout successful.\n");
}

