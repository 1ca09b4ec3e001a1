/**
 * The launcher (components/launcher/run.js): TypeScript programs run from JavaScript transpiled once and cached,
 * so that pksctl (and the product page check, and the simulator) start without a compiler.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ROOT } from "./sandbox";
import { ProcessResult, runToEnd } from "../process";

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
});
