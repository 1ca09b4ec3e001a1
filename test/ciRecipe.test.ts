/**
 * The CI recipe (docs/ci/github-actions.yml) against the "CI" commands of docs/platform-teams.md: the jobs run exactly
 * the commands the documentation gives, preview on pull requests and update on merges, one job per stack of the project, the policy
 * pack in both, the state backend and its secrets from the environment.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { toolVersions } from "../local/workspace";
import { ROOT, stackNames } from "./support/stacks";

interface Job {
    if?: string;
    strategy?: { matrix?: { stack?: string[] } };
    env?: Record<string, string>;
    environment?: string;
    concurrency?: { group: string; "cancel-in-progress": boolean };
    steps: Array<{ uses?: string; run?: string; with?: Record<string, unknown> }>;
}

const workflow = YAML.parse(fs.readFileSync(path.join(ROOT, "docs", "ci", "github-actions.yml"), "utf8")) as {
    on: { pull_request: unknown; push: { branches: string[] } };
    jobs: Record<string, Job>;
};

/** The commands of the documented CI block (the sh block after "**CI**"), without their comments. */
function readmeCommands(): string[] {
    const readme = fs.readFileSync(path.join(ROOT, "docs", "platform-teams.md"), "utf8");
    const section = readme.slice(readme.indexOf("**CI**"));
    const block = /```sh\n([\s\S]*?)```/.exec(section)![1];
    return block.split("\n").map((l) => l.replace(/\s+#.*$/, "").trim()).filter((l) => l !== "");
}

const runs = (job: Job) => job.steps.flatMap((s) => (s.run ?? "").split("\n")).map((l) => l.trim()).filter((l) => l !== "");

describe("the CI recipe", () => {
    it("runs the documented commands and nothing else", () => {
        const documented = readmeCommands();
        expect(documented).to.have.length(3);
        const used = [...new Set(Object.values(workflow.jobs).flatMap(runs))];
        expect(used.sort()).to.deep.equal([...documented].sort());
    });

    it("previews every pull request and updates on every merge to main, with the policy pack in both", () => {
        expect(workflow.on).to.have.property("pull_request");
        expect(workflow.on.push.branches).to.deep.equal(["main"]);
        const { preview, up } = workflow.jobs;
        expect(preview.if).to.equal("github.event_name == 'pull_request'");
        expect(up.if).to.equal("github.event_name == 'push'");
        expect(runs(preview)).to.deep.equal(["npm ci", 'pulumi preview --stack "$STACK" --policy-pack policy --diff']);
        expect(runs(up)).to.deep.equal(["npm ci", 'pulumi up --stack "$STACK" --policy-pack policy --yes --diff']);
        expect(fs.existsSync(path.join(ROOT, "policy", "PulumiPolicy.yaml")), "--policy-pack policy names the pack's directory").to.equal(true);
    });

    it("has one job per stack of the project, each with its environment, state backend and secrets", () => {
        for (const job of Object.values(workflow.jobs)) {
            const stacks = job.strategy!.matrix!.stack!;
            expect(stacks.every((s) => stackNames().includes(s)), `${stacks.join(", ")} are stacks with a Pulumi.<stack>.yaml`).to.equal(true);
            expect(stacks).to.include("prod");
            expect(job.environment).to.equal("${{ matrix.stack }}");
            expect(job.env).to.deep.include({
                STACK: "${{ matrix.stack }}",
                PULUMI_BACKEND_URL: "${{ vars.PULUMI_BACKEND_URL }}",
                PGPASSWORD: "${{ secrets.PGPASSWORD }}",
                PULUMI_CONFIG_PASSPHRASE: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
            });
            const cli = job.steps.find((s) => s.uses?.startsWith("pulumi/actions@"));
            expect(cli?.with, "the Pulumi CLI the project tests with").to.deep.equal({ "pulumi-version": toolVersions().PULUMI_CLI_VERSION });
        }
        expect(workflow.jobs.up.concurrency).to.deep.equal({ group: "pulumi-${{ matrix.stack }}", "cancel-in-progress": false });
    });
});
