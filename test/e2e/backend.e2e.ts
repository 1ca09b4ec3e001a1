/**
 * End to end, shared state: the local stack's `pulumi up` with its state in a real PostgreSQL server (Debian's
 * package, started by the test on loopback with its own data directory, TLS only), logged in as the
 * least-privilege role that docs/shared-state.md sets up (its SQL is run as written there), with the policy pack
 * as the CI recipe runs it. Then what a team relies on: the read-only role previews and cannot update, plain text
 * and wrong passwords are refused, a second `pulumi up` of the same stack while one runs is refused by the lock and
 * changes nothing, and the stack moves to a file backend and back unchanged.
 */
import { Stack } from "@pulumi/pulumi/automation";
import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { writeSettings } from "../../local/pks-simulator/state";
import { ROOT } from "../support/stacks";
import { cli, eventually, nameOf, recorder, startCli } from "../support/engine";
import { LocalCluster } from "../../local/localCluster";
import { PostgresServer } from "../support/postgres";
import { useLocalCluster } from "../support/suite";
import { localStackConfig, meshStack, projectDir, requireTools, toolVersions, toolsBin, workspaceEnv } from "../../local/workspace";

const P = "pks-istio-mesh:";
const TOOLS_BIN = toolsBin();
const ISTIO = toolVersions().ISTIO_VERSION;
const PASSWORD = `pks-${crypto.randomBytes(6).toString("hex")}`;
const ROLE = "pulumi_state";
const READER = "pulumi_state_reader";
const ROLE_PASSWORD = crypto.randomBytes(12).toString("hex");
const READER_PASSWORD = crypto.randomBytes(12).toString("hex");
/** Where the DIY layout starts in the table: under the URL's database name. */
const STATE = "pulumi_state/.pulumi/";
const POLICY_PACK = path.join(ROOT, "policy");

/** The database set-up of docs/shared-state.md (its one `sql` block), with the interactive `\password` done as SQL. */
function documentedSetup(passwords: Record<string, string>): string {
    const doc = fs.readFileSync(path.join(ROOT, "docs", "shared-state.md"), "utf8");
    const blocks = [...doc.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(blocks, "docs/shared-state.md has one sql block").to.have.length(1);
    return Object.entries(passwords).reduce((sql, [role, password]) => {
        expect(sql).to.match(new RegExp(`^\\\\password ${role}$`, "m"));
        return sql.replace(new RegExp(`^\\\\password ${role}$`, "m"), `ALTER ROLE ${role} PASSWORD '${password}';`);
    }, blocks[0]);
}

interface Deployment {
    resources: Array<{ urn: string; type: string; inputs?: unknown; outputs?: Record<string, unknown> }>;
}

describe("end to end: shared state in PostgreSQL, with locking", function () {
    this.timeout(20 * 60_000);
    requireTools(TOOLS_BIN, ["pulumi", "pulumi-language-nodejs", "pulumi-resource-command", "pulumi-resource-kubernetes",
        `pilot-discovery-${ISTIO}`, `istio-charts-${ISTIO}`, "initdb", "pg_ctl", "postgres", "psql"]);
    const suite = useLocalCluster("backend", TOOLS_BIN);
    let cluster: LocalCluster;
    let pg: PostgresServer;
    let stack: Stack;
    let env: Record<string, string>;
    let project: string;
    let sim: string;

    /** The backend URL of the documented login, for `user` (the password comes from PGPASSWORD), with `sslmode`. */
    const backendUrl = (user: string, sslmode = "verify-full") =>
        `postgres://${user}@127.0.0.1:${pg.port}/pulumi_state?sslmode=${sslmode}&sslrootcert=${encodeURIComponent(pg.caFile)}`;
    /** The rows of the state table, as the DIY layout's file names. */
    const keys = async () => (await pg.sql("SELECT key FROM pulumi.pulumi_state ORDER BY key;", "pulumi_state")).split("\n").filter((k) => k);
    const locks = async () => (await keys()).filter((k) => k.startsWith(`${STATE}locks/`));

    before(async () => {
        ({ cluster } = suite);
        pg = await PostgresServer.start({ toolsBin: TOOLS_BIN, log: (l) => console.log(`      ${l}`) });
        await pg.sql(documentedSetup({ [ROLE]: ROLE_PASSWORD, [READER]: READER_PASSWORD }));
        sim = path.join(suite.dir, "pks-simulator");
        writeSettings(sim, {
            users: { admin: { secret: PASSWORD, admin: true } },
            durations: { create: 3, update: 2, delete: 2 },
            kubeconfig: { server: cluster.server, token: cluster.tokens.first, certificateAuthorityData: cluster.certificateAuthorityData },
        });
        const options = {
            dir: path.join(suite.dir, "pulumi"), toolsBin: TOOLS_BIN, stackName: "local", passphrase: crypto.randomBytes(12).toString("hex"),
            env: { PKS_SIM_STATE: sim, PULUMI_BACKEND_URL: backendUrl(ROLE), PGPASSWORD: ROLE_PASSWORD },
        };
        stack = await meshStack(options);
        env = workspaceEnv(options);
        project = projectDir(options);
        await stack.setAllConfig(localStackConfig(PASSWORD, cluster, TOOLS_BIN, { [`${P}verifyTimeoutSeconds`]: { value: "180" } }));
    });

    after(async () => {
        await pg?.stop();
    });

    it("runs `pulumi up` of the local stack with its state in PostgreSQL, as the least-privilege role, over TLS", async () => {
        const r = recorder();
        const started = Date.now();
        const up = await stack.up({ onOutput: r.onOutput, policyPacks: [POLICY_PACK] });
        console.log(`      up: ${JSON.stringify(up.summary.resourceChanges)} in ${Math.round((Date.now() - started) / 1000)}s`);
        expect(up.summary.result).to.equal("succeeded");
        expect(up.summary.resourceChanges?.create).to.be.greaterThan(40);
        // The policy pack ran: advisory only on this non-production stack (it skips TLS verification to the simulator).
        expect(r.output.join("")).to.match(/advisory.*pks-tls-verified/);

        expect(await keys()).to.include.members([`${STATE}meta.yaml`, `${STATE}stacks/pks-istio-mesh/local.json`]);
        expect(await locks(), "no lock is left after the update").to.deep.equal([]);
        // The role did all that with row privileges on the administrator's table, and nothing more.
        expect((await pg.sql("SELECT schemaname, tableowner FROM pg_tables WHERE tablename = 'pulumi_state';", "pulumi_state")).trim()).to.equal("pulumi|postgres");
        expect((await pg.sql(`SELECT string_agg(privilege_type, ',' ORDER BY privilege_type) FROM information_schema.role_table_grants WHERE grantee = '${ROLE}';`, "pulumi_state")).trim())
            .to.equal("DELETE,INSERT,SELECT,UPDATE");
        expect((await pg.sql(`SELECT has_schema_privilege('${ROLE}', 'pulumi', 'CREATE'), has_database_privilege('${ROLE}', 'pulumi_state', 'CREATE');`, "pulumi_state")).trim()).to.equal("f|f");
        // The rows hold the state as the CLI writes it: no credential in plain text.
        const rows = await pg.sql("SELECT convert_from(decode(data->>'data', 'base64'), 'UTF8') FROM pulumi.pulumi_state;", "pulumi_state");
        expect(rows).to.include("medium-lb-cluster");
        expect(rows, "the PKS password").to.not.include(PASSWORD);
        expect(rows, "the cluster's bearer token").to.not.include(cluster.tokens.first);
        expect((await stack.workspace.listStacks()).map((s) => s.name)).to.deep.equal(["local"]);
    });

    it("lets the read-only role preview but not update, and refuses plain text and wrong passwords", async () => {
        const run = (user: string, password: string, args: string[], sslmode?: string) => {
            try {
                cli(project, { ...env, PULUMI_BACKEND_URL: backendUrl(user, sslmode), PGPASSWORD: password }, args);
                return "";
            } catch (e) {
                return (e as { stderr?: string }).stderr ?? (e as Error).message;
            }
        };
        expect(run(ROLE, ROLE_PASSWORD, ["stack", "ls"], "disable")).to.match(/pg_hba\.conf rejects connection .* no encryption/);
        expect(run(ROLE, "wrong-password", ["stack", "ls"])).to.include(`password authentication failed for user "${ROLE}"`);
        const rowsBefore = await keys();
        expect(run(READER, READER_PASSWORD, ["preview", "--stack", "local", "--expect-no-changes"]), "the reader previews").to.equal("");
        const refused = run(READER, READER_PASSWORD, ["up", "--stack", "local", "--yes", "--skip-preview"]);
        expect(refused).to.include("permission denied for table pulumi_state");
        expect(await keys(), "the refused update wrote nothing").to.deep.equal(rowsBefore);
    });

    it("refuses a second `pulumi up` of the stack while one runs, and keeps the first one's state intact", async () => {
        const historyBefore = (await stack.history()).length;
        writeSettings(sim, { durations: { create: 3, update: 20, delete: 2 } });
        await stack.setConfig(`${P}clusterNumNodes`, { value: "5" });
        const first = startCli(project, env, ["up", "--yes", "--skip-preview", "--stack", "local"]);
        const locked = await eventually(async () => (await locks()).length === 1, 120_000, 500);
        expect(locked, "the first update holds the stack's lock").to.equal(true);
        const [lock] = await locks();
        expect(lock).to.match(/^pulumi_state\/\.pulumi\/locks\/organization\/pks-istio-mesh\/local\/[0-9a-f-]+\.json$/);

        const started = Date.now();
        const second = startCli(project, env, ["up", "--yes", "--skip-preview", "--stack", "local"]);
        const code = await second.exited;
        console.log(`      the second update ended (exit ${code}) after ${Date.now() - started} ms`);
        expect(first.child.exitCode, "the first update was still running when the second gave up").to.equal(null);
        expect(code).to.not.equal(0);
        expect(second.output()).to.include("the stack is currently locked by 1 lock(s)");
        expect(second.output()).to.include(`(pid ${first.child.pid})`);
        expect(second.output(), "the lock names the backend without the credentials").to.include(`postgres://****:****@127.0.0.1:${pg.port}/`);
        expect(second.output()).to.not.include(ROLE_PASSWORD);

        expect(await first.exited).to.equal(0);
        expect(await locks()).to.deep.equal([]);
        const history = await stack.history();
        expect(history.length, "one update recorded: the refused one left none").to.equal(historyBefore + 1);
        expect(history[0]).to.include({ kind: "update", result: "succeeded" });
        expect((await stack.outputs()).clusterInfo.value).to.deep.include({ name: "medium-lb-cluster", workerNodes: 5 });
        const argv = fs.readFileSync(path.join(sim, "argv.log"), "utf8").split("\n").filter((l) => l.startsWith("["));
        expect(argv.filter((l) => (JSON.parse(l) as string[])[0] === "update-cluster"), "PKS resized the cluster once").to.have.length(1);
        await stack.preview({ expectNoChanges: true });
        writeSettings(sim, { durations: { create: 3, update: 2, delete: 2 } });
    });

    it("moves the stack to a file backend and back, unchanged, with nothing to do on either side", async () => {
        const exportFile = (name: string) => path.join(suite.dir, name);
        const fileEnv = { ...env, PULUMI_BACKEND_URL: `file://${path.join(suite.dir, "file-backend")}` };
        fs.mkdirSync(path.join(suite.dir, "file-backend"));
        const run = (e: Record<string, string>, args: string[]) => cli(project, e, args);
        // Compared decrypted (in memory): every export encrypts the secrets afresh.
        const original = ((await stack.exportStack()).deployment as Deployment).resources;

        // As docs/shared-state.md says: export, log in elsewhere, init the stack (same stack file), import, preview.
        run(env, ["stack", "export", "--stack", "local", "--file", exportFile("from-postgres.json")]);
        run(fileEnv, ["stack", "init", "local"]);
        run(fileEnv, ["stack", "import", "--stack", "local", "--file", exportFile("from-postgres.json")]);
        run(fileEnv, ["preview", "--stack", "local", "--expect-no-changes"]);
        run(fileEnv, ["stack", "export", "--stack", "local", "--file", exportFile("from-file.json")]);
        const onFile = JSON.parse(run(fileEnv, ["stack", "export", "--stack", "local", "--show-secrets"])) as { deployment: Deployment };
        expect(onFile.deployment.resources).to.deep.equal(original);

        run(env, ["stack", "import", "--stack", "local", "--file", exportFile("from-file.json")]);
        const roundTrip = ((await stack.exportStack()).deployment as Deployment).resources;
        expect(roundTrip).to.deep.equal(original);
        expect(roundTrip.filter((r) => nameOf(r.urn) === "medium-lb-cluster").map((r) => r.type)).to.include("command:local:Command");
        // Secrets travelled encrypted, and still decrypt: the preview reads the PKS password from the state.
        for (const file of ["from-postgres.json", "from-file.json"]) {
            expect(fs.readFileSync(exportFile(file), "utf8"), file).to.not.include(PASSWORD);
        }
        await stack.preview({ expectNoChanges: true });
    });
});
