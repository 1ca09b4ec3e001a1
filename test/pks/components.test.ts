/**
 * PksNetworkProfile and PksCluster under Pulumi mocks: what they hand the command provider, and what they make
 * of its answers.
 */
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { PksCluster } from "../../components/pks/cluster";
import { PKSCTL_INTERPRETER, PksConnectionArgs } from "../../components/pks/connection";
import { PksNetworkProfile } from "../../components/pks/networkProfile";
import { FAKE_KUBECONFIG, Recorder, isSecretValue, mocks, unwrap, useMocks } from "../support/harness";

type Log = (message: string, resource?: pulumi.Resource) => Promise<void>;

/**
 * Runs `body` with pksctl's documents carrying `report` (events, finishedAt) and with pulumi.log recorded.
 * The mocks answer like pksctl: the Command's stdout and get-credentials' document get the report fields.
 */
async function withReports(report: (command: string) => Record<string, unknown>, body: (logged: Array<[string, string, pulumi.Resource | undefined]>) => Promise<void>): Promise<void> {
    const logged: Array<[string, string, pulumi.Resource | undefined]> = [];
    const api = pulumi.log as unknown as { info: Log; warn: Log };
    const { info, warn } = api;
    api.info = (message, resource) => { logged.push(["info", message, resource]); return Promise.resolve(); };
    api.warn = (message, resource) => { logged.push(["warn", message, resource]); return Promise.resolve(); };
    const newResource = mocks.newResource.bind(mocks);
    const call = mocks.call.bind(mocks);
    mocks.newResource = (args) => {
        const result = newResource(args);
        const stdout = result.state.stdout;
        if (typeof stdout === "string" && stdout !== "") {
            result.state.stdout = JSON.stringify({ ...JSON.parse(stdout) as object, ...report(String(args.inputs.create)) });
        }
        return result;
    };
    mocks.call = (args) => {
        const result = call(args);
        return args.token === "command:local:run"
            ? { ...result, stdout: JSON.stringify({ ...JSON.parse(String(result.stdout)) as object, ...report("get-credentials") }) }
            : result;
    };
    try {
        await body(logged);
    } finally {
        api.info = info;
        api.warn = warn;
        Reflect.deleteProperty(mocks, "newResource");
        Reflect.deleteProperty(mocks, "call");
    }
}

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
        // The delete reads the uuid the stack recorded from the previous run's document (PULUMI_COMMAND_STDOUT).
        expect(command.inputs).to.include({ create: "create-network-profile", delete: "delete-network-profile", logging: "stderr", addPreviousOutputInEnv: true });
        expect(command.inputs.update).to.equal(undefined);
        const document = { name: "network-profile-medium", description: "network profile with medium size LB", parameters: { lb_size: "medium", nodes_dns: ["10.0.0.2"] } };
        const env = command.inputs.environment as Record<string, string>;
        expect(JSON.parse(env.PKSCTL_NETWORK_PROFILE)).to.deep.equal(document);
        expect(command.inputs.triggers).to.deep.equal([JSON.stringify(document)]);
        expect(env).to.include({ PKSCTL_CLI: "tkgi", PKSCTL_API: "api.pks.example.com", PKSCTL_USERNAME: "admin", PKSCTL_SKIP_TLS_VALIDATION: "true" });
        // The stack's claim on the name, recorded before the create, tells pksctl what is the stack's own.
        expect(JSON.parse(env.PKSCTL_OWNERSHIP)).to.deep.equal({ adopt: false, tag: false, claim: { marker: "marker-of-network-profile-medium" } });
        const claim = mocks.find("command:local:Command", "network-profile-medium-claim");
        expect(claim.inputs).to.include({ create: "claim-network-profile" });
        expect(claim.inputs).to.not.have.any.keys("update", "delete");
        expect(recorder.find("command:local:Command", "network-profile-medium-claim").opts.ignoreChanges, "a claim is never run again").to.deep.equal(["environment"]);

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
        expect(env).to.not.have.property("PKSCTL_UPGRADE_TIMEOUT_SECONDS");
        expect(JSON.parse(env.PKSCTL_OWNERSHIP)).to.deep.equal({ adopt: false, tag: true, claim: { marker: "marker-of-medium-lb-cluster" } });
        expect(command.inputs.addPreviousOutputInEnv, "update and delete read the recorded uuid").to.equal(true);
        expect(recorder.find("command:local:Command", "medium-lb-cluster").opts.deleteBeforeReplace).to.equal(true);
        const claim = mocks.find("command:local:Command", "medium-lb-cluster-claim");
        expect(claim.inputs.create).to.equal("claim-cluster");
        expect(JSON.parse((claim.inputs.environment as Record<string, string>).PKSCTL_CLUSTER), "the claim depends on the name, not on the settings")
            .to.deep.equal({ name: "medium-lb-cluster", externalHostname: "mediumlb", plan: "large" });
        expect(mocks.invokes.filter((i) => i.inputs.command === "cluster-status"), "no status read without clusterUpgrade").to.deep.equal([]);

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
        const env = run?.inputs.environment as Record<string, string>;
        expect(JSON.parse(env.PKSCTL_CLUSTER)).to.deep.equal({ name: "c1", externalHostname: "c1.example.com", plan: "small" });
        expect(JSON.parse(env.PKSCTL_OWNERSHIP), "credentials only of the cluster whose uuid the stack recorded").to.deep.equal({ adopt: false, tag: true, uuid: "uuid-of-c1" });
    });

    it("with clusterUpgrade, reads the cluster's status on every run and asks for the upgrade it offers", async () => {
        mocks.clusterStatus = { exists: true, tkgiVersion: "1.18.5-build.10", upgradeTo: "1.19.2-build.10" };
        new PksCluster("c5", {
            connection: connection(), externalHostname: "c5", plan: "small", upgrade: true, upgradeTimeoutMinutes: 90,
            adoptExisting: true, ownerTag: false, tilePodIpBlockId: "tile-block",
        });
        await new Promise((resolve) => setTimeout(resolve, 100));
        const status = mocks.invokes.find((i) => i.inputs.command === "cluster-status");
        expect(status?.inputs.interpreter).to.deep.equal(PKSCTL_INTERPRETER);
        const env = mocks.find("command:local:Command", "c5").inputs.environment as Record<string, string>;
        expect(JSON.parse(env.PKSCTL_CLUSTER)).to.deep.equal({ name: "c5", externalHostname: "c5", plan: "small", upgradeTo: "1.19.2-build.10", tilePodIpBlockId: "tile-block" });
        expect(env.PKSCTL_UPGRADE_TIMEOUT_SECONDS).to.equal("5400");
        expect(JSON.parse(env.PKSCTL_OWNERSHIP)).to.deep.equal({ adopt: true, tag: false, claim: { marker: "marker-of-c5" } });
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

describe("what pksctl reported, after the run", () => {
    before(() => useMocks());
    beforeEach(() => mocks.reset());

    it("reports a fresh run's events on the component (warnings as warnings) and keeps them in `events`", async () => {
        const events: Record<string, string[]> = {
            "create-cluster": ["warning: cluster c3 already exists with the same settings; adopting it although its last UPDATE ended 'failed': boom", "cluster c3: CREATE succeeded: done (1s elapsed)"],
            "get-credentials": ["warning: fetching credentials for cluster c3: 502 Bad Gateway; retrying in 2.0s (attempt 2 of 6)"],
            "create-network-profile": ["network profile np already exists with the same settings; adopting it"],
        };
        await withReports((command) => ({ events: events[command] ?? [], finishedAt: new Date().toISOString() }), async (logged) => {
            const profile = new PksNetworkProfile("np", { connection: connection(), parameters: { lb_size: "medium" } });
            const cluster = new PksCluster("c3", { connection: connection(), externalHostname: "c3", plan: "small", networkProfileName: profile.profileName });
            expect(await unwrap(cluster.events)).to.deep.equal([...events["create-cluster"], ...events["get-credentials"]]);
            expect(await unwrap(profile.events)).to.deep.equal(events["create-network-profile"]);
            expect(await unwrap(cluster.kubeconfig), "the kubeconfig is taken from get-credentials' document").to.equal(FAKE_KUBECONFIG);
            expect(await pulumi.isSecret(cluster.kubeconfig)).to.equal(true);
            expect(await pulumi.isSecret(cluster.events)).to.equal(false);
            expect(logged.map(([level, message]) => [level, message])).to.have.deep.members([
                ["warn", "cluster c3 already exists with the same settings; adopting it although its last UPDATE ended 'failed': boom"],
                ["info", "cluster c3: CREATE succeeded: done (1s elapsed)"],
                ["warn", "fetching credentials for cluster c3: 502 Bad Gateway; retrying in 2.0s (attempt 2 of 6)"],
                ["info", "network profile np already exists with the same settings; adopting it"],
            ]);
            for (const [, message, resource] of logged) {
                expect(resource, message).to.equal(message.includes("network profile") ? profile : cluster);
            }
        });
    });

    it("does not report again a document kept in the state since an earlier run, and reads documents without events", async () => {
        const earlier = new Date(Date.now() - 3600_000).toISOString();
        await withReports((command) => (command === "create-cluster" ? { events: ["cluster c4: CREATE succeeded: done (1s elapsed)"], finishedAt: earlier } : {}), async (logged) => {
            const cluster = new PksCluster("c4", { connection: connection(), externalHostname: "c4", plan: "small" });
            expect(await unwrap(cluster.events)).to.deep.equal(["cluster c4: CREATE succeeded: done (1s elapsed)"]);
            expect(await unwrap(cluster.uuid)).to.equal("uuid-of-c4");
            expect(logged).to.deep.equal([]);
        });
    });
});
