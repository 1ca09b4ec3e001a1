/**
 * The whole program (index.ts) under the mocks, with each stack file's configuration: the resource graph it
 * declares, the single explicit Kubernetes provider, the stack outputs, and the order `pulumi destroy` follows.
 */
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { ConfigError, PROJECT, verifiedKubeconfig } from "../config";
import { Declared, FAKE_KUBECONFIG, ProgramRun, Recorder, dependenciesOf, mocks, runProgram, unwrap } from "./support/harness";
import { stackConfig, stackNames, stackRunConfig } from "./support/stacks";
import { isManifest, validateManifests } from "./support/validate";

const P = `${PROJECT}:`;
const KUBECONFIG_NOT_EXPORTED = "not exported (exportKubeconfig is false): `pks get-credentials` (or `tkgi get-credentials`) gives it to whoever may have it";

async function runStack(stack: string): Promise<ProgramRun> {
    const { config, secretKeys } = stackRunConfig(stack);
    return runProgram(config, secretKeys, stack);
}

/** Type and name of every declared resource, as `<type>::<name>`. */
const ids = (recorder: Recorder) => recorder.declared.map((d) => `${d.type}::${d.name}`);

describe("the program", function () {
    this.timeout(30_000);

    it("has a stack file for dev, prod and local", () => {
        expect(stackNames()).to.include.members(["dev", "local", "prod"]);
    });

    for (const stack of stackNames()) {
        it(`loads under the harness with the ${stack} stack's configuration`, async () => {
            const run = await runStack(stack);
            expect(run.error, run.error?.message).to.equal(undefined);
            const declared = ids(run.recorder);
            expect(declared).to.include.members([
                "pks-istio-mesh:pks:PksCluster::" + (stackConfig(stack)[`${P}clusterName`]),
                "pulumi:providers:kubernetes::mesh-cluster",
                "pks-istio-mesh:istio:IstioBase::istio",
                "pks-istio-mesh:istio:IstioControlPlane::istio",
                "pks-istio-mesh:istio:MeshMtls::mesh",
                "pks-istio-mesh:istio:IstioIngressGateway::istio",
                "pks-istio-mesh:bookinfo:BookinfoApp::bookinfo",
                "pks-istio-mesh:bookinfo:BookinfoIngress::bookinfo",
                "pks-istio-mesh:bookinfo:BookinfoDestinationRules::bookinfo",
                "pks-istio-mesh:bookinfo:ProductPageCheck::productpage",
            ]);
            // One Kubernetes provider writes every object; a second one, with the same kubeconfig and an identifier
            // that never changes (never replaced with the cluster), only reads the gateway's Service and account.
            const providers = mocks.registered.filter((r) => r.type === "pulumi:providers:kubernetes");
            expect(providers.map((p) => p.name).sort()).to.deep.equal(["mesh-cluster", "mesh-cluster-reads"]);
            const refOf = async (name: string) => {
                const provider = run.recorder.find("pulumi:providers:kubernetes", name).resource as pulumi.ProviderResource;
                return `${await unwrap(provider.urn)}::${await unwrap(provider.id)}`;
            };
            const [ref, readRef] = [await refOf("mesh-cluster"), await refOf("mesh-cluster-reads")];
            const reads = mocks.find("pulumi:providers:kubernetes", "mesh-cluster-reads").inputs;
            expect(reads.clusterIdentifier).to.equal("pks-istio-mesh-reads");
            expect(reads.kubeconfig).to.equal(mocks.find("pulumi:providers:kubernetes", "mesh-cluster").inputs.kubeconfig);
            for (const r of mocks.registered.filter((r) => r.type.startsWith("kubernetes:"))) {
                expect(r.provider, `${r.type} ${r.name}`).to.equal(r.id ? readRef : ref);
            }
            expect(mocks.registered.filter((r) => r.provider === readRef).map((r) => `${r.type} ${r.name}`).sort())
                .to.deep.equal(["kubernetes:core/v1:Service istio-service", ...(stackConfig(stack)[`${P}bookinfoAuthorization`] === "false" ? [] : ["kubernetes:core/v1:ServiceAccount bookinfo-gateway-sa"])].sort());
            validateManifests(mocks.registered.filter((r) => isManifest(r) && r.type.startsWith("kubernetes:") && !r.id));

            const exports = run.exports!;
            expect(await unwrap(exports.clusterInfo as { name: pulumi.Output<string> })).to.deep.include({ name: stackConfig(stack)[`${P}clusterName`], uuid: `uuid-of-${stackConfig(stack)[`${P}clusterName`]}` });
            // No stack output hands out the cluster-admin kubeconfig unless asked (exportKubeconfig).
            expect(exports.kubeconfig).to.equal(KUBECONFIG_NOT_EXPORTED);
            const host = (JSON.parse(stackConfig(stack)[`${P}bookinfoHosts`] ?? "[]") as string[])[0];
            expect(await unwrap(exports.productPageUrl as pulumi.Output<string>)).to.equal(`http://${host ?? "203.0.113.10"}/productpage`);
            expect(await unwrap(exports.verification as pulumi.Output<{ status: number }>)).to.deep.include({ status: 200, title: "Simple Bookstore App" });
        });
    }

    it("reproduces the user's procedure in the dev stack", async () => {
        const run = await runStack("dev");
        expect(run.error).to.equal(undefined);
        const profile = mocks.find("command:local:Command", "network-profile-medium");
        expect(JSON.parse((profile.inputs.environment as Record<string, string>).PKSCTL_NETWORK_PROFILE)).to.deep.equal({
            name: "network-profile-medium", description: "network profile with medium size LB", parameters: { lb_size: "medium" },
        });
        const cluster = mocks.find("command:local:Command", "medium-lb-cluster");
        expect(JSON.parse((cluster.inputs.environment as Record<string, string>).PKSCTL_CLUSTER)).to.deep.equal({
            name: "medium-lb-cluster", externalHostname: "mediumlb", plan: "large", numNodes: 4, networkProfile: "network-profile-medium",
        });
        expect((mocks.find("kubernetes:security.istio.io/v1:PeerAuthentication", "mesh-default").inputs.spec as { mtls: unknown }).mtls).to.deep.equal({ mode: "STRICT" });
        expect((mocks.find("kubernetes:core/v1:Namespace", "bookinfo-namespace").inputs.metadata as { labels: unknown }).labels).to.deep.equal({ "istio-injection": "enabled" });
        const provider = mocks.find("pulumi:providers:kubernetes", "mesh-cluster");
        expect(provider.inputs.clusterIdentifier).to.equal("uuid-of-medium-lb-cluster");
    });

    it("hardens the prod stack: protected cluster, HA istiod, tkgi with a CA and a user login (no secret on an argv)", async () => {
        const run = await runStack("prod");
        expect(run.error).to.equal(undefined);
        expect(run.recorder.find("pks-istio-mesh:pks:PksCluster", "mesh-prod").opts.protect).to.equal(true);
        const env = mocks.find("command:local:Command", "mesh-prod").inputs.environment as Record<string, string>;
        expect(env).to.include({ PKSCTL_CLI: "tkgi", PKSCTL_USERNAME: "pulumi-automation", PKSCTL_SKIP_TLS_VALIDATION: "false", PKSCTL_TIMEOUT_SECONDS: "3600" });
        expect(env.PKSCTL_CA_CERT).to.include("-----BEGIN CERTIFICATE-----");
        expect(env).to.not.have.property("PKSCTL_CLIENT_SECRET");
        const istiod = mocks.find("kubernetes:helm.sh/v3:Release", "istio-istiod");
        expect(istiod.inputs.values).to.deep.include({ autoscaleEnabled: true, autoscaleMin: 2, global: { hub: "harbor.example.com/istio" } });
        const images = mocks.ofType("kubernetes:apps/v1:Deployment").map((d) => (d.inputs.spec as { template: { spec: { containers: Array<{ image: string }> } } }).template.spec.containers[0].image);
        expect(images.every((i) => i.startsWith("harbor.example.com/istio/examples-bookinfo-"))).to.equal(true);
    });

    it("runs the local stack's PKS layer against the project's simulator", async () => {
        await runStack("local");
        const env = mocks.find("command:local:Command", "medium-lb-cluster").inputs.environment as Record<string, string>;
        expect(env).to.include({ PKSCTL_CLI: "test/pks-simulator/bin/pks", PKSCTL_API: "api.pks.local", PKSCTL_POLL_SECONDS: "1" });
    });

    it("deploys onto an existing cluster without any PKS resource", async () => {
        const kubeconfig = "current-context: lab\ncontexts: [{name: lab, context: {cluster: lab, user: me}}]\nclusters: [{name: lab, cluster: {server: 'https://lab.example.com:6443'}}]\nusers: [{name: me, user: {token: t}}]\n";
        const run = await runProgram({ [`${P}clusterSource`]: "existing", [`${P}kubeconfig`]: kubeconfig }, [`${P}kubeconfig`]);
        expect(run.error).to.equal(undefined);
        expect(mocks.registered.filter((r) => r.type.startsWith("command:") || r.type.startsWith("pks-istio-mesh:pks:"))
            .map((r) => r.name)).to.deep.equal(["productpage"]);
        const provider = mocks.find("pulumi:providers:kubernetes", "mesh-cluster");
        expect(provider.inputs).to.deep.include({ kubeconfig, clusterIdentifier: "https://lab.example.com:6443" });
        expect(await unwrap(run.exports!.clusterInfo as { server: string })).to.deep.equal({ server: "https://lab.example.com:6443" });
        expect(run.exports!.kubeconfig).to.equal(KUBECONFIG_NOT_EXPORTED);
    });

    it("exports the cluster's kubeconfig, as a secret, only with exportKubeconfig", async () => {
        const run = await runProgram({ ...stackConfig("prod"), [`${P}pksPassword`]: "prod-user-password", [`${P}exportKubeconfig`]: "true" }, [`${P}pksPassword`]);
        expect(run.error).to.equal(undefined);
        expect(await pulumi.isSecret(run.exports!.kubeconfig as pulumi.Output<string>)).to.equal(true);
        expect(await unwrap(run.exports!.kubeconfig as pulumi.Output<string>)).to.equal(FAKE_KUBECONFIG);
    });

    it("never lets the provider take over existing objects unless adoptExistingObjects: always set, so PULUMI_K8S_UPSERT_EXISTING_OBJECTS cannot turn it on", async () => {
        const secret = { [`${P}pksPassword`]: "prod-user-password" };
        await runProgram({ ...stackConfig("prod"), ...secret }, Object.keys(secret));
        expect(mocks.find("pulumi:providers:kubernetes", "mesh-cluster").inputs).to.deep.include({ upsertExistingObjects: "false" });
        await runProgram({ ...stackConfig("prod"), ...secret, [`${P}adoptExistingObjects`]: "true" }, Object.keys(secret));
        expect(mocks.find("pulumi:providers:kubernetes", "mesh-cluster").inputs).to.deep.include({ upsertExistingObjects: "true" });
    });

    it("asks, before the provider may act, whether the namespaces it creates are someone else's", async () => {
        const secret = { [`${P}pksPassword`]: "prod-user-password" };
        await runProgram({ ...stackConfig("prod"), ...secret }, Object.keys(secret), "prod");
        const guard = mocks.invokes.map((i) => i.inputs.environment as Record<string, string>).find((env) => env.MESH_INVENTORY_OWN_NAMESPACES !== undefined);
        expect(guard?.MESH_INVENTORY_OWN_NAMESPACES).to.equal("istio-system,istio-ingress,bookinfo");
        for (const name of ["istio-istio-system", "istio-namespace", "bookinfo-namespace"]) {
            expect((mocks.find("kubernetes:core/v1:Namespace", name).inputs.metadata as { annotations: unknown }).annotations).to.deep.equal({ "pks-istio-mesh/stack": "pks-istio-mesh/prod" });
        }
        await runProgram({ ...stackConfig("prod"), ...secret, [`${P}bookinfoNamespace`]: "default", [`${P}bookinfoCreateNamespace`]: "false" }, Object.keys(secret), "prod");
        const shared = mocks.invokes.map((i) => i.inputs.environment as Record<string, string>).find((env) => env.MESH_INVENTORY_OWN_NAMESPACES !== undefined);
        expect(shared?.MESH_INVENTORY_OWN_NAMESPACES, "a namespace it only labels is not one it creates").to.equal("istio-system,istio-ingress");
    });

    it("refuses a PKS cluster's kubeconfig that does not verify the API server, naming the setting, unless allowed", async () => {
        const insecure = FAKE_KUBECONFIG.replace("certificate-authority-data: Q0E=", "insecure-skip-tls-verify: true");
        const origin = "the kubeconfig of PKS cluster mesh-prod (get-credentials)";
        expect(() => verifiedKubeconfig(insecure, origin, false)).to.throw(ConfigError, `${origin} skips verifying the API server's certificate (insecure-skip-tls-verify: true): ` +
            `give it the cluster's CA (certificate-authority-data) so that the API server is verified, or set ${P}allowInsecureKubeconfig to true to accept it`);
        expect(verifiedKubeconfig(FAKE_KUBECONFIG, origin, false)).to.equal(FAKE_KUBECONFIG);
        // The program checks what get-credentials handed out before anything uses it: accepted only when allowed.
        const secret = { [`${P}pksPassword`]: "prod-user-password" };
        const allowed = await runProgram({ ...stackConfig("prod"), ...secret, [`${P}allowInsecureKubeconfig`]: "true" }, Object.keys(secret), "prod", false, (m) => { m.credentials = insecure; });
        expect(allowed.error).to.equal(undefined);
        expect(mocks.find("pulumi:providers:kubernetes", "mesh-cluster").inputs.kubeconfig).to.equal(insecure);
    });

    it("denies by default namespace-wide only in a Bookinfo namespace of its own", async () => {
        const secret = { [`${P}pksPassword`]: "prod-user-password" };
        const own = await runProgram({ ...stackConfig("prod"), ...secret }, Object.keys(secret));
        expect(mocks.ofType("kubernetes:security.istio.io/v1:AuthorizationPolicy").map((p) => p.name)).to.include("bookinfo-default-deny");
        expect(await unwrap(own.exports!.authorization as pulumi.Output<{ namespaceDefaultDeny: boolean }>)).to.deep.include({ namespaceDefaultDeny: true });
        const shared = await runProgram({ ...stackConfig("prod"), ...secret, [`${P}bookinfoNamespace`]: "default", [`${P}bookinfoCreateNamespace`]: "false" }, Object.keys(secret));
        expect(shared.error).to.equal(undefined);
        expect(mocks.ofType("kubernetes:security.istio.io/v1:AuthorizationPolicy").map((p) => p.name)).to.not.include("bookinfo-default-deny");
        expect(await unwrap(shared.exports!.authorization as pulumi.Output<{ namespaceDefaultDeny: boolean }>)).to.deep.include({ namespaceDefaultDeny: false });
    });

    it("can leave out the network profile (non-NSX installs) and the product page check", async () => {
        const config = stackConfig("dev");
        delete config[`${P}networkProfileName`];
        delete config[`${P}networkProfileDescription`];
        delete config[`${P}networkProfileParameters`];
        const run = await runProgram({ ...config, [`${P}pksPassword`]: "x-pks-password", [`${P}verifyProductPage`]: "false" }, [`${P}pksPassword`]);
        expect(run.error).to.equal(undefined);
        expect(mocks.ofType("command:local:Command").map((c) => c.name)).to.deep.equal(["medium-lb-cluster-claim", "medium-lb-cluster"]);
        expect(JSON.parse((mocks.find("command:local:Command", "medium-lb-cluster").inputs.environment as Record<string, string>).PKSCTL_CLUSTER))
            .to.not.have.property("networkProfile");
        expect(run.exports!.verification).to.equal("skipped (verifyProductPage is false)");
    });
});

/**
 * The order `pulumi destroy` follows is the reverse of the dependencies the program declares. This spells out
 * that order for the dev stack: check → routing and mTLS rules → Bookinfo → gateway → istiod → CRDs → provider
 * → cluster → profile. Each arrow is a dependency chain the engine sees (explicit dependsOn or data flow).
 */
describe("destroy order", function () {
    this.timeout(30_000);
    let run: ProgramRun;
    let graph: Map<pulumi.Resource, Set<pulumi.Resource>>;
    let children: Map<pulumi.Resource, Declared[]>;

    before(async () => {
        run = await runStack("dev");
        graph = new Map();
        children = new Map();
        for (const d of run.recorder.declared) {
            graph.set(d.resource, await dependenciesOf(d));
            if (d.opts.provider) {
                graph.get(d.resource)!.add(d.opts.provider);
            }
            const parent = d.opts.parent;
            if (parent) {
                children.set(parent, [...(children.get(parent) ?? []), d]);
            }
        }
    });

    /** The resource and, for a component, everything under it. */
    function expand(r: pulumi.Resource): pulumi.Resource[] {
        return [r, ...(children.get(r) ?? []).flatMap((c) => expand(c.resource))];
    }

    /** Whether `a` (transitively) depends on `b`, so that destroy deletes `a` before `b`. */
    function dependsOn(a: pulumi.Resource, b: pulumi.Resource): boolean {
        const targets = new Set(expand(b));
        const seen = new Set<pulumi.Resource>();
        const stack = [a];
        while (stack.length > 0) {
            const current = stack.pop()!;
            for (const next of graph.get(current) ?? []) {
                for (const n of expand(next)) {
                    if (targets.has(n)) {
                        return true;
                    }
                    if (!seen.has(n)) {
                        seen.add(n);
                        stack.push(n);
                    }
                }
            }
        }
        return false;
    }

    const custom = (type: string) => run.recorder.declared.filter((d) => d.type === type).map((d) => d.resource);
    const one = (type: string, name: string) => run.recorder.find(type, name).resource;

    it("deletes the product page check before everything it checked", () => {
        const check = one("command:local:Command", "productpage");
        for (const type of ["kubernetes:apps/v1:Deployment", "kubernetes:networking.istio.io/v1:Gateway", "kubernetes:networking.istio.io/v1:DestinationRule", "kubernetes:security.istio.io/v1:PeerAuthentication"]) {
            custom(type).forEach((r) => expect(dependsOn(check, r), type).to.equal(true));
        }
    });

    it("deletes routing and mTLS rules before the CRDs, and Bookinfo's pods before istiod", () => {
        const crds = one("kubernetes:helm.sh/v3:Release", "istio-istio-base");
        const istiod = one("kubernetes:helm.sh/v3:Release", "istio-istiod");
        const gateway = one("kubernetes:helm.sh/v3:Release", "istio-gateway");
        for (const type of ["kubernetes:networking.istio.io/v1:Gateway", "kubernetes:networking.istio.io/v1:VirtualService", "kubernetes:networking.istio.io/v1:DestinationRule", "kubernetes:security.istio.io/v1:PeerAuthentication"]) {
            custom(type).forEach((r) => expect(dependsOn(r, crds), type).to.equal(true));
        }
        expect(dependsOn(one("kubernetes:networking.istio.io/v1:Gateway", "bookinfo-gateway"), gateway)).to.equal(true);
        custom("kubernetes:apps/v1:Deployment").forEach((d) => expect(dependsOn(d, istiod)).to.equal(true));
        expect(dependsOn(gateway, istiod), "gateway before istiod").to.equal(true);
        expect(dependsOn(istiod, crds), "istiod before the CRDs").to.equal(true);
    });

    it("deletes every Kubernetes object before the cluster, and the cluster before its network profile", () => {
        const provider = one("pulumi:providers:kubernetes", "mesh-cluster");
        const cluster = one("command:local:Command", "medium-lb-cluster");
        const profile = one("command:local:Command", "network-profile-medium");
        for (const d of run.recorder.declared.filter((d) => d.type.startsWith("kubernetes:"))) {
            expect(dependsOn(d.resource, provider), `${d.type} ${d.name}`).to.equal(true);
        }
        expect(dependsOn(provider, cluster), "the provider's kubeconfig comes from the cluster").to.equal(true);
        expect(dependsOn(cluster, profile), "the cluster uses the profile").to.equal(true);
        expect(dependsOn(profile, cluster)).to.equal(false);
    });
});
