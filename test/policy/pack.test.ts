/**
 * The policy pack as a package: what the Pulumi CLI and `pulumi policy publish` read (PulumiPolicy.yaml, a version
 * in package.json), and pins that agree with the project's, so that the pack runs the same way from the project's
 * node_modules (inside the project) and from its own lock file (on its own).
 */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { ROOT } from "../support/stacks";

interface PackageJson {
    version?: string;
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
}

const read = <T>(...parts: string[]): T => JSON.parse(fs.readFileSync(path.join(ROOT, ...parts), "utf8")) as T;

describe("policy pack: the package", () => {
    const pack = read<PackageJson>("policy", "package.json");
    const project = read<PackageJson>("package.json");

    it("is a Node.js pack with a version (the pack's name and version in every report)", () => {
        const manifest = YAML.parse(fs.readFileSync(path.join(ROOT, "policy", "PulumiPolicy.yaml"), "utf8")) as { runtime: string };
        expect(manifest.runtime).to.equal("nodejs");
        expect(pack.version).to.match(/^\d+\.\d+\.\d+$/);
    });

    it("pins what it needs at the project's versions", () => {
        const projectPins = { ...project.dependencies, ...project.devDependencies };
        for (const [name, version] of Object.entries({ ...pack.dependencies, ...pack.devDependencies })) {
            expect(projectPins[name], `${name} in the project's package.json`).to.equal(version);
        }
        expect(Object.keys(pack.dependencies ?? {})).to.include.members(["@pulumi/policy", "@pulumi/pulumi", "ts-node", "typescript"]);
    });

    it("locks the same versions it pins", () => {
        const lock = read<{ packages: Record<string, { version?: string; dependencies?: Record<string, string> }> }>("policy", "package-lock.json");
        expect(lock.packages[""].dependencies).to.deep.equal(pack.dependencies);
        for (const [name, version] of Object.entries(pack.dependencies ?? {})) {
            expect(lock.packages[`node_modules/${name}`]?.version, name).to.equal(version);
        }
    });
});
