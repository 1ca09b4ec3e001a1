/**
 * The whole program (index.ts) under the mocks, with each stack file's configuration: the resource graph it
 * declares, the single explicit Kubernetes provider, the stack outputs, and the order `pulumi destroy` follows.
 */
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { PROJECT } from "../components/config";
import { Declared, ProgramRun, Recorder, dependenciesOf, mocks, runProgram, unwrap } from "./harness";
import { stackConfig, stackNames, stackRunConfig } from "./stacks";
import { isManifest, validateManifests } from "./validate";

const P = `${PROJECT}:`;

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
            // Exactly one Kubernetes provider, and every Kubernetes object uses it.
            const providers = mocks.registered.filter((r) => r.type === "pulumi:providers:kubernetes");
            expect(providers.map((p) => p.name)).to.deep.equal(["mesh-cluster"]);
            const provider = run.recorder.find("pulumi:providers:kubernetes", "mesh-cluster").resource as pulumi.ProviderResource;
            const ref = `${await unwrap(provider.urn)}::${await unwrap(provider.id)}`;
            for (const r of mocks.registered.filter((r) => r.type.startsWith("kubernetes:"))) {
                expect(r.provider, `${r.type} ${r.name}`).to.equal(ref);
            }
            validateManifests(mocks.registered.filter((r) => isManifest(r) && r.type.startsWith("kubernetes:") && !r.id));

            const exports = run.exports!;
            expect(await unwrap(exports.clusterInfo as { name: pulumi.Output<string> })).to.deep.include({ name: stackConfig(stack)[`${P}clusterName`], uuid: `uuid-of-${stackConfig(stack)[`${P}clusterName`]}` });
            expect(await pulumi.isSecret(exports.kubeconfig as pulumi.Output<string>)).to.equal(true);
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

    it("hardens the prod stack: protected cluster, HA istiod, tkgi with a CA and a client login", async () => {
        const run = await runStack("prod");
        expect(run.error).to.equal(undefined);
        expect(run.recorder.find("pks-istio-mesh:pks:PksCluster", "mesh-prod").opts.protect).to.equal(true);
        const env = mocks.find("command:local:Command", "mesh-prod").inputs.environment as Record<string, string>;
        expect(env).to.include({ PKSCTL_CLI: "tkgi", PKSCTL_CLIENT_NAME: "pulumi-automation", PKSCTL_SKIP_TLS_VALIDATION: "false", PKSCTL_TIMEOUT_SECONDS: "3600" });
        expect(env.PKSCTL_CA_CERT).to.include("-----BEGIN CERTIFICATE-----");
        expect(env).to.not.have.property("PKSCTL_PASSWORD");
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
        expect(await pulumi.isSecret(run.exports!.kubeconfig as pulumi.Output<string>)).to.equal(true);
    });

    it("can leave out the network profile (non-NSX installs) and the product page check", async () => {
        const config = stackConfig("dev");
        delete config[`${P}networkProfileName`];
        delete config[`${P}networkProfileDescription`];
        delete config[`${P}networkProfileParameters`];
        const run = await runProgram({ ...config, [`${P}pksPassword`]: "x-pks-password", [`${P}verifyProductPage`]: "false" }, [`${P}pksPassword`]);
        expect(run.error).to.equal(undefined);
        expect(mocks.ofType("command:local:Command").map((c) => c.name)).to.deep.equal(["medium-lb-cluster"]);
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
