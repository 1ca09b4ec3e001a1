/**
 * Upgrading the program changes nothing: a stack deployed by the previous release of the program (a git worktree of
 * PREVIOUS_RELEASE, its own `npm ci`) and then previewed by this code — same scratch project directory, same state,
 * same local cluster and PKS simulator — shows no change at all (`pulumi preview --expect-no-changes`). Files move
 * between releases; the Command resources' launch inputs (the launcher's released path and the programs' ids)
 * must not, or every existing stack's commands would update, and the PKS cluster's would run `update-cluster`.
 *
 * Keep this suite for every later release: set PREVIOUS_RELEASE to the last released commit.
 */
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { expect } from "chai";
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { writeSettings } from "../../local/pks-simulator/state";
import { ROOT } from "../../local/root";
import { localStackConfig, requireTools, toolVersions, toolsBin, workspaceEnv } from "../../local/workspace";
import { Step, nameOf, recorder } from "../support/engine";
import { useLocalCluster } from "../support/suite";

/** The program before issue 18 moved its files (main at 8f3c197): the release existing stacks were deployed with. */
const PREVIOUS_RELEASE = "8f3c1978c7e14a5ad8399b04b56815e4dc2d09bc";
const TOOLS_BIN = toolsBin();
const ISTIO = toolVersions().ISTIO_VERSION;
const PASSWORD = `pks-${crypto.randomBytes(6).toString("hex")}`;
const STACK = "local";

/** Points the scratch project at a tree of the program: a link to each of its top-level entries but the stack files. */
function linkProject(project: string, tree: string): void {
    fs.mkdirSync(project, { recursive: true });
    for (const entry of fs.readdirSync(project)) {
        if (fs.lstatSync(path.join(project, entry)).isSymbolicLink()) {
            fs.unlinkSync(path.join(project, entry));
        }
    }
    for (const entry of fs.readdirSync(tree)) {
        if (entry === ".git" || entry.startsWith(".pks-simulator") || /^Pulumi\..+\.yaml$/.test(entry) || entry === "Pulumi.yaml") {
            continue;
        }
        fs.symlinkSync(path.join(tree, entry), path.join(project, entry));
    }
    fs.copyFileSync(path.join(tree, "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
}

/** The committed configuration of the local stack in a tree. */
const committedConfig = (tree: string) => (YAML.parse(fs.readFileSync(path.join(tree, `Pulumi.${STACK}.yaml`), "utf8")) as { config: Record<string, unknown> }).config;

describe("end to end: upgrading the program changes nothing on an existing stack", function () {
    this.timeout(30 * 60_000);
    requireTools(TOOLS_BIN, ["pulumi", "pulumi-language-nodejs", "pulumi-resource-command", "pulumi-resource-kubernetes", `pilot-discovery-${ISTIO}`, `istio-charts-${ISTIO}`]);
    const suite = useLocalCluster("upgrade", TOOLS_BIN);
    let previous: string;
    let project: string;
    let stack: Stack;

    before(async function () {
        previous = path.join(suite.dir, "previous");
        let started = Date.now();
        try {
            execFileSync("git", ["-C", ROOT, "worktree", "add", "--detach", previous, PREVIOUS_RELEASE], { stdio: "pipe" });
        } catch (e) {
            throw new Error(`cannot check out the previous release ${PREVIOUS_RELEASE} (a shallow clone? fetch it): ${(e as Error).message}`);
        }
        execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: previous, stdio: "pipe" });
        console.log(`      previous release ${PREVIOUS_RELEASE.slice(0, 7)} checked out and installed in ${Math.round((Date.now() - started) / 1000)}s`);
        started = Date.now();

        const sim = path.join(suite.dir, "pks-simulator");
        writeSettings(sim, {
            users: { admin: { secret: PASSWORD, admin: true } },
            durations: { create: 2, update: 2, delete: 2 },
            kubeconfig: { server: suite.cluster.server, token: suite.cluster.tokens.first, certificateAuthorityData: suite.cluster.certificateAuthorityData },
        });
        const options = {
            dir: path.join(suite.dir, "pulumi"), toolsBin: TOOLS_BIN, stackName: STACK,
            passphrase: crypto.randomBytes(12).toString("hex"), env: { PKS_SIM_STATE: sim },
        };
        project = path.join(options.dir, "project");
        fs.mkdirSync(path.join(options.dir, "state"), { recursive: true });
        linkProject(project, previous);
        fs.copyFileSync(path.join(previous, `Pulumi.${STACK}.yaml`), path.join(project, `Pulumi.${STACK}.yaml`));
        stack = await LocalWorkspace.createOrSelectStack({ stackName: STACK, workDir: project }, {
            workDir: project,
            pulumiCommand: await PulumiCommand.get({ root: path.dirname(TOOLS_BIN) }),
            envVars: workspaceEnv(options),
        });
        await stack.setAllConfig(localStackConfig(PASSWORD, suite.cluster, TOOLS_BIN));
    });

    after(() => {
        // The worktree's files go with the suite's directory; git forgets it here (or now, if the directory is kept).
        if (previous && fs.existsSync(previous)) {
            execFileSync("git", ["-C", ROOT, "worktree", "remove", "--force", previous], { stdio: "pipe" });
        }
        execFileSync("git", ["-C", ROOT, "worktree", "prune"], { stdio: "pipe" });
    });

    const changes = (steps: Step[]) => steps.filter((s) => s.op !== "same" && s.op !== "read").map((s) => `${s.op} ${s.type}::${nameOf(s.urn)}`);

    it("deploys the local stack with the previous release", async () => {
        const started = Date.now();
        const r = recorder();
        const result = await stack.up({ onEvent: r.onEvent, onOutput: r.onOutput });
        console.log(`      previous release: up ${JSON.stringify(result.summary.resourceChanges)} in ${Math.round((Date.now() - started) / 1000)}s`);
        expect(result.summary.result).to.equal("succeeded");
        expect(r.steps.filter((s) => s.type === "command:local:Command").length, "the PKS layer's and the scripts' commands").to.be.greaterThan(3);
    });

    it("previews the same stack with this code and finds no change at all", async () => {
        // A user's upgrade: the same stack file (its committed configuration is the same), new program files.
        expect(committedConfig(ROOT)).to.deep.equal(committedConfig(previous));
        linkProject(project, ROOT);
        expect(fs.readlinkSync(path.join(project, "index.ts"))).to.equal(path.join(ROOT, "index.ts"));
        const started = Date.now();
        const r = recorder();
        const preview = await stack.preview({ onEvent: r.onEvent, onOutput: r.onOutput, expectNoChanges: true, diff: true });
        console.log(`      this code: preview ${JSON.stringify(preview.changeSummary)} in ${Math.round((Date.now() - started) / 1000)}s`);
        expect(changes(r.steps)).to.deep.equal([]);
        // Reads (the gateway Service, read back on every run) are no change.
        expect(Object.keys(preview.changeSummary).filter((op) => op !== "same" && op !== "read")).to.deep.equal([]);
        expect(preview.changeSummary.same).to.be.greaterThan(40);
    });

    it("destroys the stack with this code", async () => {
        const started = Date.now();
        const result = await stack.destroy({ onOutput: () => undefined });
        console.log(`      this code: destroy ${JSON.stringify(result.summary.resourceChanges)} in ${Math.round((Date.now() - started) / 1000)}s`);
        expect(result.summary.result).to.equal("succeeded");
    });
});
