/**
 * The layout holds (DEVELOPMENT.md, "Layout"): no import cycle between modules (madge) nor between folders; the
 * programs the command provider runs load no component module; the configuration imports no component; the programs'
 * ids, which every Command's interpreter names, stay what existing stacks recorded.
 */
import { expect } from "chai";
import * as fs from "fs";
import madge from "madge";
import * as os from "os";
import * as path from "path";
import { LAUNCHER, ProgramId, launcherInterpreter, programFile } from "../programs/launcher/interpreter";
import { ROOT } from "./support/stacks";

const SOURCES = ["index.ts", "components", "config", "programs", "local", "test"];

/** The import graph of the given files or folders (relative to `base`): module → the modules it imports. */
async function importGraph(base: string, sources: string[]): Promise<Record<string, string[]>> {
    const result = await madge(sources.map((s) => path.join(base, s)), {
        baseDir: base,
        fileExtensions: ["ts", "js"],
        tsConfig: path.join(ROOT, "tsconfig.json"),
        detectiveOptions: { ts: { skipTypeImports: false } },
    });
    return result.obj();
}

/** The folder a module belongs to: a component folder (components/istio) or a top-level one (config, programs). */
const folderOf = (file: string) => {
    const parts = file.split("/");
    return parts[0] === "components" && parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts.length > 1 ? parts[0] : ".";
};

/** Whether a module defines a Pulumi component. */
const isComponent = (file: string) => /extends pulumi\.ComponentResource\b/.test(fs.readFileSync(path.join(ROOT, file), "utf8"));

describe("the layout", function () {
    this.timeout(120_000);
    let graph: Record<string, string[]>;
    before(async () => {
        graph = await importGraph(ROOT, SOURCES);
    });

    it("has no import cycle (madge --circular)", async () => {
        expect(Object.keys(graph).length).to.be.greaterThan(150);
        // Type-only imports are erased: they make no cycle at run time.
        const circular = (await madge(SOURCES.map((s) => path.join(ROOT, s)), {
            baseDir: ROOT, fileExtensions: ["ts", "js"], tsConfig: path.join(ROOT, "tsconfig.json"), detectiveOptions: { ts: { skipTypeImports: true } },
        })).circular();
        expect(circular).to.deep.equal([]);
    });

    it("has no two folders that import each other (components/istio and components/telemetry included)", () => {
        const edges = new Set<string>();
        for (const [file, imports] of Object.entries(graph)) {
            for (const imported of imports) {
                if (folderOf(file) !== folderOf(imported)) {
                    edges.add(`${folderOf(file)} -> ${folderOf(imported)}`);
                }
            }
        }
        expect(edges).to.include("components/telemetry -> components/istio");
        const both = [...edges].filter((e) => edges.has(e.split(" -> ").reverse().join(" -> ")));
        expect(both).to.deep.equal([]);
    });

    it("keeps the programs free of components, and the configuration free of component modules", () => {
        for (const [file, imports] of Object.entries(graph)) {
            if (file.startsWith("programs/")) {
                expect(imports.filter((i) => i.startsWith("components/") && isComponent(i)), file).to.deep.equal([]);
            }
            if (file.startsWith("config/")) {
                expect(imports.filter((i) => i.startsWith("components/") && isComponent(i)), file).to.deep.equal([]);
            }
        }
    });

    it("gives every component folder an index.ts that components/index.ts exports", () => {
        const folders = fs.readdirSync(path.join(ROOT, "components"), { withFileTypes: true }).filter((d) => d.isDirectory() && d.name !== "launcher").map((d) => d.name);
        expect(folders.sort()).to.deep.equal(["bookinfo", "istio", "pks", "telemetry"]);
        const top = fs.readFileSync(path.join(ROOT, "components", "index.ts"), "utf8");
        for (const folder of folders) {
            expect(fs.existsSync(path.join(ROOT, "components", folder, "index.ts")), folder).to.equal(true);
            expect(top).to.include(`export * from "./${folder}";`);
        }
    });

    it("sees a cycle where there is one", async () => {
        const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "pks-istio-mesh-cycle-"));
        try {
            fs.mkdirSync(path.join(scratch, "a"));
            fs.mkdirSync(path.join(scratch, "b"));
            fs.writeFileSync(path.join(scratch, "a", "x.ts"), 'import { y } from "../b/y";\nexport const x = () => y;\n');
            fs.writeFileSync(path.join(scratch, "b", "y.ts"), 'import { x } from "../a/x";\nexport const y = () => x;\n');
            const result = await madge(scratch, { baseDir: scratch, fileExtensions: ["ts"] });
            expect(result.circular()).to.deep.equal([["a/x.ts", "b/y.ts"]]);
        } finally {
            fs.rmSync(scratch, { recursive: true, force: true });
        }
    });
});

describe("the programs the command provider runs", () => {
    /** What stacks created before the programs moved recorded as their Commands' interpreters. */
    const RELEASED: Record<ProgramId, string[]> = {
        "components/pks/pksctl.ts": ["node", "components/launcher/run.js", "components/pks/pksctl.ts"],
        "components/istio/meshInventory.ts": ["node", "components/launcher/run.js", "components/istio/meshInventory.ts"],
        "components/istio/namespaceLabels.ts": ["node", "components/launcher/run.js", "components/istio/namespaceLabels.ts"],
        "components/bookinfo/checkProductPage.ts": ["node", "components/launcher/run.js", "components/bookinfo/checkProductPage.ts"],
        "programs/mesh/gatewayApiInstall.ts": ["node", "components/launcher/run.js", "programs/mesh/gatewayApiInstall.ts"],
    };

    it("keep the interpreters that existing stacks recorded, and each id leads to its file", () => {
        for (const [id, interpreter] of Object.entries(RELEASED) as Array<[ProgramId, string[]]>) {
            expect(launcherInterpreter(id)).to.deep.equal(interpreter);
            expect(fs.existsSync(path.join(ROOT, programFile(id))), programFile(id)).to.equal(true);
            expect(programFile(id).startsWith("programs/"), programFile(id)).to.equal(true);
        }
        expect(fs.existsSync(path.join(ROOT, LAUNCHER)), "the launcher's released path").to.equal(true);
    });
});
