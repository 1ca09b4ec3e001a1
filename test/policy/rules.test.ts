/**
 * The policy pack's rules (policy/), one by one, on resources as the engine hands them over: what each refuses,
 * what it lets through, where it applies, how its configuration changes it, and what it does with values a
 * preview does not know yet.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { bulletinsAffecting } from "../../components/istio/securityBulletins";
import { PKSCTL_ENV } from "../../programs/pksctl/contract";
import { PROJECT } from "../../config";
import { PackEnvironment, PROGRAM, packEnvironment } from "../../policy/environment";
import { meshPolicies } from "../../policy/policies";
import { AnalyzedResource, Analysis, PackConfig, analyze, urnOf } from "../support/analyzer";

// The engine's sentinel for a string a preview does not know (what @pulumi/policy's proxy recognises).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const UNKNOWN_STRING = (require("@pulumi/policy/proxy") as { unknownStringValue: string }).unknownStringValue;

const PROD = packEnvironment("prod", () => undefined);
const DEV = packEnvironment("dev", () => undefined);
const HUB = "harbor.example.com/istio";

/** The violations of one rule, as `message` strings. */
const of = (analysis: Analysis, policy: string) => analysis.violations.filter((v) => v.policy === policy);

async function check(resources: AnalyzedResource[], environment: PackEnvironment = PROD, config: PackConfig = {}, firstPreview = false): Promise<Analysis> {
    const analysis = await analyze(meshPolicies(environment), resources, environment.enforcementLevel, config, firstPreview);
    expect(analysis.unknownReads, "no rule fails on a value the preview does not know").to.deep.equal([]);
    return analysis;
}

const peerAuthentication = (name: string, namespace: string, spec: Record<string, unknown>): AnalyzedResource => ({
    type: "kubernetes:security.istio.io/v1:PeerAuthentication", name,
    props: { apiVersion: "security.istio.io/v1", kind: "PeerAuthentication", metadata: { name, namespace }, spec },
});
const destinationRule = (name: string, spec: Record<string, unknown>): AnalyzedResource => ({
    type: "kubernetes:networking.istio.io/v1:DestinationRule", name,
    props: { apiVersion: "networking.istio.io/v1", kind: "DestinationRule", metadata: { name, namespace: "bookinfo" }, spec: { host: name, ...spec } },
});
const release = (name: string, props: Record<string, unknown>): AnalyzedResource => ({ type: "kubernetes:helm.sh/v3:Release", name, props });
const istiod = (version: string, values: Record<string, unknown> = {}): AnalyzedResource => release("istio-istiod", {
    name: "istiod", namespace: "istio-system", chart: "istiod", version, repositoryOpts: { repo: "https://blob.istio.io/istio-release/charts" }, values,
});
const deployment = (name: string, namespace: string, images: string[], labels: Record<string, string> = {}): AnalyzedResource => ({
    type: "kubernetes:apps/v1:Deployment", name,
    props: { metadata: { name, namespace, labels }, spec: { template: { spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) } } } },
});
/** A pksctl Command as the PKS components declare it: a cluster's (env names one) or a network profile's verbs. */
const pksctl = (name: string, env: Record<string, string>, protect = false): AnalyzedResource => {
    const object = PKSCTL_ENV.cluster in env ? "cluster" : "network-profile";
    return {
        type: "command:local:Command", name, protect,
        props: {
            create: `create-${object}`, delete: `delete-${object}`,
            environment: { [PKSCTL_ENV.api]: "api.tkgi.example.com", [PKSCTL_ENV.skipTlsValidation]: "false", ...env },
        },
    };
};

describe("policy pack: environments", () => {
    it("treats prod and production stacks, alone or as a first or last name part, as production", () => {
        for (const stack of ["prod", "production", "prod-eu", "Production_1", "eu-prod", "tkgi.production", "pre-prod"]) {
            expect(packEnvironment(stack, () => undefined), stack).to.include({ production: true, enforcementLevel: "mandatory" });
        }
        for (const stack of ["dev", "local", "staging", "product", "prodx", "preprod", "reproduction"]) {
            expect(packEnvironment(stack, () => undefined), stack).to.include({ production: false, enforcementLevel: "advisory" });
        }
    });

    it("is strict when it cannot tell the stack (e.g. pulumi policy publish)", () => {
        expect(packEnvironment("", () => undefined)).to.include({ production: true, enforcementLevel: "mandatory" });
    });

    it("reads the stack's imageHub from the program's configuration namespace", () => {
        expect(PROGRAM).to.equal(PROJECT);
        expect(packEnvironment("dev", (key) => (key === "imageHub" ? `${HUB}/` : undefined)).imageHub).to.equal(HUB);
    });
});

describe("policy pack: strict mutual TLS", () => {
    it("refuses PERMISSIVE and DISABLE, mesh-wide and per port, and names where", async () => {
        const a = await check([
            peerAuthentication("mesh-default", "istio-system", { mtls: { mode: "PERMISSIVE" } }),
            peerAuthentication("legacy", "team-a", { selector: { matchLabels: { app: "legacy" } }, mtls: { mode: "STRICT" }, portLevelMtls: { 8080: { mode: "DISABLE" } } }),
        ]);
        expect(of(a, "istio-mtls-strict").map((v) => v.message)).to.deep.equal([
            "PeerAuthentication istio-system/default sets spec.mtls.mode to PERMISSIVE: workloads would accept plain text; use STRICT.".replace("istio-system/default", "istio-system/mesh-default"),
            "PeerAuthentication team-a/legacy sets spec.portLevelMtls[8080].mode to DISABLE: workloads would accept plain text; use STRICT.",
        ]);
        expect(of(a, "istio-mtls-strict").every((v) => v.level === "mandatory")).to.equal(true);
    });

    it("refuses a DestinationRule that disables TLS, at the top, per port or per subset", async () => {
        const a = await check([
            destinationRule("details", { trafficPolicy: { tls: { mode: "DISABLE" } } }),
            destinationRule("ratings", { trafficPolicy: { portLevelSettings: [{ port: { number: 9080 }, tls: { mode: "DISABLE" } }] } }),
            destinationRule("reviews", { subsets: [{ name: "v1", labels: { version: "v1" } }, { name: "v2", trafficPolicy: { tls: { mode: "DISABLE" } } }] }),
            destinationRule("productpage", { trafficPolicy: { tls: { mode: "ISTIO_MUTUAL" } } }),
        ]);
        expect(of(a, "istio-mtls-strict").map((v) => v.urn.split("::").pop())).to.deep.equal(["details", "ratings", "reviews"]);
        expect(of(a, "istio-mtls-strict")[2].message).to.include("spec.subsets[1].trafficPolicy.tls.mode to DISABLE");
    });

    it("lets STRICT, UNSET and auto-mTLS through, and leaves a mode the preview does not know to `up`", async () => {
        const a = await check([
            peerAuthentication("mesh-default", "istio-system", { mtls: { mode: "STRICT" } }),
            peerAuthentication("inherit", "bookinfo", { mtls: { mode: "UNSET" } }),
            peerAuthentication("later", "bookinfo", { mtls: { mode: UNKNOWN_STRING } }),
            destinationRule("details", { subsets: [{ name: "v1", labels: { version: "v1" } }] }),
        ]);
        expect(of(a, "istio-mtls-strict")).to.deep.equal([]);
    });

    it("requires a mesh-wide STRICT PeerAuthentication in the root namespace wherever the stack installs istiod", async () => {
        const strict = peerAuthentication("mesh-default", "istio-system", { mtls: { mode: "STRICT" } });
        expect(of(await check([istiod("1.31.1"), strict]), "istio-mesh-mtls-required")).to.deep.equal([]);
        for (const missing of [
            [],
            [peerAuthentication("mesh-default", "bookinfo", { mtls: { mode: "STRICT" } })],
            [peerAuthentication("mesh-default", "istio-system", { selector: { matchLabels: { app: "a" } }, mtls: { mode: "STRICT" } })],
        ]) {
            const a = await check([istiod("1.31.1"), ...missing]);
            expect(of(a, "istio-mesh-mtls-required").map((v) => v.urn)).to.deep.equal([urnOf(istiod("1.31.1"))]);
            expect(of(a, "istio-mesh-mtls-required")[0].message).to.include("without a mesh-wide STRICT PeerAuthentication");
        }
        // meshConfig.rootNamespace moves the root namespace.
        const moved = await check([istiod("1.31.1", { meshConfig: { rootNamespace: "mesh-root" } }), strict]);
        expect(of(moved, "istio-mesh-mtls-required")).to.have.length(1);
        expect(of(await check([strict]), "istio-mesh-mtls-required"), "no istiod, no requirement").to.deep.equal([]);
    });

    it("tells in a first preview (no outputs) an istiod without any PeerAuthentication by the program's release name", async () => {
        const preview = async (resources: AnalyzedResource[]) => of(await check(resources, PROD, {}, true), "istio-mesh-mtls-required");
        const revisioned = { ...istiod("1.31.1"), name: "istio-1-31-1-istiod" };
        expect((await preview([istiod("1.31.1"), revisioned])).map((v) => v.message)).to.deep.equal([
            "the istiod release installs a mesh without a mesh-wide STRICT PeerAuthentication there: Istio then accepts plain text (PERMISSIVE) everywhere.",
            "the istiod release installs a mesh without a mesh-wide STRICT PeerAuthentication there: Istio then accepts plain text (PERMISSIVE) everywhere.",
        ]);
        expect(await preview([istiod("1.31.1"), peerAuthentication("mesh-default", "istio-system", { mtls: { mode: "PERMISSIVE" } })]),
            "a PeerAuthentication it cannot see yet may be the mesh-wide one").to.deep.equal([]);
        expect(await preview([release("istio-gateway", {})])).to.deep.equal([]);
    });
});

describe("policy pack: named hosts", () => {
    const gateway = (hosts: string[]): AnalyzedResource => ({
        type: "kubernetes:networking.istio.io/v1:Gateway", name: "bookinfo-gateway",
        props: { metadata: { name: "bookinfo-gateway", namespace: "bookinfo" }, spec: { servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts }] } },
    });
    const virtualService = (hosts: string[]): AnalyzedResource => ({
        type: "kubernetes:networking.istio.io/v1:VirtualService", name: "bookinfo", props: { metadata: { name: "bookinfo", namespace: "bookinfo" }, spec: { hosts } },
    });

    it("refuses `*` (also as namespace/*) in production, and accepts names and *.domain wildcards", async () => {
        const a = await check([gateway(["bookinfo.example.com", "istio-ingress/*"]), virtualService(["*"])]);
        expect(of(a, "istio-hosts-not-wildcard").map((v) => v.message)).to.deep.equal([
            "Gateway bookinfo/bookinfo-gateway accepts any host (spec.servers[0].hosts has \"istio-ingress/*\"); name the hosts it serves.",
            "VirtualService bookinfo/bookinfo accepts any host (spec.hosts has \"*\"); name the hosts it serves.",
        ]);
        expect(of(await check([gateway(["*.example.com"]), virtualService(["bookinfo.example.com"])]), "istio-hosts-not-wildcard")).to.deep.equal([]);
    });

    it("does not apply outside production unless its configuration says everyStack", async () => {
        const dev = await check([gateway(["*"])], DEV);
        expect(of(dev, "istio-hosts-not-wildcard")).to.deep.equal([]);
        expect(dev.notApplicable).to.deep.include({ policy: "istio-hosts-not-wildcard", reason: "stack dev is not a production stack (set everyStack to apply this rule to it)" });
        const everywhere = await check([gateway(["*"])], DEV, { "istio-hosts-not-wildcard": { everyStack: true } });
        expect(of(everywhere, "istio-hosts-not-wildcard").map((v) => v.level)).to.deep.equal(["advisory"]);
    });
});

describe("policy pack: the PKS layer", () => {
    it("refuses a pksctl login that skips TLS verification, naming the API", async () => {
        const a = await check([pksctl("mesh-prod", { [PKSCTL_ENV.skipTlsValidation]: "true", [PKSCTL_ENV.cluster]: "{}" }, true)]);
        expect(of(a, "pks-tls-verified").map((v) => v.message)).to.deep.equal([
            "pksctl logs in to the PKS API at api.tkgi.example.com without verifying its certificate (pksSkipTlsValidation: true, `login -k`).",
        ]);
        const profile: AnalyzedResource = { ...pksctl("network-profile-large-prod", { [PKSCTL_ENV.skipTlsValidation]: "true", [PKSCTL_ENV.networkProfile]: "{}" }), name: "profile" };
        expect(of(await check([profile]), "pks-tls-verified")).to.have.length(1);
        const other: AnalyzedResource = { type: "command:local:Command", name: "other", props: { create: "true", environment: { [PKSCTL_ENV.skipTlsValidation]: "true" } } };
        expect(of(await check([other]), "pks-tls-verified"), "a Command that is not pksctl's").to.deep.equal([]);
    });

    it("requires the production cluster protected, and nothing of the network profile", async () => {
        const unprotected = await check([pksctl("mesh-prod", { [PKSCTL_ENV.cluster]: "{}" })]);
        expect(of(unprotected, "pks-cluster-protected").map((v) => v.urn.split("::").pop())).to.deep.equal(["mesh-prod"]);
        expect(of(await check([pksctl("mesh-prod", { [PKSCTL_ENV.cluster]: "{}" }, true)]), "pks-cluster-protected")).to.deep.equal([]);
        expect(of(await check([pksctl("profile", { [PKSCTL_ENV.networkProfile]: "{}" })]), "pks-cluster-protected")).to.deep.equal([]);
        const dev = await check([pksctl("medium-lb-cluster", { [PKSCTL_ENV.cluster]: "{}" })], DEV);
        expect(of(dev, "pks-cluster-protected")).to.deep.equal([]);
        expect(dev.notApplicable.map((n) => n.policy)).to.include("pks-cluster-protected");
    });
});

describe("policy pack: Istio releases under a security bulletin", () => {
    const affected = ["1.30.3", "1.31.0"].find((v) => bulletinsAffecting(v).length > 0)!;
    const clean = ["1.31.1", "1.30.4", "1.29.7"].find((v) => bulletinsAffecting(v).length === 0)!;

    it("refuses a chart release the program's bulletin table lists, naming the bulletins and the fix", async () => {
        const a = await check([istiod(affected)]);
        const violations = of(a, "istio-release-no-security-bulletin");
        expect(violations).to.have.length(1);
        for (const b of bulletinsAffecting(affected)) {
            expect(violations[0].message).to.include(b.id).and.to.include(b.source);
        }
        expect(violations[0].message).to.match(new RegExp(`^Istio ${affected.replace(/\./g, "\\.")} \\(chart istiod\\) is affected by .* Upgrade to \\S+ or later\\.$`));
        expect(of(await check([istiod(clean)]), "istio-release-no-security-bulletin")).to.deep.equal([]);
    });

    it("accepts bulletins the team has listed, and only those", async () => {
        const ids = bulletinsAffecting(affected).map((b) => b.id);
        const accepted = await check([istiod(affected)], PROD, { "istio-release-no-security-bulletin": { acceptedBulletins: ids } });
        expect(of(accepted, "istio-release-no-security-bulletin")).to.deep.equal([]);
        const other = await check([istiod(affected)], PROD, { "istio-release-no-security-bulletin": { acceptedBulletins: ["ISTIO-SECURITY-1999-001"] } });
        expect(of(other, "istio-release-no-security-bulletin")).to.have.length(1);
    });

    it("reads a local chart's release from its Chart.yaml, and refuses a chart whose release it cannot tell", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "policy-charts-"));
        try {
            fs.mkdirSync(path.join(dir, "istiod"));
            fs.writeFileSync(path.join(dir, "istiod", "Chart.yaml"), `apiVersion: v2\nname: istiod\nversion: ${affected}\nhome: https://istio.io\n`);
            fs.mkdirSync(path.join(dir, "gateway"));
            fs.writeFileSync(path.join(dir, "gateway", "Chart.yaml"), "apiVersion: v2\nname: gateway\nversion: 1.0.0\nhome: https://example.com/not-istio\n");
            const a = await check([
                release("local", { chart: path.join(dir, "istiod"), namespace: "istio-system" }),
                release("someone-elses-gateway", { chart: path.join(dir, "gateway") }),
                release("missing", { chart: path.join(dir, "istio-charts", "base") }),
            ]);
            expect(of(a, "istio-release-no-security-bulletin").map((v) => v.urn.split("::").pop())).to.deep.equal(["local", "missing"]);
            expect(of(a, "istio-release-no-security-bulletin")[1].message).to.equal(
                `cannot tell which Istio release the base chart ${path.join(dir, "istio-charts", "base")} is (looked for it in ${path.join(dir, "istio-charts", "base", "Chart.yaml")}); pin the chart's version or give the chart directory's absolute path.`);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("ignores charts that are not Istio's and versions the preview does not know", async () => {
        const a = await check([
            release("redis", { chart: "gateway", version: "1.0.0", repositoryOpts: { repo: "https://charts.example.com" } }),
            istiod(UNKNOWN_STRING),
        ]);
        expect(of(a, "istio-release-no-security-bulletin")).to.deep.equal([]);
    });
});

describe("policy pack: images from the configured hub", () => {
    const withHub = packEnvironment("prod", (key) => (key === "imageHub" ? HUB : undefined));

    it("refuses images and Istio charts outside the stack's imageHub", async () => {
        const a = await check([
            deployment("productpage-v1", "bookinfo", [`${HUB}/examples-bookinfo-productpage-v1:1.20.3`]),
            deployment("prometheus", "istio-system", ["docker.io/prom/prometheus:v3.10.0", `${HUB}/prometheus-operator/prometheus-config-reloader:v0.89.0`]),
            istiod("1.31.1"),
            istiod("1.31.1", { global: { hub: "docker.io/istio" } }),
            istiod("1.31.1", { global: { hub: HUB } }),
            release("istio-gateway", { chart: "gateway", version: "1.31.1", repositoryOpts: { repo: "https://blob.istio.io/istio-release/charts" }, values: {} }),
        ], withHub);
        expect(of(a, "images-from-configured-hub").map((v) => v.message)).to.deep.equal([
            `istio-system/prometheus runs the image docker.io/prom/prometheus:v3.10.0, which is not from ${HUB}.`,
            `the istiod chart runs its images from the chart's default registry, not from ${HUB}: set global.hub (imageHub).`,
            `the istiod chart runs its images from docker.io/istio, not from ${HUB}.`,
        ]);
    });

    it("takes the hub from its configuration before the stack's, and does not apply without either", async () => {
        const workload = deployment("details-v1", "bookinfo", [`${HUB}/examples-bookinfo-details-v1:1.20.3`]);
        const a = await check([workload], withHub, { "images-from-configured-hub": { hub: "registry.internal/mesh" } });
        expect(of(a, "images-from-configured-hub").map((v) => v.message)).to.deep.equal([
            `bookinfo/details-v1 runs the image ${HUB}/examples-bookinfo-details-v1:1.20.3, which is not from registry.internal/mesh.`,
        ]);
        const none = await check([workload], PROD);
        expect(of(none, "images-from-configured-hub")).to.deep.equal([]);
        expect(none.notApplicable).to.deep.include({ policy: "images-from-configured-hub", reason: "no image hub is configured (the stack's imageHub or this rule's hub)" });
    });
});

describe("policy pack: Bookinfo authorization", () => {
    const productpage = deployment("productpage-v1", "bookinfo", [`${HUB}/examples-bookinfo-productpage-v1:1.20.3`], { app: "productpage", version: "v1" });
    const deny = (namespace: string, spec: Record<string, unknown> = {}): AnalyzedResource => ({
        type: "kubernetes:security.istio.io/v1:AuthorizationPolicy", name: `deny-${namespace}`,
        props: { metadata: { name: "default-deny", namespace }, spec },
    });

    it("requires the allow-nothing default-deny in Bookinfo's namespace, reported on the product page", async () => {
        expect(of(await check([productpage, deny("bookinfo")]), "bookinfo-authorization")).to.deep.equal([]);
        for (const denies of [[], [deny("other")], [deny("bookinfo", { action: "ALLOW", rules: [{}] })]]) {
            const a = await check([productpage, ...denies]);
            expect(of(a, "bookinfo-authorization").map((v) => [v.urn, v.message])).to.deep.equal([[urnOf(productpage),
                "Bookinfo runs in namespace bookinfo without the allow-nothing AuthorizationPolicy default-deny: every workload there accepts calls from anyone in the mesh."]]);
        }
    });

    it("finds Bookinfo by the program's name in a first preview (no outputs), where any AuthorizationPolicy may be the deny", async () => {
        const a = await check([productpage], PROD, {}, true);
        expect(of(a, "bookinfo-authorization").map((v) => v.urn)).to.deep.equal([urnOf(productpage)]);
        expect(of(await check([productpage, deny("other")], PROD, {}, true), "bookinfo-authorization")).to.deep.equal([]);
        const someoneElses = deployment("productpage", "shop", ["x"], { app: "productpage" });
        expect(of(await check([someoneElses], PROD, {}, true), "bookinfo-authorization")).to.deep.equal([]);
    });

    it("leaves a namespace the preview does not know to `up`, and stacks without Bookinfo alone", async () => {
        const later = deployment("productpage-v1", UNKNOWN_STRING, ["x"], { app: "productpage" });
        expect(of(await check([later, deny("bookinfo")]), "bookinfo-authorization")).to.deep.equal([]);
        expect(of(await check([deny("bookinfo")]), "bookinfo-authorization")).to.deep.equal([]);
    });
});

describe("policy pack: enforcement levels", () => {
    it("reports advisory outside production, mandatory in production, and follows the pack's configuration", async () => {
        const permissive = peerAuthentication("mesh-default", "istio-system", { mtls: { mode: "PERMISSIVE" } });
        expect(of(await check([permissive], DEV), "istio-mtls-strict").map((v) => v.level)).to.deep.equal(["advisory"]);
        expect(of(await check([permissive], PROD), "istio-mtls-strict").map((v) => v.level)).to.deep.equal(["mandatory"]);
        expect(of(await check([permissive], DEV, { all: { enforcementLevel: "mandatory" } }), "istio-mtls-strict").map((v) => v.level)).to.deep.equal(["mandatory"]);
        expect(of(await check([permissive], PROD, { "istio-mtls-strict": { enforcementLevel: "disabled" } }), "istio-mtls-strict")).to.deep.equal([]);
    });
});
