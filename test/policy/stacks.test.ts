/**
 * The policy pack on what the program really declares: index.ts run under the mocks with each committed stack
 * file (and with one setting changed at a time), every resource it registers handed to the pack's rules as the
 * engine hands it over, in an update and in a preview (where some inputs are not known yet).
 */
import { expect } from "chai";
import { configSchema } from "../../config/schema";
import { bulletinsAffecting } from "../../components/istio/securityBulletins";
import { packEnvironment } from "../../policy/environment";
import { meshPolicies } from "../../policy/policies";
import { Declared, Recorder, mocks, runProgram } from "../support/harness";
import { stackRunConfig } from "../support/stacks";
import { AnalyzedResource, Analysis, PackConfig, analyze } from "../support/analyzer";

const P = "pks-istio-mesh:";
const DEFAULT_ISTIO = configSchema.shape.istioVersion.parse(undefined);
/** A release no bulletin of the table affects, and one that some do. */
const CLEAN_ISTIO = ["1.31.1", "1.30.4", "1.29.7"].find((v) => bulletinsAffecting(v).length === 0)!;
const AFFECTED_ISTIO = ["1.30.3", "1.31.0"].find((v) => bulletinsAffecting(v).length > 0)!;
/** The Istio charts the program installs by default (CNI is off). */
const ISTIO_CHART_RELEASES = ["istio-istio-base", "istio-istiod", "istio-gateway"];

/** Whether a declared resource is protected: its own `protect`, else its parent's (as the SDK inherits it). */
function protections(recorder: Recorder): Map<string, boolean> {
    const byResource = new Map(recorder.declared.map((d) => [d.resource, d] as const));
    const protect = (d: Declared | undefined): boolean => d === undefined ? false : d.opts.protect ?? protect(d.opts.parent ? byResource.get(d.opts.parent) : undefined);
    return new Map(recorder.declared.map((d) => [`${d.type}::${d.name}`, protect(d)]));
}

/** What the program registers for `stack` (with `overrides`), as the engine hands it to the pack. */
async function programResources(stack: string, overrides: Record<string, string | undefined> = {}, preview = false): Promise<AnalyzedResource[]> {
    const { config, secretKeys } = stackRunConfig(stack);
    for (const [key, value] of Object.entries(overrides)) {
        if (value === undefined) {
            delete config[`${P}${key}`];
        } else {
            config[`${P}${key}`] = value;
        }
    }
    const run = await runProgram(config, secretKeys, stack, preview);
    if (run.error) {
        throw run.error;
    }
    const protect = protections(run.recorder);
    // Reads (`Resource.get`) are not registrations the pack sees.
    return mocks.registered.filter((r) => r.id === undefined)
        .map((r) => ({ type: r.type, name: r.name, props: r.inputs, protect: protect.get(`${r.type}::${r.name}`) ?? false }));
}

async function analyzeStack(stack: string, overrides: Record<string, string | undefined> = {}, options: { preview?: boolean; config?: PackConfig } = {}): Promise<Analysis> {
    const resources = await programResources(stack, overrides, options.preview);
    const { config } = stackRunConfig(stack);
    const environment = packEnvironment(stack, (key) => overrides[key] ?? config[`${P}${key}`]);
    const analysis = await analyze(meshPolicies(environment), resources, environment.enforcementLevel, options.config, options.preview);
    expect(analysis.unknownReads, "no rule fails on a value the preview does not know").to.deep.equal([]);
    return analysis;
}

/** `rule resource-name` of each violation. */
const found = (analysis: Analysis) => analysis.violations.map((v) => `${v.policy} ${v.urn.split("::").pop()}`).sort();

describe("policy pack on the program's own stacks", function () {
    this.timeout(60_000);

    for (const preview of [false, true]) {
        it(`passes the committed prod stack, mandatory, but for its Istio release's bulletins (${preview ? "preview" : "update"})`, async () => {
            const analysis = await analyzeStack("prod", {}, { preview });
            const bulletins = bulletinsAffecting(DEFAULT_ISTIO).length > 0 ? ISTIO_CHART_RELEASES.map((r) => `istio-release-no-security-bulletin ${r}`) : [];
            expect(found(analysis)).to.deep.equal(bulletins.sort());
            expect(analysis.violations.every((v) => v.level === "mandatory")).to.equal(true);
            expect(analysis.notApplicable, "every rule applies to prod").to.deep.equal([]);
        });
    }

    it("warns on the committed dev stack, advisory, and leaves production-only rules out", async () => {
        const analysis = await analyzeStack("dev");
        const { config } = stackRunConfig("dev");
        expect(found(analysis)).to.deep.equal([
            ...bulletinsAffecting(DEFAULT_ISTIO).length > 0 ? ISTIO_CHART_RELEASES.map((r) => `istio-release-no-security-bulletin ${r}`) : [],
            ...config[`${P}pksSkipTlsValidation`] === "true" ? ["pks-tls-verified medium-lb-cluster", "pks-tls-verified medium-lb-cluster-claim", "pks-tls-verified network-profile-medium", "pks-tls-verified network-profile-medium-claim"] : [],
        ].sort());
        expect(analysis.violations.every((v) => v.level === "advisory")).to.equal(true);
        expect([...new Set(analysis.notApplicable.map((n) => n.policy))].sort()).to.deep.equal(["images-from-configured-hub", "istio-hosts-not-wildcard", "pks-cluster-protected"]);
    });

    const TLS_OFF = { pksSkipTlsValidation: "true", pksCaCert: undefined };
    const breaking: Array<[string, Record<string, string | undefined>, PackConfig, string[]]> = [
        ["mtlsMode PERMISSIVE", { mtlsMode: "PERMISSIVE" }, {}, ["istio-mtls-strict mesh-default", "istio-mesh-mtls-required istio-istiod"]],
        ["destinationRuleMtls off does not break it (auto-mTLS)", { destinationRuleMtls: "false" }, {}, []],
        ["bookinfoHosts unset (any host)", { bookinfoHosts: undefined }, {}, ["istio-hosts-not-wildcard bookinfo-gateway", "istio-hosts-not-wildcard bookinfo-virtualservice"]],
        ["pksSkipTlsValidation", TLS_OFF, {}, ["pks-tls-verified mesh-prod", "pks-tls-verified mesh-prod-claim", "pks-tls-verified network-profile-large-prod", "pks-tls-verified network-profile-large-prod-claim"]],
        ["clusterProtect false", { clusterProtect: "false" }, {}, ["pks-cluster-protected mesh-prod"]],
        [`istioVersion ${AFFECTED_ISTIO}`, { istioVersion: AFFECTED_ISTIO }, {}, ISTIO_CHART_RELEASES.map((r) => `istio-release-no-security-bulletin ${r}`)],
        ["images from another hub than the pack's", {}, { "images-from-configured-hub": { hub: "registry.internal/mesh" } }, [
            "images-from-configured-hub bookinfo-details-v1", "images-from-configured-hub bookinfo-productpage-v1", "images-from-configured-hub bookinfo-ratings-v1",
            "images-from-configured-hub bookinfo-reviews-v1", "images-from-configured-hub bookinfo-reviews-v2", "images-from-configured-hub bookinfo-reviews-v3",
            "images-from-configured-hub istio-istiod"]],
        ["bookinfoAuthorization false", { bookinfoAuthorization: "false" }, {}, ["bookinfo-authorization bookinfo-productpage-v1"]],
    ];
    for (const [what, overrides, config, expected] of breaking) {
        it(`refuses in prod exactly what breaks a rule: ${what}`, async () => {
            const analysis = await analyzeStack("prod", { istioVersion: CLEAN_ISTIO, ...overrides }, { config });
            expect(found(analysis)).to.deep.equal([...expected].sort());
            expect(analysis.violations.every((v) => v.level === "mandatory")).to.equal(true);
        });
    }

    it("refuses in a first preview what it can tell without outputs: Bookinfo authorization off, found by the program's names", async () => {
        const off = await analyzeStack("prod", { istioVersion: CLEAN_ISTIO, bookinfoAuthorization: "false" }, { preview: true });
        expect(found(off)).to.deep.equal(["bookinfo-authorization bookinfo-productpage-v1"]);
        expect(off.violations[0].message).to.equal("Bookinfo runs without the allow-nothing AuthorizationPolicy default-deny: every workload there accepts calls from anyone in the mesh.");
        // PERMISSIVE is caught on the resource itself; the stack check cannot see the PeerAuthentication's mode yet.
        expect(found(await analyzeStack("prod", { istioVersion: CLEAN_ISTIO, mtlsMode: "PERMISSIVE" }, { preview: true }))).to.deep.equal(["istio-mtls-strict mesh-default"]);
    });
});
