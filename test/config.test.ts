/**
 * Configuration: defaults, Pulumi.yaml declarations, secrets, the existing-cluster mode, and a matrix of bad
 * configurations, each of which must fail naming the key and what is allowed, before any resource exists.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigError, PROJECT, configSchema, loadConfig } from "../config";
import { mocks, runProgram } from "./support/harness";
import { declaredConfig } from "./support/stacks";

const P = `${PROJECT}:`;
const SECRET = (key: string) => key.endsWith("pksPassword") || key.endsWith("pksClientSecret") || key.endsWith("kubeconfig");

/** A valid PKS configuration (what `pulumi config` would hold), with overrides; `undefined` removes a key. */
function pksConfig(overrides: Record<string, string | undefined> = {}): Record<string, string> {
    const config: Record<string, string | undefined> = {
        pksApiUrl: "api.pks.example.com",
        pksUsername: "admin",
        pksPassword: "hunter2-pks",
        pksSkipTlsValidation: "true",
        networkProfileName: "network-profile-medium",
        clusterName: "medium-lb-cluster",
        clusterExternalHostname: "mediumlb",
        clusterPlan: "large",
        clusterNumNodes: "4",
        ...overrides,
    };
    return Object.fromEntries(Object.entries(config).filter((e): e is [string, string] => e[1] !== undefined).map(([k, v]) => [`${P}${k}`, v]));
}

function load(config: Record<string, string>, env: NodeJS.ProcessEnv = {}) {
    return loadConfig(config, SECRET, env);
}

function problems(config: Record<string, string>, env: NodeJS.ProcessEnv = {}): string {
    try {
        load(config, env);
    } catch (e) {
        expect(e).to.be.instanceOf(ConfigError);
        return (e as Error).message;
    }
    throw new Error("the configuration was accepted");
}

/** pksConfig with the PKS API's certificate verified (pksCaCert) instead of skipped, which draws a warning. */
function pksVerified(overrides: Record<string, string | undefined> = {}): Record<string, string> {
    return pksConfig({ pksSkipTlsValidation: undefined, pksCaCert: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", ...overrides });
}

describe("configuration", () => {
    it("fills in documented defaults", () => {
        const config = load(pksConfig());
        expect(config.cluster.source).to.equal("pks");
        if (config.cluster.source !== "pks") {
            return;
        }
        expect(config.cluster.connection).to.include({ cli: "pks", apiUrl: "api.pks.example.com", username: "admin", skipTlsValidation: true });
        expect(config.cluster.timeoutMinutes).to.equal(45);
        expect(config.cluster.pollSeconds).to.equal(30);
        expect(config.cluster.adoptExisting, "adopts nothing it did not create").to.equal(false);
        expect(config.cluster.networkProfile).to.deep.equal({ name: "network-profile-medium", description: "", parameters: { lb_size: "medium" }, tilePodIpBlockId: undefined });
        expect(config.cluster.cluster).to.deep.equal({
            name: "medium-lb-cluster", externalHostname: "mediumlb", plan: "large", numNodes: 4, tags: undefined, protect: false,
            ownerTag: true, upgrade: false, upgradeTimeoutMinutes: 120,
        });
        expect(config.istio).to.deep.equal({
            version: "1.31.1", chartRepository: "https://blob.istio.io/istio-release/charts", imageHub: undefined, compatibilityVersion: undefined,
            revisions: [{ name: undefined, version: "1.31.1", chartRepository: "https://blob.istio.io/istio-release/charts" }],
            tags: {}, defaultRevision: undefined, gatewayRevision: undefined, cni: false, cniBinDir: undefined, cniConfDir: undefined,
            istiodReplicas: 1, istiodAutoscaleMax: 5, istiodResources: undefined, gatewayServiceType: "LoadBalancer", mtlsMode: "STRICT",
        });
        expect(config.bookinfo).to.deep.equal({ namespace: "bookinfo", createNamespace: true, injectionMode: "namespace", destinationRuleMtls: true, revision: undefined, podSecurity: undefined, hosts: ["*"] });
        expect(config.meshNamespaces).to.deep.equal({});
        expect(config.verify).to.deep.equal({ enabled: true, timeoutSeconds: 600 });
        // Nothing taken over, nothing untrusted accepted, no cluster-admin credentials handed out: unless asked.
        expect(config.safety).to.deep.equal({ adoptExistingObjects: false, allowInsecureKubeconfig: false, exportKubeconfig: false });
        // Today's defaults draw no warning (with the PKS API's certificate verified, as pksCaCert does).
        expect(load(pksVerified()).warnings).to.deep.equal([]);
    });

    it("warns about a release with a published security bulletin, naming it and the first fixed patch", () => {
        expect(load(pksVerified({ istioVersion: "1.30.3" })).warnings).to.deep.equal([
            `${P}istioVersion: Istio 1.30.3 is affected by ISTIO-SECURITY-2026-006 (Envoy CVEs (CVSS up to 7.5) and Istio security fixes), fixed in 1.30.4: upgrade to 1.30.4 or later (https://istio.io/latest/news/releases/1.30.x/announcing-1.30.4/)`,
        ]);
        // Each control plane is checked; a revision on a fixed release draws nothing.
        const warnings = load(pksVerified({ istioRevisions: '[{"name":"a","version":"1.30.2"},{"name":"b","version":"1.31.1"}]', bookinfoRevision: "b" })).warnings;
        expect(warnings.map((w) => w.split(" (")[0])).to.deep.equal([
            `${P}istioRevisions: Istio 1.30.2 is affected by ISTIO-SECURITY-2026-006`,
            `${P}istioRevisions: Istio 1.30.2 is affected by ISTIO-SECURITY-2026-005`,
        ]);
        expect(warnings[0]).to.include("(at 0.version)");
    });

    it("warns about retired chart and image hosts, naming the replacement, and still accepts them", () => {
        const config = load(pksVerified({ istioChartRepository: "https://istio-release.storage.googleapis.com/charts", imageHub: "gcr.io/istio-release" }));
        expect(config.istio.chartRepository).to.equal("https://istio-release.storage.googleapis.com/charts");
        expect(config.warnings).to.deep.equal([
            `${P}istioChartRepository: "https://istio-release.storage.googleapis.com/charts" is on a retired host: Istio removes its charts from this bucket in December 2026 and publishes no release after 1.30 there; use https://blob.istio.io/istio-release/charts`,
            `${P}imageHub: "gcr.io/istio-release" is on a retired host: Istio publishes no image after 1.30 to gcr.io/istio-release; use docker.io/istio`,
        ]);
        expect(load(pksVerified({ istioChartRepository: "oci://registry.istio.io/release/charts" })).warnings).to.deep.equal([
            `${P}istioChartRepository: "oci://registry.istio.io/release/charts" is on a retired host: Istio publishes no release after 1.30 to registry.istio.io; use oci://ghcr.io/istio/release/charts`,
        ]);
        // Today's OCI repository and a registry of one's own are fine.
        expect(load(pksVerified({ istioChartRepository: "oci://ghcr.io/istio/release/charts", imageHub: "harbor.example.com/istio-release" })).warnings).to.deep.equal([]);
    });

    it("keeps an earlier minor's behaviour with istioCompatibilityVersion", () => {
        expect(load(pksVerified({ istioCompatibilityVersion: "1.30" })).istio.compatibilityVersion).to.equal("1.30");
        // During a canary, it is enough that one control plane is newer.
        expect(load(pksVerified({ istioCompatibilityVersion: "1.30", istioRevisions: '[{"name":"a","version":"1.30.4"},{"name":"b","version":"1.31.1"}]', bookinfoRevision: "a" }))
            .istio.compatibilityVersion).to.equal("1.30");
    });

    it("checks a local chart directory against the release and the compatibility profile asked for", () => {
        const charts = fs.mkdtempSync(path.join(os.tmpdir(), "charts-"));
        for (const chart of ["base", "istiod", "gateway"]) {
            fs.mkdirSync(path.join(charts, chart, "files"), { recursive: true });
            fs.writeFileSync(path.join(charts, chart, "Chart.yaml"), `name: ${chart}\nversion: 1.31.0-rc.0\n`);
        }
        fs.writeFileSync(path.join(charts, "istiod", "files", "profile-compatibility-version-1.30.yaml"), "pilot: {}\n");
        expect(load(pksVerified({ istioChartRepository: charts, istioVersion: "1.31.0-rc.0", istioCompatibilityVersion: "1.30" })).istio.version).to.equal("1.31.0-rc.0");
        expect(problems(pksVerified({ istioChartRepository: charts }))).to.include(
            `${P}istioChartRepository: ${JSON.stringify(charts)} holds the charts of Istio 1.31.0-rc.0, not 1.31.1: set istioVersion to 1.31.0-rc.0, or point at 1.31.1's charts`);
        expect(problems(pksVerified({ istioChartRepository: charts, istioVersion: "1.31.0-rc.0", istioCompatibilityVersion: "1.29" }))).to.include(
            `${P}istioCompatibilityVersion: "1.29" is not allowed: the charts of Istio 1.31.0-rc.0 in ${JSON.stringify(charts)} have no compatibility profile for it`);
    });

    it("warns on every run about a setting that weakens a default: skipping the PKS API's certificate, adopting", () => {
        expect(load(pksConfig()).warnings).to.deep.equal([
            `${P}pksSkipTlsValidation is true: pksctl logs in with \`-k\`, so the PKS API's certificate is not verified and whoever answers for api.pks.example.com gets the PKS credentials; set pksCaCert instead`,
        ]);
        const verified = pksConfig({ pksSkipTlsValidation: undefined, pksCaCert: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" });
        expect(load(verified).warnings).to.deep.equal([]);
        expect(load({ ...verified, [`${P}adoptExistingObjects`]: "true" }).warnings).to.deep.equal([
            `${P}adoptExistingObjects is true: Kubernetes objects that already exist are taken over by the stack and deleted by \`pulumi destroy\`; set it back to false once the objects you meant to adopt are in the stack`,
        ]);
    });

    it("refuses an existing cluster's kubeconfig that does not verify the API server, unless allowInsecureKubeconfig", () => {
        const kubeconfig = (cluster: string) => `apiVersion: v1\nkind: Config\ncurrent-context: lab\ncontexts:\n- name: lab\n  context: {cluster: lab, user: me}\nclusters:\n- name: lab\n  cluster: ${cluster}\nusers:\n- name: me\n  user: {token: abc}\n`;
        const existing = (text: string, more: Record<string, string> = {}) => ({ [`${P}clusterSource`]: "existing", [`${P}kubeconfig`]: text, [`${P}verifyProductPage`]: "false", ...more });
        const skipping = kubeconfig("{server: 'https://10.0.0.1:6443', insecure-skip-tls-verify: true}");
        expect(problems(existing(skipping))).to.include(`${P}kubeconfig: ${P}kubeconfig skips verifying the API server's certificate (insecure-skip-tls-verify: true): ` +
            `give it the cluster's CA (certificate-authority-data) so that the API server is verified, or set ${P}allowInsecureKubeconfig to true to accept it`);
        expect(problems(existing(kubeconfig("{server: 'http://10.0.0.1:8080'}")))).to.include(`${P}kubeconfig: ${P}kubeconfig reaches the API server over plain http (http://10.0.0.1:8080)`);
        // Only the current context's cluster counts.
        const other = skipping.replace("clusters:\n", "clusters:\n- name: old\n  cluster: {server: 'https://10.9.9.9', insecure-skip-tls-verify: true}\n")
            .replace("insecure-skip-tls-verify: true}\nusers", "certificate-authority-data: Q0E=}\nusers");
        expect(load(existing(other)).warnings).to.deep.equal([]);
        const allowed = load(existing(skipping, { [`${P}allowInsecureKubeconfig`]: "true" }));
        expect(allowed.cluster).to.include({ source: "existing", server: "https://10.0.0.1:6443" });
        expect(allowed.warnings).to.deep.equal([`${P}kubeconfig skips verifying the API server's certificate (insecure-skip-tls-verify: true); accepted because ${P}allowInsecureKubeconfig is true`]);
    });

    it("declares every scalar key with a default in Pulumi.yaml, with the schema's type and default", () => {
        const declared = declaredConfig();
        const objectKeys = ["networkProfileParameters", "clusterTags", "istiodResources"];
        const defaults = Object.entries(configSchema.shape)
            .filter(([key]) => !objectKeys.includes(key))
            .map(([key, field]) => [key, field.safeParse(undefined)] as const)
            .filter(([, parsed]) => parsed.success && parsed.data !== undefined);
        // The CLI treats a declared key without a default as required in every stack, so only these are declared.
        expect(Object.keys(declared).filter((k) => !k.includes(":")).sort()).to.deep.equal(defaults.map(([k]) => k).sort());
        for (const [key, parsed] of defaults) {
            const declaration = declared[key];
            expect(parsed.data, `default of ${key}`).to.deep.equal(declaration.default);
            // The declared default, passed as the CLI passes it (a string), is valid and means the same.
            const field = configSchema.shape[key as keyof typeof configSchema.shape];
            expect(field.parse(String(declaration.default)), `type of ${key}`).to.deep.equal(declaration.default);
            const type = typeof declaration.default === "number" ? "integer" : typeof declaration.default;
            expect(declaration.type, `type of ${key}`).to.equal(type);
        }
        expect(declared["pulumi:disable-default-providers"].value).to.deep.equal(["kubernetes"]);
    });

    it("rejects secrets stored as plain text, without echoing them", () => {
        let message = "";
        try {
            loadConfig(pksConfig({ pksPassword: "visible-plain-password" }), () => false, {});
        } catch (e) {
            message = (e as Error).message;
        }
        expect(message).to.include(`${P}pksPassword: must be a secret: run \`pulumi config set --secret pksPassword\``);
        expect(message).to.not.include("visible-plain-password");
    });

    it("takes an existing cluster's kubeconfig from config or from KUBECONFIG", () => {
        const kubeconfig = "apiVersion: v1\nkind: Config\ncurrent-context: lab\ncontexts:\n- name: lab\n  context: {cluster: lab, user: me}\nclusters:\n- name: lab\n  cluster: {server: 'https://10.0.0.1:6443'}\nusers:\n- name: me\n  user: {token: abc}\n";
        const fromConfig = load({ [`${P}clusterSource`]: "existing", [`${P}kubeconfig`]: kubeconfig, [`${P}verifyProductPage`]: "false" });
        // Limits at or above the requests they meet (given, or the chart's) are fine.
        expect(load({ [`${P}clusterSource`]: "existing", [`${P}kubeconfig`]: kubeconfig, [`${P}verifyProductPage`]: "false",
            [`${P}istiodResources`]: '{"requests":{"memory":"512Mi"},"limits":{"memory":"1Gi","cpu":"0.5"}}' }).istio.istiodResources)
            .to.deep.equal({ requests: { memory: "512Mi" }, limits: { memory: "1Gi", cpu: "0.5" } });
        expect(fromConfig.cluster).to.include({ source: "existing", server: "https://10.0.0.1:6443" });

        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "kubeconfig-")), "config");
        fs.writeFileSync(file, kubeconfig);
        const fromEnv = load({ [`${P}clusterSource`]: "existing" }, { KUBECONFIG: file });
        expect(fromEnv.cluster).to.include({ source: "existing", server: "https://10.0.0.1:6443" });

        expect(problems({ [`${P}clusterSource`]: "existing" })).to.include(`${P}kubeconfig: is required when clusterSource is existing (or set the KUBECONFIG environment variable)`);
        expect(problems({ [`${P}clusterSource`]: "existing", [`${P}kubeconfig`]: "current-context: x\n" }))
            .to.include(`${P}kubeconfig: ${P}kubeconfig has no current-context with a cluster server URL`);
    });
});

/**
 * Bad configurations. Each must fail with a message naming the key (and, for a bad value, what is allowed), and
 * the program must register no resource at all.
 */
const BAD: Array<{ what: string; config: Record<string, string>; expect: string[] }> = [
    { what: "lb_size huge", config: pksConfig({ networkProfileParameters: '{"lb_size":"huge"}' }), expect: [`${P}networkProfileParameters: "huge" is not allowed: expected one of small, medium, large (at lb_size)`] },
    { what: "a misspelt profile parameter", config: pksConfig({ networkProfileParameters: '{"lb-size":"medium"}' }), expect: [`${P}networkProfileParameters: unknown field(s) lb-size`] },
    { what: "four node DNS servers", config: pksConfig({ networkProfileParameters: '{"nodes_dns":["1.1.1.1","1.1.1.2","1.1.1.3","1.1.1.4"]}' }), expect: [`${P}networkProfileParameters: has 4 entries: PKS accepts at most 3 DNS servers (at nodes_dns)`] },
    { what: "numNodes 0", config: pksConfig({ clusterNumNodes: "0" }), expect: [`${P}clusterNumNodes: 0 is not allowed: expected an integer from 1`] },
    { what: "numNodes above the plan's limit", config: pksConfig({ clusterNumNodes: "12", clusterPlanMaxNodes: "10" }), expect: [`${P}clusterNumNodes: 12 is not allowed: the plan allows 1 to 10 worker nodes (clusterPlanMaxNodes)`] },
    { what: "numNodes not a number", config: pksConfig({ clusterNumNodes: "four" }), expect: [`${P}clusterNumNodes: "four" is not an integer`] },
    { what: "a cluster name with special characters", config: pksConfig({ clusterName: "my&cluster" }), expect: [`${P}clusterName: "my&cluster" is not allowed: expected 1-63 letters, digits`] },
    { what: "a profile name too long", config: pksConfig({ networkProfileName: "p".repeat(64) }), expect: [`${P}networkProfileName: "${"p".repeat(64)}" is not allowed`] },
    { what: "a hostname with a scheme", config: pksConfig({ clusterExternalHostname: "https://mediumlb" }), expect: [`${P}clusterExternalHostname: "https://mediumlb" is not allowed: expected a hostname or IPv4 address`] },
    { what: "a missing API URL", config: pksConfig({ pksApiUrl: undefined }), expect: [`${P}pksApiUrl: is required when clusterSource is pks`] },
    { what: "a missing password", config: pksConfig({ pksPassword: undefined }), expect: [`${P}pksPassword: is required to log in to PKS (set it with \`pulumi config set --secret pksPassword\`)`] },
    { what: "no TLS choice", config: pksConfig({ pksSkipTlsValidation: undefined }), expect: [`${P}pksCaCert: is required to verify the PKS API certificate (PEM text), unless pksSkipTlsValidation is true`] },
    { what: "a CA that is not PEM", config: pksConfig({ pksSkipTlsValidation: undefined, pksCaCert: "my-ca.crt" }), expect: [`${P}pksCaCert: expected the PEM text of a CA certificate`] },
    { what: "an unknown CLI", config: pksConfig({ pksCli: "kubectl" }), expect: [`${P}pksCli: "kubectl" is not allowed: expected pks, tkgi, or a path to one of them`] },
    { what: "an unknown injection mode", config: pksConfig({ injectionMode: "manual" }), expect: [`${P}injectionMode: "manual" is not allowed: expected one of namespace, pod`] },
    { what: "an unknown mTLS mode", config: pksConfig({ mtlsMode: "strict" }), expect: [`${P}mtlsMode: "strict" is not allowed: expected one of STRICT, PERMISSIVE`] },
    { what: "a malformed Istio version", config: pksConfig({ istioVersion: "1.30" }), expect: [`${P}istioVersion: "1.30" is not allowed: expected an Istio release 1.24.0 or later, e.g. 1.31.1`] },
    { what: "a compatibility version that is not a minor", config: pksConfig({ istioCompatibilityVersion: "1.30.3" }), expect: [`${P}istioCompatibilityVersion: "1.30.3" is not allowed: expected an earlier Istio minor release whose behaviour to keep, e.g. 1.30`] },
    { what: "a compatibility version that is not older", config: pksConfig({ istioVersion: "1.30.4", istioCompatibilityVersion: "1.30" }), expect: [`${P}istioCompatibilityVersion: "1.30" has no effect: it keeps an earlier minor's behaviour, so it must be older than the control plane's release (1.30)`] },
    { what: "an Istio older than the Helm layout", config: pksConfig({ istioVersion: "1.0.5" }), expect: [`${P}istioVersion: "1.0.5" is not allowed`] },
    { what: "a hub with a scheme", config: pksConfig({ imageHub: "https://harbor.example.com/istio" }), expect: [`${P}imageHub: "https://harbor.example.com/istio" is not allowed: expected an image registry and path without scheme or tag`] },
    { what: "a hub with a tag", config: pksConfig({ imageHub: "harbor.example.com/istio:1.30" }), expect: [`${P}imageHub: "harbor.example.com/istio:1.30" is not allowed`] },
    { what: "an unknown gateway service type", config: pksConfig({ ingressGatewayServiceType: "ExternalName" }), expect: [`${P}ingressGatewayServiceType: "ExternalName" is not allowed: expected one of LoadBalancer, NodePort, ClusterIP`] },
    { what: "verification without a load balancer", config: pksConfig({ ingressGatewayServiceType: "ClusterIP" }), expect: [`${P}verifyProductPage: needs a LoadBalancer gateway (ingressGatewayServiceType is ClusterIP): set verifyProductPage to false`] },
    { what: "a chart directory without charts", config: pksConfig({ istioChartRepository: "./no-such-charts" }), expect: [`${P}istioChartRepository: "./no-such-charts" is not allowed: the local chart directory has no base/Chart.yaml, istiod/Chart.yaml, gateway/Chart.yaml`] },
    { what: "an http chart repository", config: pksConfig({ istioChartRepository: "http://charts.example.com" }), expect: [`${P}istioChartRepository: "http://charts.example.com" is not allowed: expected an https:// or oci:// chart repository, or a local directory`] },
    { what: "a revision named default", config: pksConfig({ istioRevision: "default" }), expect: [`${P}istioRevision: "default" is not allowed: leave istioRevision unset`] },
    { what: "Bookinfo in istio-system", config: pksConfig({ bookinfoNamespace: "istio-system" }), expect: [`${P}bookinfoNamespace: "istio-system" is not allowed: Bookinfo needs a namespace of its own`] },
    { what: "a boolean that is not one", config: pksConfig({ destinationRuleMtls: "yes" }), expect: [`${P}destinationRuleMtls: "yes" is not allowed: expected true or false`] },
    { what: "a misspelt key", config: pksConfig({ clusterNumNode: "4" }), expect: [`${P}clusterNumNode: is not a configuration key of this program; did you mean clusterNumNodes?`] },
    { what: "tags with a colon", config: pksConfig({ clusterTags: '{"env":"prod:eu"}' }), expect: [`${P}clusterTags: tag value "prod:eu" is not allowed`] },
    // tag-clusters.html.md.erb: BOSH reserves these names and TKGI ignores custom tags named so.
    { what: "a tag with a name BOSH reserves", config: pksConfig({ clusterTags: '{"name":"mesh","Job":"web"}' }), expect: [
        `${P}clusterTags: tag key "name" is not allowed: BOSH reserves deployment, director, id, index, instance_group, job, name for its own metadata and TKGI ignores custom tags of these names`,
        `${P}clusterTags: tag key "Job" is not allowed: BOSH reserves`] },
    { what: "the ownership tag set by hand", config: pksConfig({ clusterTags: '{"pks-istio-mesh-owner":"mine"}' }), expect: [`${P}clusterTags: tag key "pks-istio-mesh-owner" is not allowed: the program sets it itself (clusterOwnerTag)`] },
    { what: "the tile's pod IP block without a profile", config: pksConfig({ networkProfileName: undefined, networkProfileTilePodIpBlockId: "fead2c9a" }), expect: [`${P}networkProfileTilePodIpBlockId: is only used with networkProfileName`] },
    { what: "an upgrade timeout that is not a number", config: pksConfig({ clusterUpgrade: "true", clusterUpgradeTimeoutMinutes: "2h" }), expect: [`${P}clusterUpgradeTimeoutMinutes: "2h" is not an integer`] },
    { what: "user and client login at once", config: pksConfig({ pksClientName: "automation", pksClientSecret: "client-s3cret" }), expect: [`${P}pksClientName: cannot be combined with pksUsername/pksPassword`] },
    { what: "PKS keys for an existing cluster", config: { [`${P}clusterSource`]: "existing", [`${P}clusterName`]: "x", [`${P}kubeconfig`]: "current-context: x" }, expect: [`${P}clusterName: is only used when clusterSource is pks`] },
    // The istiod chart merges these over its own requests (500m, 2048Mi): a limit alone can fall below them.
    { what: "an istiod memory limit below the chart's request", config: pksConfig({ istiodResources: '{"limits":{"memory":"1Gi"}}' }), expect: [`${P}istiodResources: limits.memory 1Gi is below the istiod chart's default request of 2048Mi, which applies when requests.memory is unset: set requests.memory to at most 1Gi as well`] },
    { what: "an istiod CPU limit below its request", config: pksConfig({ istiodResources: '{"requests":{"cpu":"2"},"limits":{"cpu":"1500m"}}' }), expect: [`${P}istiodResources: limits.cpu 1500m is below requests.cpu 2: a limit must be at least its request`] },
    { what: "an autoscaler maximum below the minimum", config: pksConfig({ istiodReplicas: "3", istiodAutoscaleMax: "2" }), expect: [`${P}istiodAutoscaleMax: 2 is not allowed: it must be at least istiodReplicas (3), the autoscaler's minimum`] },
    // Control planes side by side, revision tags, the namespaces that select them, CNI and Pod Security.
    { what: "two revisions of one name", config: pksConfig({ istioRevisions: '[{"name":"1-30-3"},{"name":"1-30-3","version":"1.31.0"}]', bookinfoRevision: "1-30-3" }), expect: [`${P}istioRevisions: lists 1-30-3 more than once: revision names must be unique`] },
    { what: "a revision name that is not a DNS label", config: pksConfig({ istioRevisions: '[{"name":"1.30.3"}]' }), expect: [`${P}istioRevisions: "1.30.3" is not allowed: expected a DNS label`] },
    { what: "a revision named default", config: pksConfig({ istioRevisions: '[{"name":"default"}]' }), expect: [`${P}istioRevisions: "default" is not allowed: every listed revision has a name of its own`] },
    { what: "istioRevision and istioRevisions at once", config: pksConfig({ istioRevision: "canary", istioRevisions: '[{"name":"canary"}]' }), expect: [`${P}istioRevisions: cannot be combined with istioRevision`] },
    { what: "a tag pointing at no revision", config: pksConfig({ istioRevisions: '[{"name":"1-30-3"}]', istioRevisionTags: '{"prod-canary":"1-31-0"}' }), expect: [`${P}istioRevisionTags: tag prod-canary points at "1-31-0", which is not a revision (revisions: 1-30-3)`] },
    { what: "a tag named like a revision", config: pksConfig({ istioRevisions: '[{"name":"1-30-3"}]', istioRevisionTags: '{"1-30-3":"1-30-3"}' }), expect: [`${P}istioRevisionTags: tag 1-30-3 has the name of a revision`] },
    { what: "several revisions and no choice for Bookinfo", config: pksConfig({ istioRevisions: '[{"name":"1-30-3"},{"name":"1-31-0","version":"1.31.0"}]' }), expect: [`${P}bookinfoRevision: is required with several revisions`] },
    { what: "Bookinfo selecting an unknown tag", config: pksConfig({ istioRevisions: '[{"name":"1-30-3"}]', bookinfoRevision: "prod-stable" }), expect: [`${P}bookinfoRevision: "prod-stable" is not a revision or revision tag (have: 1-30-3)`] },
    { what: "a mesh namespace selecting an unknown tag", config: pksConfig({ istioRevision: "canary", meshNamespaces: '{"team-a":"stable"}' }), expect: [`${P}meshNamespaces.team-a: "stable" is not a revision or revision tag (have: canary)`] },
    { what: "Pod Security baseline without CNI", config: pksConfig({ bookinfoPodSecurity: "baseline" }), expect: [`${P}bookinfoPodSecurity: "baseline" needs istioCni: true`] },
    { what: "Pod Security restricted", config: pksConfig({ bookinfoPodSecurity: "restricted", istioCni: "true" }), expect: [`${P}bookinfoPodSecurity: "restricted" is not supported`] },
    { what: "a password too short to keep out of progress lines", config: pksConfig({ pksPassword: "pw" }), expect: [`${P}pksPassword: must have at least 4 characters`] },
    { what: "istiod resources in bad units", config: pksConfig({ istiodResources: '{"requests":{"memory":"2 GB"}}' }), expect: [`${P}istiodResources: "2 GB" is not allowed: expected a Kubernetes memory quantity such as 2Gi (at requests.memory)`] },
    // Authorization and telemetry.
    { what: "a tracing sampling above 100%", config: pksConfig({ telemetryTracing: "jaeger", telemetryTracingSampling: "150" }), expect: [`${P}telemetryTracingSampling: 150 is not allowed: expected a percentage from 0 to 100, e.g. 1 or 0.5`] },
    { what: "a negative tracing sampling", config: pksConfig({ telemetryTracing: "jaeger", telemetryTracingSampling: "-0.5" }), expect: [`${P}telemetryTracingSampling: -0.5 is not allowed: expected a percentage from 0 to 100`] },
    { what: "a tracing sampling that is not a number", config: pksConfig({ telemetryTracing: "jaeger", telemetryTracingSampling: "10%" }), expect: [`${P}telemetryTracingSampling: "10%" is not a number: expected a percentage from 0 to 100`] },
    { what: "a tracing sampling without a tracing backend", config: pksConfig({ telemetryTracingSampling: "5" }), expect: [`${P}telemetryTracingSampling: needs a tracing backend: set telemetryTracing to jaeger, or remove telemetryTracingSampling`] },
    { what: "an unknown tracing backend", config: pksConfig({ telemetryTracing: "zipkin" }), expect: [`${P}telemetryTracing: "zipkin" is not allowed: expected one of none, jaeger`] },
    { what: "Grafana without Prometheus", config: pksConfig({ telemetryGrafana: "true" }), expect: [`${P}telemetryGrafana: needs telemetryPrometheus: Istio's Grafana dashboards query the mesh's metrics in Prometheus; set telemetryPrometheus to true`] },
    { what: "Kiali without Prometheus", config: pksConfig({ telemetryKiali: "true", telemetryTracing: "jaeger" }), expect: [`${P}telemetryKiali: needs telemetryPrometheus: Kiali draws its service graph from the mesh's metrics in Prometheus`] },
    { what: "a mesh-wide deny without Bookinfo's policies", config: pksConfig({ meshDefaultDeny: "true", bookinfoAuthorization: "false" }), expect: [`${P}meshDefaultDeny: needs bookinfoAuthorization: a mesh-wide deny without Bookinfo's ALLOW policies denies every call to Bookinfo`] },
    { what: "a trust domain with a scheme", config: pksConfig({ trustDomain: "spiffe://cluster.local" }), expect: [`${P}trustDomain: "spiffe://cluster.local" is not allowed: expected a trust domain: lowercase letters, digits, '-' and '.'`] },
    { what: "an authorization switch that is not a boolean", config: pksConfig({ bookinfoAuthorization: "on" }), expect: [`${P}bookinfoAuthorization: "on" is not allowed: expected true or false`] },
    { what: "an add-on source over http", config: pksConfig({ telemetryPrometheus: "true", telemetryAddonsSource: "http://mirror.example.com/addons" }), expect: [`${P}telemetryAddonsSource: "http://mirror.example.com/addons" is not allowed: expected an https:// base URL or a local directory`] },
    { what: "an add-on source without an add-on", config: pksConfig({ telemetryAddonsSource: "https://mirror.example.com/addons", telemetryAccessLogging: "true" }), expect: [`${P}telemetryAddonsSource: is only used with an add-on: set telemetryPrometheus, telemetryGrafana, telemetryKiali or telemetryTracing, or remove it`] },
    { what: "an insecure kubeconfig", config: { [`${P}clusterSource`]: "existing", [`${P}verifyProductPage`]: "false", [`${P}kubeconfig`]: "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts: [{name: c, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: 'https://10.0.0.1:6443', insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: hunter2-pks}}]\n" }, expect: [`${P}kubeconfig: ${P}kubeconfig skips verifying the API server's certificate (insecure-skip-tls-verify: true)`, `or set ${P}allowInsecureKubeconfig to true`] },
    { what: "an adoption switch that is not a boolean", config: pksConfig({ adoptExistingObjects: "yes" }), expect: [`${P}adoptExistingObjects: "yes" is not allowed: expected true or false`] },
    { what: "an add-on directory without the manifests", config: pksConfig({ telemetryPrometheus: "true", telemetryTracing: "jaeger", telemetryAddonsSource: "./no-such-addons" }), expect: [`${P}telemetryAddonsSource: "./no-such-addons" is not allowed: the local add-on directory has no prometheus.yaml, jaeger.yaml (copy them from Istio's samples/addons)`] },
    { what: "add-ons of a release without pinned digests", config: pksConfig({ istioVersion: "1.31.4", telemetryPrometheus: "true", telemetryKiali: "true", telemetryAddonsSha256: `{"kiali":"${"a".repeat(64)}"}` }), expect: [`${P}telemetryAddonsSha256: has no sha256 for prometheus.yaml of Istio 1.31.4, whose add-on manifests this program does not pin (it pins those of 1.30.3, 1.31.0-rc.0), and it never applies an unverified manifest`, "pulumi config set --path telemetryAddonsSha256.prometheus"] },
    { what: "an add-on digest that is not a sha256", config: pksConfig({ telemetryPrometheus: "true", telemetryAddonsSha256: '{"prometheus":"md5:abc"}' }), expect: [`${P}telemetryAddonsSha256: "md5:abc" is not allowed: expected a sha256 digest, 64 hex digits (at prometheus)`] },
    { what: "a digest of an add-on the program does not have", config: pksConfig({ telemetryPrometheus: "true", telemetryAddonsSha256: `{"loki":"${"a".repeat(64)}"}` }), expect: [`${P}telemetryAddonsSha256: unknown add-on(s) loki: expected prometheus, grafana, kiali, jaeger`] },
    { what: "add-on digests without an add-on", config: pksConfig({ telemetryAddonsSha256: `{"kiali":"${"a".repeat(64)}"}` }), expect: [`${P}telemetryAddonsSha256: is only used with an add-on`] },
];

describe("bad configuration", function () {
    this.timeout(20_000);
    it(`covers at least 15 cases (${BAD.length})`, () => {
        expect(BAD.length).to.be.at.least(15);
    });
    for (const bad of BAD) {
        it(`fails before registering anything: ${bad.what}`, async () => {
            const run = await runProgram(bad.config, Object.keys(bad.config).filter(SECRET));
            expect(run.error, "the program must fail").to.be.instanceOf(ConfigError);
            for (const fragment of bad.expect) {
                expect(run.error!.message).to.include(fragment);
            }
            expect(run.error!.message).to.not.include("hunter2-pks");
            expect(mocks.registered.map((r) => r.type), "no resource besides the root stack").to.deep.equal(["pulumi:pulumi:Stack"]);
        });
    }
});
