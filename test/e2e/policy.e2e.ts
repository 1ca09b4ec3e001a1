/**
 * End to end, the guardrails: `pulumi preview --policy-pack policy` by the Pulumi CLI, as a platform team's CI
 * runs it, on the local stack's program. The CLI starts the pack through the Node.js language host
 * (pulumi-language-nodejs `RunPlugin` for an analyzer: it hands the pack the stack's name and configuration, then
 * runs @pulumi/pulumi's `run-policy-pack` in the pack's directory), and the engine checks every resource the
 * program registers, and the whole stack, against it. A compliant production stack passes; a production stack
 * that breaks one mandatory rule at a time fails, naming the rule and the resource; the same program as a
 * development stack is only warned.
 *
 * Previews only: nothing is created, so no cluster is needed (the cluster's credentials are unknown in a first
 * preview, and the program plans every object without contacting one).
 */
import { ConfigMap, Stack } from "@pulumi/pulumi/automation";
import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { bulletinsAffecting } from "../../components/istio/securityBulletins";
import { ROOT, stackConfig } from "../support/stacks";
import { startCli } from "../support/engine";
import { localIstio, meshStack, projectDir, requireTools, toolVersions, toolsBin, workspaceEnv } from "../../local/workspace";

const P = "pks-istio-mesh:";
const TOOLS_BIN = toolsBin();
/** The Istio release whose charts the tests install (from the tool cache). */
const ISTIO = toolVersions().ISTIO_VERSION;
const POLICY_PACK = path.join(ROOT, "policy");
const CA_CERT = "-----BEGIN CERTIFICATE-----\nMIIB (the PKS API's CA; not read by a preview)\n-----END CERTIFICATE-----\n";

/**
 * The violations the CLI prints under "Policies:", one line each: `- [mandatory] [severity: high]  <rule>  (<type>:
 * <resource name>)`.
 */
function violations(output: string): Array<{ level: string; rule: string; line: string }> {
    return output.split("\n").map((line) => ({ line, m: /\[(mandatory|advisory)\](?:\s+\[[^\]]*\])*\s+([a-z0-9-]+)\s/.exec(line) }))
        .filter(({ m }) => m !== null).map(({ line, m }) => ({ level: m![1], rule: m![2], line }));
}

describe("end to end: the policy pack, run by the pulumi CLI at preview", function () {
    this.timeout(20 * 60_000);
    requireTools(TOOLS_BIN, ["pulumi", "pulumi-language-nodejs", "pulumi-resource-command", "pulumi-resource-kubernetes", `istio-charts-${ISTIO}`]);
    let dir: string;
    let failed = false;
    let production: Stack;
    let env: Record<string, string>;
    let project: string;
    let packConfig: string;
    const version = ISTIO;
    const accepted = bulletinsAffecting(version).map((b) => b.id);

    /** The local stack's committed configuration as config values, and the password as a secret. */
    const localConfig = (): ConfigMap => ({
        ...Object.fromEntries(Object.entries(stackConfig("local")).map(([k, v]) => [k, { value: v }])),
        [`${P}pksPassword`]: { value: "admin-password", secret: true },
        ...localIstio(TOOLS_BIN),
    });

    before(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pks-istio-mesh-e2e-policy-"));
        console.log(`      e2e workspace: ${dir}  (Istio charts ${version}; bulletins accepted by the pack's configuration: ${accepted.join(", ") || "none"})`);
        const options = { dir: path.join(dir, "pulumi"), toolsBin: TOOLS_BIN, stackName: "local-prod", passphrase: crypto.randomBytes(12).toString("hex") };
        production = await meshStack(options);
        env = workspaceEnv(options);
        project = projectDir(options);
        // The local program as a production stack would run it: TLS verified, cluster protected, named hosts, images
        // from the site's registry.
        await production.setAllConfig({
            ...localConfig(),
            [`${P}pksSkipTlsValidation`]: { value: "false" },
            [`${P}pksCaCert`]: { value: CA_CERT },
            [`${P}clusterProtect`]: { value: "true" },
            [`${P}bookinfoHosts`]: { value: JSON.stringify(["bookinfo.example.com"]) },
            [`${P}imageHub`]: { value: "harbor.example.com/istio" },
        });
        packConfig = path.join(dir, "policy-config.json");
        writePackConfig({});
    });

    afterEach(function () {
        failed ||= this.currentTest?.state === "failed";
    });

    after(() => {
        if (failed) {
            console.log(`      kept for inspection: ${dir}`);
        } else if (dir) {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    /** The pack's configuration: the reviewed bulletins of the test's Istio release accepted, plus `extra`. */
    function writePackConfig(extra: Record<string, unknown>, acceptBulletins = true): void {
        fs.writeFileSync(packConfig, JSON.stringify({
            ...acceptBulletins ? { "istio-release-no-security-bulletin": { acceptedBulletins: accepted } } : {},
            ...extra,
        }, null, 2));
    }

    /** `pulumi preview --policy-pack policy --policy-pack-config FILE` of a stack, as CI runs it. */
    async function preview(stackName: string): Promise<{ code: number | null; output: string; seconds: number }> {
        const started = Date.now();
        const run = startCli(project, env, ["preview", "--stack", stackName, "--policy-pack", POLICY_PACK, "--policy-pack-config", packConfig]);
        const code = await run.exited;
        const seconds = Math.round((Date.now() - started) / 100) / 10;
        console.log(`      pulumi preview --stack ${stackName} --policy-pack policy: exit ${code} in ${seconds}s`);
        return { code, output: run.output(), seconds };
    }

    it("passes a compliant production stack: every rule mandatory, none violated", async () => {
        const result = await preview("local-prod");
        expect(result.code, result.output).to.equal(0);
        expect(result.output).to.include("pks-istio-mesh@v0.1.0");
        expect(violations(result.output)).to.deep.equal([]);
    });

    const breaking: Array<{ what: string; config?: ConfigMap; remove?: string[]; pack?: Record<string, unknown>; acceptBulletins?: boolean; rule: string; resources: string[] }> = [
        { what: "mTLS relaxed to PERMISSIVE", config: { [`${P}mtlsMode`]: { value: "PERMISSIVE" } }, rule: "istio-mtls-strict", resources: ["mesh-default"] },
        { what: "Bookinfo served for any host", remove: [`${P}bookinfoHosts`], rule: "istio-hosts-not-wildcard", resources: ["bookinfo-gateway", "bookinfo-virtualservice"] },
        {
            what: "TLS to the PKS API not verified", config: { [`${P}pksSkipTlsValidation`]: { value: "true" } }, remove: [`${P}pksCaCert`],
            rule: "pks-tls-verified", resources: ["medium-lb-cluster", "network-profile-medium"],
        },
        { what: "the cluster unprotected", config: { [`${P}clusterProtect`]: { value: "false" } }, rule: "pks-cluster-protected", resources: ["medium-lb-cluster"] },
        { what: "an Istio release under a security bulletin", acceptBulletins: false, rule: "istio-release-no-security-bulletin", resources: ["istio-istiod"] },
        {
            what: "images from another registry than the team's", pack: { "images-from-configured-hub": { hub: "registry.internal/mesh" } },
            rule: "images-from-configured-hub", resources: ["bookinfo-productpage-v1", "istio-istiod"],
        },
        { what: "Bookinfo authorization off", config: { [`${P}bookinfoAuthorization`]: { value: "false" } }, rule: "bookinfo-authorization", resources: ["productpage-v1"] },
    ];
    for (const b of breaking) {
        it(`fails a production stack with ${b.what}, naming ${b.rule} and the resource`, async function () {
            if (b.rule === "istio-release-no-security-bulletin" && accepted.length === 0) {
                // The test's charts are under no bulletin: nothing to break with them (the unit tests cover the rule).
                this.skip();
            }
            const saved = await production.getAllConfig();
            try {
                if (b.config) {
                    await production.setAllConfig(b.config);
                }
                for (const key of b.remove ?? []) {
                    await production.removeConfig(key);
                }
                writePackConfig(b.pack ?? {}, b.acceptBulletins ?? true);
                const result = await preview("local-prod");
                expect(result.code, "the preview fails").to.not.equal(0);
                const found = violations(result.output);
                expect([...new Set(found.map((v) => `${v.level} ${v.rule}`))].filter((v) => !v.endsWith("istio-mesh-mtls-required")), result.output)
                    .to.deep.equal([`mandatory ${b.rule}`]);
                for (const resource of b.resources) {
                    expect(found.some((v) => v.rule === b.rule && v.line.includes(resource)), `${b.rule} names ${resource}:\n${found.map((v) => v.line).join("\n")}`).to.equal(true);
                }
            } finally {
                for (const key of Object.keys(await production.getAllConfig())) {
                    if (!(key in saved)) {
                        await production.removeConfig(key);
                    }
                }
                await production.setAllConfig(saved);
                writePackConfig({});
            }
        });
    }

    it("only warns on the same breaches in a development stack", async () => {
        const dev = await meshStack({ dir: path.join(dir, "pulumi"), toolsBin: TOOLS_BIN, stackName: "local", passphrase: env.PULUMI_CONFIG_PASSPHRASE });
        await dev.setAllConfig({ ...localConfig(), [`${P}mtlsMode`]: { value: "PERMISSIVE" } });
        writePackConfig({}, false);
        const result = await preview("local");
        expect(result.code, result.output).to.equal(0);
        const found = violations(result.output);
        expect(found.length).to.be.greaterThan(0);
        expect(found.every((v) => v.level === "advisory"), result.output).to.equal(true);
        expect(found.map((v) => v.rule)).to.include.members(["istio-mtls-strict", "pks-tls-verified"]);
        expect(found.map((v) => v.rule), "production-only rules stay out").to.not.include("istio-hosts-not-wildcard").and.to.not.include("pks-cluster-protected");
    });
});
