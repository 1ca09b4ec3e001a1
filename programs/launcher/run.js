/* eslint-disable @typescript-eslint/no-require-imports */
/* global require, module, process, __dirname */
/**
 * Runs a TypeScript program of this project without transpiling it at every start:
 *
 *   node components/launcher/run.js <program id or path of a .ts file> <args…>
 *
 * `components/launcher/run.js` is the launcher's released path, a stub that calls this file's `main`: the command
 * provider's Command resources name it, and a program id, in their `interpreter`, which is one of their inputs, so
 * neither may change for stacks that exist (a changed interpreter would update every command, and for the PKS
 * cluster run `update-cluster`). The ids are the programs' first paths; programs.json maps each to where the program
 * lives now, relative to the project root. Anything else is a path, taken relative to the working directory (the
 * command provider's is the project directory). Every
 * local `.ts` module the program loads (the entry and its relative imports) is transpiled once with TypeScript's
 * `transpileModule` (the options of tsconfig.json that matter for emit: ES2022, CommonJS, esModuleInterop) into a
 * cache keyed by a hash of its source, the TypeScript version and these options; later starts read the cached
 * JavaScript and never load the compiler. Modules keep their real file names, so `__dirname`, relative imports
 * and `node_modules` resolve as they would under ts-node. The program runs as the main module: `require.main ===
 * module` holds in the entry, and `process.argv` is `[node, <entry>, <args…>]`.
 *
 * The cache is `$PKS_ISTIO_MESH_TS_CACHE` when set, else `node_modules/.cache/pks-istio-mesh/ts/` next to the
 * `typescript` package, else `pks-istio-mesh/ts/` in the user's cache directory (`$XDG_CACHE_HOME`, or
 * `~/.cache`); never a shared directory such as the system's temporary one, where another local user could plant a
 * file that would then run as the deployer. A cache directory is used only when it is this user's own: created
 * 0700, it must be a real directory (a symbolic link is not followed), owned by the user and writable by no one
 * else (one that is only readable by others is tightened to 0700); otherwise the launcher says so in one line and
 * tries the next. Each entry is opened without following a link and run only if it is a regular file owned by the
 * user, writable by no one else and with no other name (no hard link); else it is transpiled again and replaced.
 * Entries are written, 0600, to a new temporary file and renamed into place, so concurrent first runs never see a
 * partial file. Without a usable cache directory every run transpiles. A source that does not parse ends the run
 * with one line naming the file and position. Plain CommonJS with no dependency but `typescript` (loaded only on a
 * cache miss); no type checking (that is `npm run typecheck`).
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

/** Program id → its file, relative to the project root (programs.json). */
const PROGRAMS = require("./programs.json");
/** The project root (this file is programs/launcher/run.js). */
const PROJECT_ROOT = path.resolve(__dirname, "..", "..");

const typescriptPackage = require.resolve("typescript/package.json", { paths: [__dirname] });
const typescriptVersion = JSON.parse(fs.readFileSync(typescriptPackage, "utf8")).version;
/** The user's id (undefined where the platform has none: ownership is then not checked). */
const uid = typeof process.getuid === "function" ? process.getuid() : undefined;
/** Permission bits that let someone else write. */
const WRITABLE_BY_OTHERS = 0o022;
/** The user's own cache directory (XDG base directory rules). */
const userCache = process.env.XDG_CACHE_HOME && path.isAbsolute(process.env.XDG_CACHE_HOME)
    ? process.env.XDG_CACHE_HOME : path.join(os.homedir(), ".cache");
const candidateDirs = process.env.PKS_ISTIO_MESH_TS_CACHE ? [path.resolve(process.env.PKS_ISTIO_MESH_TS_CACHE)] : [
    path.join(path.dirname(typescriptPackage), "..", ".cache", "pks-istio-mesh", "ts"),
    path.join(userCache, "pks-istio-mesh", "ts"),
];

/**
 * Why `dir` may not hold the cache, or undefined when it may: it is created 0700 if missing, and must then be a
 * directory (not a symbolic link to one) owned by this user and writable by no one else. A directory of the user's
 * that others may only read (an earlier launcher's) is tightened to 0700.
 */
function refusal(dir) {
    let stats;
    try {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        stats = fs.lstatSync(dir);
    } catch (e) {
        return { quiet: true, reason: e.code || e.message };
    }
    if (stats.isSymbolicLink()) {
        return { reason: "it is a symbolic link" };
    }
    if (!stats.isDirectory()) {
        return { reason: "it is not a directory" };
    }
    if (uid !== undefined && stats.uid !== uid) {
        return { reason: `it is owned by uid ${stats.uid}, not by this user (uid ${uid})` };
    }
    if ((stats.mode & WRITABLE_BY_OTHERS) !== 0) {
        return { reason: `others may write to it (mode ${(stats.mode & 0o777).toString(8)})` };
    }
    if ((stats.mode & 0o077) !== 0) {
        try {
            fs.chmodSync(dir, 0o700);
        } catch (e) {
            return { reason: `it cannot be made private: ${e.code || e.message}` };
        }
    }
    return undefined;
}

/** The cache directory of this run (checked once, on first use), or null when there is none. */
let cacheDir;
function ownCacheDir() {
    if (cacheDir === undefined) {
        cacheDir = null;
        for (const dir of candidateDirs) {
            const refused = refusal(dir);
            if (refused === undefined) {
                cacheDir = dir;
                break;
            }
            if (!refused.quiet) {
                process.stderr.write(`run.js: not caching in ${dir}: ${refused.reason}\n`);
            }
        }
    }
    return cacheDir;
}

/** A cache entry's text, if it is one this user wrote: a regular file of theirs, writable by no one else, one link. */
function readEntry(file) {
    let fd;
    try {
        fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW || 0) | (fs.constants.O_NONBLOCK || 0));
    } catch {
        return undefined;
    }
    try {
        const stats = fs.fstatSync(fd);
        const own = stats.isFile() && (uid === undefined || stats.uid === uid) && (stats.mode & WRITABLE_BY_OTHERS) === 0 && stats.nlink === 1;
        return own ? fs.readFileSync(fd, "utf8") : undefined;
    } finally {
        fs.closeSync(fd);
    }
}

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

/** Writes `text` to `file` atomically: a new 0600 file (never an existing one, nor through a link), renamed into place. */
function writeAtomically(file, text) {
    const temporary = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
    try {
        fs.writeFileSync(temporary, text, { mode: 0o600, flag: "wx" });
        fs.renameSync(temporary, file);
    } catch {
        fs.rmSync(temporary, { force: true });
    }
}

/** The JavaScript of a `.ts` file: from the cache, or transpiled and then cached. */
function compiled(filename) {
    const source = fs.readFileSync(filename, "utf8");
    const name = `${crypto.createHash("sha256").update(optionsKey).update(source).digest("hex")}.js`;
    const dir = ownCacheDir();
    const cached = dir === null ? undefined : readEntry(path.join(dir, name));
    if (cached !== undefined) {
        return cached;
    }
    const javascript = transpile(source, filename);
    if (dir !== null) {
        writeAtomically(path.join(dir, name), javascript);
    }
    return javascript;
}

/** Runs the program that process.argv names (`node <launcher> <id or file> <args…>`) as the main module. */
function main() {
    require.extensions[".ts"] = (mod, filename) => {
        mod._compile(compiled(filename), filename);
    };
    const [node, , entryArgument, ...args] = process.argv;
    if (!entryArgument) {
        process.stderr.write("usage: node components/launcher/run.js <file.ts> [args…]\n");
        process.exit(2);
    }
    const entry = Object.prototype.hasOwnProperty.call(PROGRAMS, entryArgument)
        ? path.join(PROJECT_ROOT, PROGRAMS[entryArgument]) : path.resolve(entryArgument);
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

module.exports = { main };

if (require.main === module) {
    main();
}
