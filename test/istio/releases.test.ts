/**
 * Istio as it ships today: the order of releases, the retired artifact hosts, and the security-bulletin table
 * (its rows, which releases they affect, and that it loads without Pulumi, as a policy pack would import it).
 */
import { expect } from "chai";
import { execFileSync } from "child_process";
import * as path from "path";
import { DEFAULT_ISTIO_VERSION, compareIstioVersions, minorOf, retiredHostOf } from "../../components/istio/releases";
import { ISTIO_SECURITY_BULLETINS, bulletinsAffecting, firstReleaseFixing } from "../../components/istio/securityBulletins";
import { ROOT } from "../support/stacks";

describe("Istio releases", () => {
    it("are ordered as semantic versions, pre-releases before their release", () => {
        const ordered = ["1.29.7", "1.30.3", "1.30.10", "1.31.0-alpha.1", "1.31.0-beta.0", "1.31.0-rc.0", "1.31.0-rc.1", "1.31.0", "1.31.1"];
        const shuffled = [...ordered].reverse();
        expect(shuffled.sort(compareIstioVersions)).to.deep.equal(ordered);
        expect(compareIstioVersions("1.31.1", "1.31.1")).to.equal(0);
        expect(minorOf("1.31.0-rc.0")).to.equal("1.31");
        expect(() => compareIstioVersions("1.31", "1.31.1")).to.throw("not an Istio release: 1.31");
    });

    it("know the hosts Istio retires and what replaces them", () => {
        expect(retiredHostOf("https://istio-release.storage.googleapis.com/charts/", "charts")?.replacement).to.equal("https://blob.istio.io/istio-release/charts");
        expect(retiredHostOf("oci://gcr.io/istio-release/charts", "charts")?.replacement).to.equal("oci://ghcr.io/istio/release/charts");
        expect(retiredHostOf("registry.istio.io/release", "images")?.replacement).to.equal("docker.io/istio");
        // A prefix of a path segment is not the host: registries of one's own with similar names are fine.
        expect(retiredHostOf("gcr.io/istio-release-mirror", "images")).to.equal(undefined);
        expect(retiredHostOf("https://blob.istio.io/istio-release/charts", "charts")).to.equal(undefined);
        expect(retiredHostOf("./charts", "charts")).to.equal(undefined);
    });
});

describe("the security-bulletin table", () => {
    it("has, in every row, a fix in the row's own minor line after its first affected release, and an istio.io source", () => {
        for (const b of ISTIO_SECURITY_BULLETINS) {
            expect(minorOf(b.fixedIn), `${b.id} ${b.minor}`).to.equal(b.minor);
            if (b.firstAffected !== undefined) {
                expect(minorOf(b.firstAffected), `${b.id} ${b.minor}`).to.equal(b.minor);
                expect(compareIstioVersions(b.firstAffected, b.fixedIn), `${b.id} ${b.minor}`).to.be.lessThan(0);
            }
            expect(b.source, b.id).to.match(/^https:\/\/istio\.io\/latest\/news\//);
            expect(b.id, b.id).to.match(/^(ISTIO-SECURITY-\d{4}-\d{3}|GHSA(-[0-9a-z]{4}){3})$/);
        }
    });

    it("finds the bulletins against a release: its line, from the first affected release, before the fix", () => {
        const ids = (version: string) => bulletinsAffecting(version).map((b) => b.id);
        expect(ids("1.30.3")).to.deep.equal(["ISTIO-SECURITY-2026-006"]);
        expect(ids("1.30.2")).to.deep.equal(["ISTIO-SECURITY-2026-006", "ISTIO-SECURITY-2026-005"]);
        // 2026-005 reached 1.30 with 1.30.1.
        expect(ids("1.30.0")).to.deep.equal(["ISTIO-SECURITY-2026-006"]);
        expect(ids("1.30.4")).to.deep.equal([]);
        expect(ids("1.28.9")).to.deep.equal(["ISTIO-SECURITY-2026-005"]);
        // A pre-release of a line counts as that line's, before its fixes.
        expect(ids("1.31.0-rc.0")).to.deep.equal(["GHSA-qm8v-g4f9-qhjx"]);
        expect(ids("1.31.0")).to.deep.equal(["GHSA-qm8v-g4f9-qhjx"]);
        expect(ids(DEFAULT_ISTIO_VERSION), "the default release").to.deep.equal([]);
        expect(firstReleaseFixing(bulletinsAffecting("1.30.2"))).to.equal("1.30.4");
        expect(firstReleaseFixing([])).to.equal(undefined);
    });

    it("loads without Pulumi or any other package, as a policy pack would import it", () => {
        // A fresh Node process: which modules the table pulls in, besides itself and the releases it compares.
        const script = [
            "require('ts-node/register/transpile-only');",
            `const table = require(${JSON.stringify(path.join(ROOT, "components", "istio", "securityBulletins.ts"))});`,
            "const files = Object.keys(require.cache).map((f) => require('path').relative(process.cwd(), f));",
            "console.log(JSON.stringify({ rows: table.ISTIO_SECURITY_BULLETINS.length, own: files.filter((f) => !f.startsWith('node_modules/')), pulumi: files.filter((f) => f.includes('@pulumi')) }));",
        ].join("\n");
        const out = JSON.parse(execFileSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8" })) as { rows: number; own: string[]; pulumi: string[] };
        expect(out.rows).to.equal(ISTIO_SECURITY_BULLETINS.length);
        expect(out.pulumi).to.deep.equal([]);
        expect(out.own.sort()).to.deep.equal(["components/istio/releases.ts", "components/istio/securityBulletins.ts"]);
    });
});
