/**
 * Bad input never reaches the CLI and never ends in a stack trace: every PKSCTL_* variable and every document
 * the CLI prints is checked for shape, and the one line pksctl prints says what was wrong. The many messages are
 * checked in-process (readInputs, as pksctl calls it); runs of pksctl show that they end the run in one line
 * before any CLI call.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { PksctlError } from "../../programs/pksctl/errors";
import { PksctlOperation, readInputs } from "../../programs/pksctl/inputs";
import { PASSWORD, Run, Sandbox, cluster, concurrentTests, expectFailure, expectOk, profile, withBox } from "../support/sandbox";

/** A run refused while reading its inputs: one line, no CLI call at all. */
function expectRefused(box: Sandbox, run: Run, message: string): void {
    expectFailure(run, `pksctl: reading inputs: ${message}`);
    expect(run.stderr.trim().split("\n"), "one line").to.have.length(1);
    expect(box.calls("login"), "the CLI was never called").to.deep.equal([]);
}

/** JSON text of a value nested `depth` levels deep (too deep for JSON.stringify to write). */
function nested(depth: number): string {
    return `${'{"next":'.repeat(depth)}"bottom"${"}".repeat(depth)}`;
}

const NAME_RULE = "expected 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";

describe("pksctl's inputs", () => {
    let box: Sandbox;
    before(() => { box = new Sandbox(); });
    after(() => box.cleanup());

    /** What pksctl says about these inputs (the sandbox's, changed by `extra`). */
    function refusal(operation: PksctlOperation, extra: Record<string, string>): string {
        try {
            readInputs(operation, box.env(extra));
        } catch (e) {
            if (e instanceof PksctlError) {
                expect(e.step).to.equal("reading inputs");
                return e.reason;
            }
            throw e;
        }
        throw new Error("the inputs were accepted");
    }

    it("accepts the sandbox's inputs, resolving the CLI", () => {
        const inputs = readInputs("create-cluster", box.env());
        expect(inputs.cluster).to.deep.equal(cluster());
        expect(inputs.login).to.deep.include({ api: "api.pks.local", username: "admin", password: PASSWORD });
        expect(inputs.login.cli).to.match(/local\/pks-simulator\/bin\/pks$/);
        expect(inputs).to.deep.include({ timeoutMs: 60_000, pollMs: 50 });
        expect(inputs.retry).to.deep.include({ attempts: 6, firstDelayMs: 50, callTimeoutMs: 300_000 });
    });

    it("takes a profile operation's inputs without a cluster document, as PksNetworkProfile passes them (and the reverse)", () => {
        const { PKSCTL_CLUSTER: _cluster, ...profileOnly } = box.env();
        const profile = readInputs("create-network-profile", profileOnly);
        expect(profile.cluster).to.equal(undefined);
        expect(profile.profile).to.have.property("name");
        const { PKSCTL_NETWORK_PROFILE: _profile, ...clusterOnly } = box.env();
        expect(readInputs("delete-cluster", clusterOnly).profile).to.equal(undefined);
    });

    it("refuses a cluster document without fields (never passing 'undefined' on), null, or text that is not JSON", () => {
        expect(refusal("create-cluster", { PKSCTL_CLUSTER: "{}" })).to.equal("PKSCTL_CLUSTER: does not have the expected shape (name: is required; externalHostname: is required; plan: is required)");
        expect(refusal("delete-cluster", { PKSCTL_CLUSTER: "null" })).to.equal("PKSCTL_CLUSTER: must be a JSON object, not null");
        expect(refusal("delete-cluster", { PKSCTL_CLUSTER: "[]" })).to.equal("PKSCTL_CLUSTER: must be a JSON object, not an array");
        expect(refusal("get-credentials", { PKSCTL_CLUSTER: "medium-lb-cluster" })).to.equal("PKSCTL_CLUSTER: is not JSON: medium-lb-cluster");
        expect(refusal("create-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ numNodes: "4", extra: 1 })) }))
            .to.equal('PKSCTL_CLUSTER: does not have the expected shape (numNodes: expected number, received string; Unrecognized key: "extra")');
        expect(refusal("create-cluster", { PKSCTL_CLUSTER: "" })).to.equal("PKSCTL_CLUSTER: is not set");
    });

    it("refuses names and values that the CLI could read as flags", () => {
        expect(refusal("delete-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ name: "--non-interactive" })) }))
            .to.equal(`PKSCTL_CLUSTER: does not have the expected shape (name: "--non-interactive" is not a valid cluster name: ${NAME_RULE})`);
        expect(refusal("create-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ plan: "-k", networkProfile: "-p" })) })).to.equal(
            "PKSCTL_CLUSTER: does not have the expected shape (plan: \"-k\" is not a valid plan name: expected one line that does not start with '-' or a space; " +
            `networkProfile: "-p" is not a valid network profile name: ${NAME_RULE})`);
        expect(refusal("create-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ tags: { "-k": "v", team: "a:b" } })) })).to.equal(
            "PKSCTL_CLUSTER: does not have the expected shape (tags.-k: tag keys must be non-empty, not start with '-' and contain no '\"', ':' or ','; " +
            "tags.team: tag values must be non-empty and contain no '\"', ':' or ',')");
        expect(refusal("delete-network-profile", { PKSCTL_NETWORK_PROFILE: JSON.stringify(profile({ name: "-x" })) }))
            .to.equal(`PKSCTL_NETWORK_PROFILE: does not have the expected shape (name: "-x" is not a valid network profile name: ${NAME_RULE})`);
        expect(refusal("delete-cluster", { PKSCTL_API: "--ca-cert=/etc/passwd" }))
            .to.equal("PKSCTL_API: \"--ca-cert=/etc/passwd\" is not allowed: expected one line that does not start with '-' or a space");
        expect(refusal("delete-cluster", { PKSCTL_USERNAME: "-k" })).to.equal("PKSCTL_USERNAME: \"-k\" is not allowed: expected one line that does not start with '-' or a space");
    });

    it("refuses a profile without parameters, with parameters as a string, or nested thousands deep", () => {
        const { parameters: _parameters, ...noParameters } = profile();
        expect(refusal("create-network-profile", { PKSCTL_NETWORK_PROFILE: JSON.stringify(noParameters) }))
            .to.equal("PKSCTL_NETWORK_PROFILE: does not have the expected shape (parameters: is required)");
        expect(refusal("create-network-profile", { PKSCTL_NETWORK_PROFILE: JSON.stringify({ ...noParameters, parameters: "lb_size=medium" }) }))
            .to.equal("PKSCTL_NETWORK_PROFILE: does not have the expected shape (parameters: expected an object)");
        expect(refusal("create-network-profile", { PKSCTL_NETWORK_PROFILE: `{"name":"network-profile-medium","description":"","parameters":${nested(5000)}}` }))
            .to.equal("PKSCTL_NETWORK_PROFILE: nests deeper than 64 levels");
    });

    it("refuses a CLI that is missing or not executable, bad numbers, and an unverified login not asked for, naming every problem at once", () => {
        const notExecutable = path.join(box.dir, "pks");
        fs.writeFileSync(notExecutable, "#!/bin/sh\n", { mode: 0o644 });
        expect(refusal("delete-cluster", { PKSCTL_CLI: notExecutable }))
            .to.equal(`PKSCTL_CLI: '${notExecutable}' is not executable; make it executable (chmod +x) or set pksCli to the pks or tkgi CLI`);
        expect(refusal("delete-cluster", { PKSCTL_CLI: "tkgi-not-installed" }))
            .to.equal("PKSCTL_CLI: 'tkgi-not-installed' was not found on PATH; install the pks or tkgi CLI, or set pksCli to its path");
        expect(refusal("delete-cluster", { PKSCTL_TIMEOUT_SECONDS: "45m" })).to.equal("PKSCTL_TIMEOUT_SECONDS: must be a positive number of seconds, not \"45m\"");
        expect(refusal("delete-cluster", { PKSCTL_POLL_SECONDS: "0" })).to.equal("PKSCTL_POLL_SECONDS: must be a positive number of seconds, not \"0\"");
        expect(refusal("delete-cluster", { PKSCTL_RETRY_ATTEMPTS: "2.5", PKSCTL_API: "", PKSCTL_SKIP_TLS_VALIDATION: "yes" })).to.equal(
            "PKSCTL_RETRY_ATTEMPTS: must be a whole number of at least 1, not \"2.5\"; PKSCTL_API: is not set; PKSCTL_SKIP_TLS_VALIDATION: must be true or false, not \"yes\"");
        expect(refusal("delete-cluster", { PKSCTL_SKIP_TLS_VALIDATION: "false" }))
            .to.equal("PKSCTL_CA_CERT: is not set and PKSCTL_SKIP_TLS_VALIDATION is not true: give the PKS API's CA certificate, or skip validation explicitly");
        expect(refusal("delete-cluster", { PKSCTL_CA_CERT: "not a certificate" })).to.equal("PKSCTL_CA_CERT: is not a PEM certificate (no -----BEGIN CERTIFICATE----- line)");
    });

    it("needs one login, user or client, with its secret on one line (never shown)", () => {
        expect(refusal("delete-cluster", { PKSCTL_PASSWORD: "" })).to.equal("PKSCTL_PASSWORD: is not set (needed with PKSCTL_USERNAME)");
        expect(refusal("delete-cluster", { PKSCTL_USERNAME: "", PKSCTL_PASSWORD: "" })).to.equal("PKSCTL_USERNAME: is not set (or log in as a client with PKSCTL_CLIENT_NAME)");
        expect(refusal("delete-cluster", { PKSCTL_CLIENT_NAME: "automation" })).to.equal("PKSCTL_CLIENT_SECRET: is not set (needed with PKSCTL_CLIENT_NAME)");
        const twoLines = refusal("delete-cluster", { PKSCTL_PASSWORD: `${PASSWORD}\nsecond-line` });
        expect(twoLines).to.equal("PKSCTL_PASSWORD: must be one line (it is typed at the CLI's prompt)");
        const client = readInputs("delete-cluster", box.env({ PKSCTL_CLIENT_NAME: "automation", PKSCTL_CLIENT_SECRET: "client-Secret-123" }));
        expect(client.login).to.deep.include({ clientName: "automation", clientSecret: "client-Secret-123" }).and.not.have.property("password");
    });
});

describe("pksctl refusing inputs and documents", function () {
    this.timeout(60_000);
    concurrentTests(4, [
        ["ends a run with bad input in one line, before any CLI call and without a stack trace or a secret", withBox(async (box) => {
            const empty = await box.run("create-cluster", { PKSCTL_CLUSTER: "{}" });
            expectRefused(box, empty, "PKSCTL_CLUSTER: does not have the expected shape (name: is required; externalHostname: is required; plan: is required)");
            expect(empty.stderr).to.not.include("undefined");
            expectRefused(box, await box.run("delete-cluster", { PKSCTL_CLUSTER: "null" }), "PKSCTL_CLUSTER: must be a JSON object, not null");
            const deep = await box.run("create-network-profile", { PKSCTL_NETWORK_PROFILE: `{"name":"network-profile-medium","description":"","parameters":${nested(5000)}}` });
            expectRefused(box, deep, "PKSCTL_NETWORK_PROFILE: nests deeper than 64 levels");
            expect(deep.stderr).to.not.include("RangeError");
            const twoLines = await box.run("delete-cluster", { PKSCTL_PASSWORD: `${PASSWORD}\nsecond-line` });
            expectRefused(box, twoLines, "PKSCTL_PASSWORD: must be one line (it is typed at the CLI's prompt)");
            expect(twoLines.stderr).to.not.include(PASSWORD);
            const unknown = await box.run("resize-cluster");
            expect(unknown.code).to.equal(2);
            expect(unknown.stderr).to.equal("pksctl: unknown operation 'resize-cluster'; expected one of claim-network-profile, create-network-profile, delete-network-profile, claim-cluster, create-cluster, update-cluster, delete-cluster, get-credentials, cluster-status\n");
            expect(box.homes(), "no private home was even made").to.deep.equal([]);
        })],
        ["carries PKS's own login message, not the prompt's text, and does not retry a rejection", withBox(async (box) => {
            box.faults({ command: "login", kind: "fail", stdout: "Password: ", message: "Credentials were rejected, please try again." });
            const run = await box.run("create-network-profile");
            expectFailure(run, "pksctl: logging in to api.pks.local as user admin: Credentials were rejected, please try again.");
            expect(run.stderr).to.not.include("Password:");
            expect(box.calls("login")).to.have.length(1);
        })],
        ["accepts a profile whose parameters PKS gives as a JSON string (as its API types them)", withBox(async (box) => {
            const document = { name: "network-profile-medium", description: "network profile with medium size LB", parameters: JSON.stringify({ lb_size: "medium" }) };
            box.faults({ command: "network-profile", times: 10, kind: "output", stdout: JSON.stringify(document) });
            const run = await box.run("create-network-profile");
            expectOk(run);
            expect(JSON.parse(run.stdout)).to.deep.include({ name: "network-profile-medium", uuid: "", parameters: { lb_size: "medium" } });
            expect(box.calls("create-network-profile"), "adopted as it is").to.deep.equal([]);
        })],
        ["refuses a CLI profile document whose parameters are missing, not JSON, or nested thousands deep", withBox(async (box) => {
            const base = { name: "network-profile-medium", description: "" };
            const cases: Array<[string, string, string]> = [
                [JSON.stringify(base), "does not have the expected shape (parameters: is required)", "does not have the expected shape (0.parameters: is required)"],
                [JSON.stringify({ ...base, parameters: "lb_size: medium" }), "does not have the expected shape (parameters: a string that does not hold a JSON object)",
                    "does not have the expected shape (0.parameters: a string that does not hold a JSON object)"],
                [`{"name":"network-profile-medium","description":"","parameters":${nested(5000)}}`, "nests deeper than 64 levels", "nests deeper than 64 levels"],
            ];
            for (const [document, problem, listProblem] of cases) {
                // The profile's own document and the listing (which pksctl reads when the document fails) alike.
                box.faults({ command: "network-profile", times: 10, kind: "output", stdout: document }, { command: "network-profiles", times: 10, kind: "output", stdout: `[${document}]` });
                const run = await box.run("create-network-profile", { PKSCTL_RETRY_ATTEMPTS: "1" });
                expectFailure(run, `pksctl: reading network profile network-profile-medium: the CLI's network profile document ${problem}; listing: the CLI's network profile list ${listProblem} (gave up after 1 attempt)`);
                expect(run.stderr).to.not.include("RangeError");
            }
            expect(box.calls("create-network-profile")).to.deep.equal([]);
        })],
    ]);
});
