/**
 * The launcher (components/launcher/run.js): TypeScript programs run from JavaScript transpiled once and cached,
 * so that pksctl (and the product page check, and the simulator) start without a compiler.
 */
import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ROOT } from "../support/sandbox";
import { ProcessResult, runToEnd } from "../support/process";

const LAUNCHER = path.join(ROOT, "components", "launcher", "run.js");


describe("the TypeScript launcher", function () {
    this.timeout(60_000);
    let dir: string;
    let cache: string;

    /** `node [preload] run.js <file> <args>` in `dir`, with the test's cache. */
    function launch(file: string, args: string[] = [], preload: string[] = []): Promise<ProcessResult> {
        return runToEnd(process.execPath, [...preload, LAUNCHER, file, ...args], { cwd: dir, env: { ...process.env, PKS_ISTIO_MESH_TS_CACHE: cache } });
    }

    const cached = () => fs.existsSync(cache) ? fs.readdirSync(cache).sort() : [];

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "launcher-"));
        cache = path.join(dir, "cache");
        fs.mkdirSync(path.join(dir, "lib"));
        fs.writeFileSync(path.join(dir, "main.ts"), [
            'import { greeting } from "./lib/greeting";',
            "class Greeter {",
            "    constructor(private readonly name: string) {}",
            "    greet(): string { return `${greeting}, ${this.name}`; }",
            "}",
            "if (require.main === module) {",
            "    console.log(JSON.stringify({ text: new Greeter(process.argv[2]).greet(), argv: process.argv.slice(2), file: __filename }));",
            "}",
            "",
        ].join("\n"));
        fs.writeFileSync(path.join(dir, "lib", "greeting.ts"), 'export const greeting: string = "hello";\n');
        // Records whether the compiler was loaded at all.
        fs.writeFileSync(path.join(dir, "watch.js"), [
            'const Module = require("module");',
            "const load = Module._load;",
            "let seen = false;",
            'Module._load = function (request, ...rest) { if (request === "typescript" && !seen) { seen = true; process.stderr.write("loaded typescript\\n"); } return load.call(this, request, ...rest); };',
            "",
        ].join("\n"));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("runs an entry (path relative to the working directory) as the main module, with its local imports, arguments and real file names", async () => {
        const run = await launch("main.ts", ["world", "--flag"]);
        expect(run.stderr).to.equal("");
        expect(JSON.parse(run.stdout)).to.deep.equal({ text: "hello, world", argv: ["world", "--flag"], file: path.join(fs.realpathSync(dir), "main.ts") });
        expect(cached().filter((f) => f.endsWith(".js")), "one entry per source").to.have.length(2);
    });

    it("transpiles a source once: later runs execute the cached JavaScript without loading the compiler", async () => {
        const watch = ["--require", path.join(dir, "watch.js")];
        const first = await launch("main.ts", ["a"], watch);
        expect(first.stderr).to.equal("loaded typescript\n");
        const second = await launch("main.ts", ["b"], watch);
        expect(second.stderr, "a warm start never loads TypeScript").to.equal("");
        expect(JSON.parse(second.stdout)).to.include({ text: "hello, b" });
        // What runs is the cache: an entry changed in place is what the next run executes...
        for (const file of cached()) {
            const text = fs.readFileSync(path.join(cache, file), "utf8");
            if (text.includes('"hello"')) {
                fs.writeFileSync(path.join(cache, file), text.replace('"hello"', '"hello from the cache"'));
            }
        }
        expect(JSON.parse((await launch("main.ts", ["c"])).stdout)).to.include({ text: "hello from the cache, c" });
        // ...until the source changes, which is a new entry.
        fs.writeFileSync(path.join(dir, "lib", "greeting.ts"), 'export const greeting: string = "hi";\n');
        const changed = await launch("main.ts", ["d"], watch);
        expect(changed.stderr).to.equal("loaded typescript\n");
        expect(JSON.parse(changed.stdout)).to.include({ text: "hi, d" });
        expect(cached()).to.have.length(3);
    });

    it("survives concurrent first runs: every run succeeds and the cache holds whole entries only", async () => {
        const runs = await Promise.all(Array.from({ length: 4 }, (_, i) => launch("main.ts", [`n${i}`])));
        runs.forEach((run, i) => {
            expect(run.code, run.stderr).to.equal(0);
            expect(JSON.parse(run.stdout)).to.include({ text: `hello, n${i}` });
        });
        expect(cached().filter((f) => !f.endsWith(".js")), "no temporary file left").to.deep.equal([]);
        expect(cached()).to.have.length(2);
        for (const file of cached()) {
            expect(() => new Function(fs.readFileSync(path.join(cache, file), "utf8")), file).to.not.throw();
        }
    });

    it("names the file and position of a source that does not parse, in one line", async () => {
        fs.writeFileSync(path.join(dir, "lib", "greeting.ts"), "export const greeting: string = ;\n");
        const run = await launch("main.ts");
        expect(run.code).to.equal(1);
        expect(run.stderr).to.equal(`run.js: ${path.join(fs.realpathSync(dir), "lib", "greeting.ts")}:1:33: Expression expected.\n`);
        const missing = await launch("nope.ts");
        expect(missing).to.include({ code: 2, stderr: `run.js: nope.ts: no such file (relative paths are taken from ${fs.realpathSync(dir)})\n` });
    });

    describe("its cache: only a directory of the user's own", () => {
        const uid = process.getuid?.() ?? -1;
        const OTHER_UID = 4242;
        /** A payload that records that it ran; planted where the launcher must not take JavaScript from. */
        const payload = (marker: string) => `require("fs").writeFileSync(${JSON.stringify(marker)}, "ran");\nconsole.log(JSON.stringify({ text: "planted" }));\n`;
        /** The cache entries' names of main.ts and its import, as the launcher writes them. */
        async function entryNames(): Promise<string[]> {
            expect((await launch("main.ts", ["probe"])).code).to.equal(0);
            return cached().filter((f) => f.endsWith(".js"));
        }
        /** Plants the payload under every entry name in `into`. */
        function plant(into: string, names: string[], marker: string): void {
            fs.mkdirSync(into, { recursive: true });
            for (const name of names) {
                fs.writeFileSync(path.join(into, name), payload(marker));
            }
        }
        const runOnly = (env: NodeJS.ProcessEnv) => runToEnd(process.execPath, [LAUNCHER, "main.ts", "world"], { cwd: dir, env });

        it("never runs a file planted where the old fallback cache was (<tmpdir>/pks-istio-mesh-ts-<uid>)", async () => {
            // A source no cache has seen, so that nothing but the planted entry could answer for it.
            fs.appendFileSync(path.join(dir, "main.ts"), `// ${crypto.randomBytes(8).toString("hex")}\n`);
            const names = await entryNames();
            const tmp = path.join(dir, "shared-tmp");
            const marker = path.join(dir, "planted-ran");
            plant(path.join(tmp, `pks-istio-mesh-ts-${uid}`), names, marker);
            const home = path.join(dir, "home");
            const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp, HOME: home, XDG_CACHE_HOME: "" };
            delete env.PKS_ISTIO_MESH_TS_CACHE;
            // The project's own cache (next to node_modules/typescript) gets the entries: removed again afterwards.
            const projectCache = path.join(ROOT, "node_modules", ".cache", "pks-istio-mesh", "ts");
            try {
                for (const attempt of ["cold", "warm"]) {
                    const run = await runOnly(env);
                    expect(run.code, `${attempt}: ${run.stderr}`).to.equal(0);
                    expect(JSON.parse(run.stdout), attempt).to.include({ text: "hello, world" });
                }
                expect(fs.existsSync(marker), "the planted file ran").to.equal(false);
                expect(names.every((n) => fs.existsSync(path.join(projectCache, n)))).to.equal(true);
            } finally {
                names.forEach((n) => fs.rmSync(path.join(projectCache, n), { force: true }));
            }
        });

        it("creates its directory 0700 and its entries 0600", async () => {
            cache = path.join(dir, "new", "ts");
            await entryNames();
            expect(fs.statSync(cache).mode & 0o777).to.equal(0o700);
            for (const file of cached()) {
                expect(fs.statSync(path.join(cache, file)).mode & 0o777, file).to.equal(0o600);
            }
        });

        it("tightens a directory of its own that others could read to 0700, and keeps using it", async () => {
            await entryNames();
            fs.chmodSync(cache, 0o755);
            const run = await launch("main.ts", ["again"]);
            expect(run.stderr).to.equal("");
            expect(fs.statSync(cache).mode & 0o777).to.equal(0o700);
        });

        const refusedDirs: Array<[string, (names: string[], marker: string) => void, RegExp]> = [
            ["a symbolic link to a directory", (names, marker) => {
                plant(path.join(dir, "elsewhere"), names, marker);
                fs.symlinkSync(path.join(dir, "elsewhere"), cache);
            }, /it is a symbolic link/],
            ["writable by others", (names, marker) => {
                plant(cache, names, marker);
                fs.chmodSync(cache, 0o777);
            }, /others may write to it \(mode 777\)/],
            ["owned by another user", (names, marker) => {
                plant(cache, names, marker);
                fs.chmodSync(cache, 0o700);
                fs.chownSync(cache, OTHER_UID, OTHER_UID);
            }, new RegExp(`it is owned by uid ${OTHER_UID}, not by this user`)],
        ];
        for (const [what, prepare, reason] of refusedDirs) {
            it(`does not use a cache directory that is ${what}: it says so and runs the source itself`, async function () {
                if (what.includes("another user") && uid !== 0) {
                    this.skip(); // only root can give a directory to another user
                }
                const names = await entryNames();
                fs.rmSync(cache, { recursive: true, force: true });
                const marker = path.join(dir, "planted-ran");
                prepare(names, marker);
                const run = await launch("main.ts", ["world"]);
                expect(run.code, run.stderr).to.equal(0);
                expect(JSON.parse(run.stdout)).to.include({ text: "hello, world" });
                expect(run.stderr).to.match(new RegExp(`^run\\.js: not caching in ${cache.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: ${reason.source}`));
                expect(fs.existsSync(marker), "the planted file ran").to.equal(false);
            });
        }

        it("does not run an entry that is not a plain file of its own in its own directory, and replaces it", async function () {
            const names = await entryNames();
            const marker = path.join(dir, "planted-ran");
            const [entry, other] = names;
            const planted = path.join(dir, "planted.js");
            fs.writeFileSync(planted, payload(marker));
            fs.rmSync(path.join(cache, entry));
            fs.symlinkSync(planted, path.join(cache, entry));                  // a link to someone's file
            fs.rmSync(path.join(cache, other));
            fs.linkSync(planted, path.join(cache, other));                     // a second name of a file
            let run = await launch("main.ts", ["world"]);
            expect(JSON.parse(run.stdout)).to.include({ text: "hello, world" });
            expect(fs.existsSync(marker), "a linked file ran").to.equal(false);
            expect(names.every((n) => !fs.lstatSync(path.join(cache, n)).isSymbolicLink() && fs.statSync(path.join(cache, n)).nlink === 1)).to.equal(true);
            // Writable by others, or (as root can arrange) owned by another user.
            fs.writeFileSync(path.join(cache, entry), payload(marker), { mode: 0o666 });
            fs.chmodSync(path.join(cache, entry), 0o666);
            run = await launch("main.ts", ["world"]);
            expect(JSON.parse(run.stdout)).to.include({ text: "hello, world" });
            if (uid === 0) {
                fs.writeFileSync(path.join(cache, entry), payload(marker));
                fs.chownSync(path.join(cache, entry), OTHER_UID, OTHER_UID);
                run = await launch("main.ts", ["world"]);
                expect(JSON.parse(run.stdout)).to.include({ text: "hello, world" });
            }
            expect(fs.existsSync(marker), "a planted entry ran").to.equal(false);
            expect(run.stderr).to.equal("");
        });
    });
});
