/**
 * PksNetworkProfile and PksCluster under Pulumi mocks: what they hand the command provider, and what they make
 * of its answers.
 */
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { PksCluster } from "../../components/pks/cluster";
import { PKSCTL_INTERPRETER, PksConnectionArgs } from "../../components/pks/connection";
import { PksNetworkProfile } from "../../components/pks/networkProfile";
import { FAKE_KUBECONFIG, Recorder, isSecretValue, mocks, unwrap, useMocks } from "../harness";

const connection = (): PksConnectionArgs => ({
    cli: "tkgi",
    apiUrl: "api.pks.example.com",
    username: "admin",
    password: pulumi.secret("p4ssw0rd"),
    skipTlsValidation: true,
});

describe("PksNetworkProfile", () => {
    before(() => useMocks());
    beforeEach(() => mocks.reset());

    it("hands pksctl the profile document and makes any change of it a replacement, old profile first", async () => {
        const recorder = new Recorder();
        const profile = new PksNetworkProfile("network-profile-medium", {
            connection: connection(),
            description: "network profile with medium size LB",
            parameters: { lb_size: "medium", nodes_dns: ["10.0.0.2"] },
        }, recorder.opts());
        await recorder.settle();

        const command = mocks.find("command:local:Command", "network-profile-medium");
        expect(command.inputs.interpreter).to.deep.equal(PKSCTL_INTERPRETER);
        expect(command.inputs).to.include({ create: "create-network-profile", delete: "delete-network-profile", logging: "stderr", addPreviousOutputInEnv: false });
        expect(command.inputs.update).to.equal(undefined);
        const document = { name: "network-profile-medium", description: "network profile with medium size LB", parameters: { lb_size: "medium", nodes_dns: ["10.0.0.2"] } };
        const env = command.inputs.environment as Record<string, string>;
        expect(JSON.parse(env.PKSCTL_NETWORK_PROFILE)).to.deep.equal(document);
        expect(command.inputs.triggers).to.deep.equal([JSON.stringify(document)]);
        expect(env).to.include({ PKSCTL_CLI: "tkgi", PKSCTL_API: "api.pks.example.com", PKSCTL_USERNAME: "admin", PKSCTL_SKIP_TLS_VALIDATION: "true" });

        const declared = recorder.find("command:local:Command", "network-profile-medium");
        expect(declared.type).to.equal("command:local:Command");
        expect(declared.opts.deleteBeforeReplace).to.equal(true);
        const password = (declared.props.environment as Record<string, pulumi.Output<string>>).PKSCTL_PASSWORD;
        expect(await pulumi.isSecret(password)).to.equal(true);
        expect(isSecretValue(command.rawInputs.environment), "the environment reaches the engine (and state) as a secret").to.equal(true);

        expect(await unwrap(profile.profileName)).to.equal("network-profile-medium");
        expect(await unwrap(profile.uuid)).to.equal("uuid-of-network-profile-medium");
        expect(await pulumi.isSecret(profile.uuid)).to.equal(false);
        expect(await unwrap(declared.resource.urn)).to.match(/pks-istio-mesh:pks:PksNetworkProfile\$command:local:Command::network-profile-medium$/);
    });
});

describe("PksCluster", () => {
    before(() => useMocks());
    beforeEach(() => mocks.reset());

    it("creates, updates in place and deletes through pksctl, replacing only for plan or hostname", async () => {
        const recorder = new Recorder();
        const cluster = new PksCluster("medium-lb-cluster", {
            connection: connection(),
            externalHostname: "mediumlb",
            plan: "large",
            numNodes: 4,
            networkProfileName: pulumi.output("network-profile-medium"),
            tags: { team: "platform" },
            timeoutMinutes: 50,
            pollIntervalSeconds: 15,
        }, recorder.opts());
        await recorder.settle();

        const command = mocks.find("command:local:Command", "medium-lb-cluster");
        expect(command.inputs).to.include({ create: "create-cluster", update: "update-cluster", delete: "delete-cluster", logging: "stderr" });
        expect(command.inputs.interpreter).to.deep.equal(PKSCTL_INTERPRETER);
        expect(command.inputs.triggers).to.deep.equal(["large", "mediumlb"]);
        const env = command.inputs.environment as Record<string, string>;
        expect(JSON.parse(env.PKSCTL_CLUSTER)).to.deep.equal({
            name: "medium-lb-cluster", externalHostname: "mediumlb", plan: "large", numNodes: 4,
            networkProfile: "network-profile-medium", tags: { team: "platform" },
        });
        expect(env).to.include({ PKSCTL_TIMEOUT_SECONDS: "3000", PKSCTL_POLL_SECONDS: "15" });
        expect(recorder.find("command:local:Command", "medium-lb-cluster").opts.deleteBeforeReplace).to.equal(true);

        expect(await unwrap(cluster.uuid)).to.equal("uuid-of-medium-lb-cluster");
        expect(await unwrap(cluster.masterHost)).to.equal("mediumlb");
        expect(await unwrap(cluster.masterPort)).to.equal(8443);
        expect(await unwrap(cluster.workerNodes)).to.equal(4);
        expect(await unwrap(cluster.clusterName)).to.equal("medium-lb-cluster");
    });

    it("fetches credentials with a read-only get-credentials run and keeps the kubeconfig secret", async () => {
        const cluster = new PksCluster("c1", { connection: connection(), externalHostname: "c1.example.com", plan: "small" });
        expect(await unwrap(cluster.kubeconfig)).to.equal(FAKE_KUBECONFIG);
        expect(await pulumi.isSecret(cluster.kubeconfig)).to.equal(true);
        const run = mocks.invokes.find((i) => i.token === "command:local:run");
        expect(run?.inputs.command).to.equal("get-credentials");
        expect(run?.inputs.interpreter).to.deep.equal(PKSCTL_INTERPRETER);
        const spec = JSON.parse((run?.inputs.environment as Record<string, string>).PKSCTL_CLUSTER) as Record<string, unknown>;
        expect(spec).to.deep.equal({ name: "c1", externalHostname: "c1.example.com", plan: "small" });
    });

    it("runs get-credentials only once the cluster exists (not in a preview that creates it)", async () => {
        await useMocks({}, [], "test", true);
        try {
            const cluster = new PksCluster("c2", { connection: connection(), externalHostname: "c2", plan: "small" });
            await unwrap(cluster.urn);
            await new Promise((resolve) => setTimeout(resolve, 50));
            expect(mocks.invokes.filter((i) => i.token === "command:local:run")).to.deep.equal([]);
        } finally {
            await useMocks();
        }
    });
});
