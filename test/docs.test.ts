/**
 * The documentation holds together: every relative link of the README, DEVELOPMENT.md and docs/ (and the READMEs
 * beside the code) reaches a file, and its #anchor a heading there; the configuration reference lists exactly the
 * schema's keys with the schema's defaults, as Pulumi.yaml declares them; the README's two set-up commands are
 * what CI runs.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { configSchema } from "../config";
import { ROOT, declaredConfig } from "./support/stacks";

/** The Markdown files a reader follows links through. */
function documents(): string[] {
    const docs = fs.readdirSync(path.join(ROOT, "docs"), { recursive: true, encoding: "utf8" })
        .filter((f) => f.endsWith(".md")).map((f) => path.join("docs", f));
    const besideCode = ["policy/README.md", "local/pks-simulator/README.md"].filter((f) => fs.existsSync(path.join(ROOT, f)));
    return ["README.md", "DEVELOPMENT.md", ...docs, ...besideCode];
}

/** Markdown text without its fenced code blocks (links there are not links). */
const prose = (text: string) => text.replace(/^```[\s\S]*?^```/gm, "");

/** GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to dashes; repeats get -1, -2, … */
function anchors(file: string): Set<string> {
    const seen = new Map<string, number>();
    const result = new Set<string>();
    for (const [, heading] of prose(fs.readFileSync(file, "utf8")).matchAll(/^#{1,6} (.+)$/gm)) {
        const slug = heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replace(/ /g, "-");
        const count = seen.get(slug) ?? 0;
        seen.set(slug, count + 1);
        result.add(count === 0 ? slug : `${slug}-${count}`);
    }
    return result;
}

/** The relative links of a Markdown file: [text](target) outside code, without web and mail addresses. */
function relativeLinks(file: string): string[] {
    const text = prose(fs.readFileSync(path.join(ROOT, file), "utf8"));
    return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((t) => !/^[a-z]+:/.test(t));
}

/** The configuration reference's table rows: key → the default column. */
function documentedKeys(): Map<string, string> {
    const text = fs.readFileSync(path.join(ROOT, "docs", "configuration.md"), "utf8");
    const rows = new Map<string, string>();
    for (const [, keys, defaultColumn] of text.matchAll(/^\| (`[A-Za-z0-9]+`(?: \/ `[A-Za-z0-9]+`)*) \|([^|]*)\|/gm)) {
        for (const [, key] of keys.matchAll(/`([A-Za-z0-9]+)`/g)) {
            expect(rows.has(key), `${key} is documented once`).to.equal(false);
            rows.set(key, defaultColumn.trim());
        }
    }
    return rows;
}

describe("the documentation", () => {
    it("has a README of at most 200 lines, beside docs/ and DEVELOPMENT.md", () => {
        const lines = fs.readFileSync(path.join(ROOT, "README.md"), "utf8").split("\n").length;
        expect(lines).to.be.within(100, 200);
    });

    for (const file of documents()) {
        it(`${file}: every relative link reaches a file, and its anchor a heading`, () => {
            const links = relativeLinks(file);
            for (const link of links) {
                const [target, anchor] = link.split("#");
                const resolved = target === "" ? path.join(ROOT, file) : path.resolve(path.dirname(path.join(ROOT, file)), decodeURIComponent(target));
                expect(fs.existsSync(resolved), `${file}: ${link} (no ${path.relative(ROOT, resolved)})`).to.equal(true);
                if (anchor !== undefined && resolved.endsWith(".md")) {
                    expect([...anchors(resolved)], `${file}: ${link}`).to.include(anchor);
                }
            }
        });
    }

    it("the link check sees a broken link and a broken anchor", () => {
        const scratch = path.join(ROOT, "docs", `.links-${process.pid}.md`);
        fs.writeFileSync(scratch, "# Title\n\n[a](../README.md) [b](missing.md) [c](#title) [d](#nowhere)\n");
        try {
            expect(relativeLinks(path.relative(ROOT, scratch))).to.deep.equal(["../README.md", "missing.md", "#title", "#nowhere"]);
            expect([...anchors(scratch)]).to.deep.equal(["title"]);
        } finally {
            fs.rmSync(scratch);
        }
    });

    describe("the configuration reference (docs/configuration.md)", () => {
        const documented = documentedKeys();
        const declared = declaredConfig();

        it("lists exactly the keys of the configuration schema", () => {
            expect([...documented.keys()].sort()).to.deep.equal(Object.keys(configSchema.shape).sort());
        });

        it("gives the schema's default of every scalar key with a default, as Pulumi.yaml declares it", () => {
            for (const [key, field] of Object.entries(configSchema.shape)) {
                const parsed = field.safeParse(undefined);
                if (!parsed.success || parsed.data === undefined || typeof parsed.data === "object") {
                    continue;
                }
                const shown = typeof parsed.data === "string" ? parsed.data : JSON.stringify(parsed.data);
                expect(documented.get(key), `the default column of ${key}`).to.match(new RegExp(`^(\`${shown.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\`|\`""\`)`));
                if (shown === "") {
                    expect(documented.get(key)).to.equal('`""`');
                }
                expect(declared[key]?.default, `Pulumi.yaml's default of ${key}`).to.deep.equal(parsed.data);
                expect(declared[key]?.description, `Pulumi.yaml describes ${key}`).to.be.a("string").and.not.equal("");
            }
        });

        it("names in Pulumi.yaml every key it does not declare, pointing at the reference", () => {
            const text = fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8");
            const comment = /The\s+# keys without a default \(([^)]*)\)/.exec(text.replace(/\n\s*#/g, " #"));
            expect(comment, "Pulumi.yaml's comment on the undeclared keys").to.not.equal(null);
            const listed = comment![1].replace(/#/g, "").split(",").map((k) => k.trim()).sort();
            const undeclared = Object.keys(configSchema.shape).filter((k) => !(k in declared)).sort();
            expect(listed).to.deep.equal(undeclared);
            expect(text).to.include("docs/configuration.md");
        });
    });

    it("opens with the two set-up commands, and the first is what CI runs", () => {
        const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        const block = /## Try it locally[^\n]*\n+```sh\n([\s\S]*?)```/.exec(readme)![1];
        const commands = block.split("\n").map((l) => l.replace(/\s+#.*$/, "").trim()).filter((l) => l !== "");
        expect(commands).to.deep.equal(["npm ci && npm test", "npm run e2e:tools && npm run local -- up"]);
        const scripts = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
        expect(scripts).to.include.keys("test", "e2e:tools", "local");
        const ci = fs.readFileSync(path.join(ROOT, ".ci", "run"), "utf8");
        expect(ci).to.match(/^if ! npm ci /m);
        expect(ci).to.match(/^suite "unit tests \(npm test\)" npm test$/m);
        expect(ci).to.match(/npm run --silent e2e:tools$/m);
    });
});
