/**
 * The test tools' build recipe (tools/tools.sh): what it records in versions.env still describes it.
 */
import { expect } from "chai";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ROOT } from "./support/stacks";

const TOOLS = path.join(ROOT, "tools", "tools.sh");

describe("the Kubernetes provider's schema recipe", () => {
    it("is the one whose proof versions.env records (re-run `tools/tools.sh kubernetes_schema_proof` after changing it)", () => {
        const versions = fs.readFileSync(path.join(ROOT, "tools", "versions.env"), "utf8");
        const proof = /^KUBERNETES_SCHEMA_PROOF="(.*)"$/m.exec(versions)?.[1] ?? "";
        // What the proof found: v4.25.0's schema.json (the git blob upstream committed at that tag) regenerated.
        expect(proof).to.match(/^v4\.25\.0 \(v4\.0\.0-20260115033456-f47bc2d6f199\): schema\.json \(git blob cc2201d6c0be7a3fac314693fd71a2c8a802c914\) and terraform-mapping\.json regenerated identical in \d+s; recipe \d+$/);
        const recipe = execFileSync(TOOLS, ["--schema-recipe"], { encoding: "utf8" }).trim();
        expect(proof.split("; recipe ").pop(), "the recipe the proof ran").to.equal(recipe);
    });
});
