/* eslint-disable @typescript-eslint/no-require-imports */
/* global require, module, process, __dirname */
/**
 * Runs a TypeScript program of this project without transpiling it at every start:
 *
 *   node components/launcher/run.js <path of a .ts file> <args…>
 *
 * The path is taken relative to the working directory (the command provider's is the project directory). Every
 * local `.ts` module the program loads (the entry and its relative imports) is transpiled once with TypeScript's
 * `transpileModule` (the options of tsconfig.json that matter for emit: ES2022, CommonJS, esModuleInterop) into a
 * cache keyed by a hash of its source, the TypeScript version and these options; later starts read the cached
 * JavaScript and never load the compiler. Modules keep their real file names, so `__dirname`, relative imports
 * and `node_modules` resolve as they would under ts-node. The program runs as the main module: `require.main ===
 * module` holds in the entry, and `process.argv` is `[node, <entry>, <args…>]`.
 *
 * The cache is `$PKS_ISTIO_MESH_TS_CACHE` when set, else `node_modules/.cache/pks-istio-mesh/ts/` next to the
 * `typescript` package, or, when that cannot be written, `<tmpdir>/pks-istio-mesh-ts-<uid>/`. Entries are written
 * to a temporary file and renamed into place, so concurrent first runs never see a partial file. A source that
 * does not parse ends the run with one line naming the file and position. Plain CommonJS with no dependency but
 * `typescript` (loaded only on a cache miss); no type checking (that is `npm run typecheck`).
 */
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const Module = require("module");
const os = require("os");
const path = require("path");

/** Bump when the launcher's output for a given source changes. */
const LAUNCHER_VERSION = "1";
/** tsconfig.json's options that shape the emitted JavaScript. */
const COMPILER_OPTIONS = { target: "ES2022", module: "commonjs", esModuleInterop: true, sourceMap: false };

const typescriptPackage = require.resolve("typescript/package.json", { paths: [__dirname] });
const typescriptVersion = JSON.parse(fs.readFileSync(typescriptPackage, "utf8")).version;
const uid = typeof process.getuid === "function" ? process.getuid() : "user";
const cacheDirs = process.env.PKS_ISTIO_MESH_TS_CACHE ? [process.env.PKS_ISTIO_MESH_TS_CACHE] : [
    path.join(path.dirname(typescriptPackage), "..", ".cache", "pks-istio-mesh", "ts"),
    path.join(os.tmpdir(), `pks-istio-mesh-ts-${uid}`),
];

/** A source that TypeScript cannot transpile. */
class TranspileError extends Error {}
const optionsKey = `${LAUNCHER_VERSION}\0${typescriptVersion}\0${JSON.stringify(COMPILER_OPTIONS)}\0`;

/** The transpiled source, from TypeScript (loaded on first use only). */
function transpile(source, filename) {
    const ts = require("typescript");
    const { options } = ts.convertCompilerOptionsFromJson(COMPILER_OPTIONS, path.dirname(filename));
    const output = ts.transpileModule(source, { compilerOptions: options, fileName: filename, reportDiagnostics: true });
    const errors = (output.diagnostics || []).filter((d) => d.category === ts.DiagnosticCategory.Error);
    if (errors.length > 0) {
        const first = errors[0];
        const where = first.file && first.start !== undefined ? first.file.getLineAndCharacterOfPosition(first.start) : undefined;
        const at = where ? `${filename}:${where.line + 1}:${where.character + 1}` : filename;
        throw new TranspileError(`${at}: ${ts.flattenDiagnosticMessageText(first.messageText, "\n")}`);
    }
    return output.outputText;
}

/** Writes `text` to `file` atomically (temporary file + rename); false when the directory cannot be written. */
function writeAtomically(file, text) {
    const temporary = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
    try {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(temporary, text);
        fs.renameSync(temporary, file);
        return true;
    } catch {
        fs.rmSync(temporary, { force: true });
        return false;
    }
}

/** The JavaScript of a `.ts` file: from the cache, or transpiled and then cached. */
function compiled(filename) {
    const source = fs.readFileSync(filename, "utf8");
    const name = `${crypto.createHash("sha256").update(optionsKey).update(source).digest("hex")}.js`;
    for (const dir of cacheDirs) {
        try {
            return fs.readFileSync(path.join(dir, name), "utf8");
        } catch {
            // not cached there
        }
    }
    const javascript = transpile(source, filename);
    cacheDirs.some((dir) => writeAtomically(path.join(dir, name), javascript));
    return javascript;
}

if (require.main === module) {
    require.extensions[".ts"] = (mod, filename) => {
        mod._compile(compiled(filename), filename);
    };
    const [node, , entryArgument, ...args] = process.argv;
    if (!entryArgument) {
        process.stderr.write("usage: node components/launcher/run.js <file.ts> [args…]\n");
        process.exit(2);
    }
    const entry = path.resolve(entryArgument);
    if (!fs.existsSync(entry)) {
        process.stderr.write(`run.js: ${entryArgument}: no such file (relative paths are taken from ${process.cwd()})\n`);
        process.exit(2);
    }
    process.argv = [node, entry, ...args];
    try {
        // As `node entry.ts` would: the entry becomes the main module.
        Module._load(entry, null, true);
    } catch (e) {
        if (!(e instanceof TranspileError)) {
            throw e;
        }
        process.stderr.write(`run.js: ${e.message}\n`);
        process.exit(1);
    }
}
