/**
 * The fault matrix: pksctl against the simulator with injected faults per subcommand (transient failures, hangs,
 * malformed output, failures after the side effect) and concurrent runs. Each case asserts the outcome (exit
 * status), the message, and the simulator's state: nothing orphaned, nothing deleted by mistake, no private home
 * and no CLI process left behind (`withBox`).
 */
import { expect } from "chai";
import * as YAML from "yaml";
import { SimFault } from "../../local/pks-simulator/state";
import { Run, cluster, concurrentTests, expectFailure, expectOk, profile, withBox } from "../support/sandbox";

const NAME = "medium-lb-cluster";
const REFUSED = `Error: Get "https://api.pks.local:9021/v1/clusters/${NAME}": dial tcp 10.0.0.1:9021: connect: connection refused`;
const PROXY_404 = "404 page not found";

/**
 * A fault on reading an object: on its document and on the listing pksctl consults when that fails (a proxy in
 * front of PKS fails both). `listing` overrides the listing's fault.
 */
function onReads(fault: SimFault, listing: Partial<SimFault> = {}): SimFault[] {
    const list = { cluster: "clusters", "network-profile": "network-profiles" }[fault.command] ?? fault.command;
    const { name: _name, after: _after, ...rest } = fault;
    return [fault, { ...rest, command: list, ...listing }];
}

/** The events of a successful run's document. */
function events(run: Run): string[] {
    return (JSON.parse(run.stdout) as { events: string[] }).events;
}

describe("pksctl under faults", function () {
    this.timeout(60_000);
    concurrentTests(6, [
        // --- "Gone" is PKS's exact not-found answer for that object, nothing else --------------------------------
        ["takes a proxy's '404 page not found' during a delete wait for a retryable error, not for 'gone'", withBox(async (box) => {
            await box.seedCluster();
            box.settings({ durations: { create: 3, update: 2, delete: 4 } });
            // The first read and the first poll pass; the next two polls (and the listings) meet a proxy's own 404.
            box.faults(...onReads({ command: "cluster", after: 2, times: 2, kind: "fail", message: PROXY_404 }));
            const run = await box.run("delete-cluster");
            expectOk(run);
            expect(run.stderr).to.include(`reading cluster ${NAME}: ${PROXY_404}; listing: ${PROXY_404}; retrying in`);
            const log = events(run);
            expect(log.filter((e) => e.includes(PROXY_404))).to.have.length(2);
            expect(log[log.length - 1], "the wait ended on PKS's listing").to.match(new RegExp(`^cluster ${NAME}: deleted: PKS no longer lists it`));
            expect((await box.snapshot()).clusters).to.deep.equal({});
            expect(box.calls("delete-cluster")).to.have.length(1);
        })],
        ["never reports a delete it did not see: a lasting 404 fails the step and the cluster stays known", withBox(async (box) => {
            await box.seedCluster();
            box.settings({ durations: { create: 3, update: 2, delete: 100 } });
            box.faults(...onReads({ command: "cluster", after: 1, times: 1000, kind: "fail", message: PROXY_404 }));
            const run = await box.run("delete-cluster", { PKSCTL_RETRY_ATTEMPTS: "3" });
            expectFailure(run, `pksctl: reading cluster ${NAME}: ${PROXY_404}; listing: ${PROXY_404} (gave up after 3 attempts)`);
            const state = (await box.snapshot()).clusters[NAME];
            expect(state).to.include({ last_action: "DELETE", last_action_state: "in progress" });
        })],
        ["keeps waiting while PKS lists the cluster, even when its own read answers 'not found'", withBox(async (box) => {
            await box.seedCluster();
            box.settings({ durations: { create: 3, update: 2, delete: 8 } });
            // Even PKS's documented wording only confirms: the listing, which still has the cluster, decides.
            box.faults({ command: "cluster", after: 1, times: 1000, kind: "fail", message: `Error: Cluster ${NAME} not found` });
            const run = await box.run("delete-cluster");
            expectOk(run);
            expect(run.stderr).to.match(new RegExp(`cluster ${NAME}: DELETE in progress: Instance deletion in progress`));
            expect(box.calls("clusters").length, "each poll asked the listing").to.be.greaterThan(2);
            expect((await box.snapshot()).clusters).to.deep.equal({});
        })],
        ["does not count a profile as deleted on a not-found text while PKS still lists it", withBox(async (box) => {
            await box.seedProfile();
            box.faults({ command: "delete-network-profile", kind: "fail", message: "Error: Network profile network-profile-medium not found" });
            const run = await box.run("delete-network-profile");
            expectFailure(run, "pksctl: deleting network profile network-profile-medium: Network profile network-profile-medium not found");
            expect(Object.keys((await box.snapshot()).profiles)).to.deep.equal(["network-profile-medium"]);
        })],

        // --- Retries of idempotent calls, each reported ----------------------------------------------------------
        ["retries a login that meets a 503, with a progress line and an event per retry", withBox(async (box) => {
            await box.seedProfile();
            box.faults({ command: "login", times: 2, kind: "fail", message: "Error: 503 Service Unavailable" });
            const run = await box.run("create-network-profile");
            expectOk(run);
            expect(run.stderr.match(/pks: warning: logging in to api\.pks\.local as user admin: 503 Service Unavailable; retrying in \d+\.\ds \(attempt \d of 6\)/g)).to.have.length(2);
            expect(events(run).filter((e) => e.startsWith("warning: logging in"))).to.have.length(2);
            expect(box.calls("login")).to.have.length(3);
        })],
        ["retries status polls that meet a refused connection mid-wait, without a second create", withBox(async (box) => {
            await box.seedProfile();
            box.faults(...onReads({ command: "cluster", after: 2, times: 2, kind: "fail", message: REFUSED }, { after: 1 }));
            const run = await box.run("create-cluster");
            expectOk(run);
            expect(run.stderr).to.include(`reading cluster ${NAME}: Get "https://api.pks.local:9021/v1/clusters/${NAME}": dial tcp 10.0.0.1:9021: connect: connection refused; listing: `);
            expect(events(run).filter((e) => e.includes("connection refused"))).to.have.length(2);
            expect(box.calls("create-cluster")).to.have.length(1);
            expect((await box.snapshot()).clusters[NAME].last_action_state).to.equal("succeeded");
        })],
        ["retries get-credentials (a hang, then a 502) and reports the retries in its document", withBox(async (box) => {
            await box.seedCluster();
            box.faults(
                { command: "get-credentials", times: 1, kind: "hang" },
                { command: "get-credentials", after: 1, times: 1, kind: "fail", message: "Error: 502 Bad Gateway" },
            );
            const run = await box.run("get-credentials", { PKSCTL_CALL_TIMEOUT_SECONDS: "2" });
            expectOk(run);
            const document = JSON.parse(run.stdout) as { kubeconfig: string; events: string[] };
            expect((YAML.parse(document.kubeconfig) as { "current-context": string })["current-context"]).to.equal(NAME);
            expect(document.events).to.have.length(2);
            expect(document.events[0]).to.match(new RegExp(`^warning: fetching credentials for cluster ${NAME}: timed out after 2s; retrying in`));
            expect(document.events[1]).to.match(new RegExp(`^warning: fetching credentials for cluster ${NAME}: 502 Bad Gateway; retrying in`));
            expect(box.calls("get-credentials")).to.have.length(3);
        })],
        ["retries a read answered by an HTML page from a proxy", withBox(async (box) => {
            box.faults(...onReads({ command: "network-profile", times: 1, kind: "fail", stdout: "<html><head><title>500 Internal Server Error</title></head><body><h1>500</h1></body></html>\n", message: "" }));
            const run = await box.run("create-network-profile");
            expectOk(run);
            expect(run.stderr).to.include("reading network profile network-profile-medium: an HTML page (500 Internal Server Error) instead of an answer from PKS; " +
                "listing: an HTML page (500 Internal Server Error) instead of an answer from PKS; retrying in");
            expect(Object.keys((await box.snapshot()).profiles)).to.deep.equal(["network-profile-medium"]);
        })],
        ["does not retry permanent failures: an unknown plan fails the create at once, with PKS's text", withBox(async (box) => {
            const run = await box.run("create-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ plan: "huge", networkProfile: undefined })) });
            expectFailure(run, `pksctl: creating cluster ${NAME}: Plan huge not found. Run 'pks plans' to list the available plans`);
            expect(box.calls("create-cluster")).to.have.length(1);
            expect(box.calls("cluster"), "one read before the create, one to decide after it").to.have.length(2);
            expect((await box.snapshot()).clusters).to.deep.equal({});
        })],

        // --- Hangs: killed, retried within the deadline, or "timed out after N s" at it ---------------------------
        ["kills a hung status poll at the per-call limit and polls again", withBox(async (box) => {
            await box.seedProfile();
            box.faults(...onReads({ command: "cluster", after: 2, times: 1, kind: "hang" }, { after: 1 }));
            const run = await box.run("create-cluster", { PKSCTL_CALL_TIMEOUT_SECONDS: "2" });
            expectOk(run);
            expect(run.stderr).to.include(`reading cluster ${NAME}: timed out after 2s; listing: timed out after 2s; retrying in`);
            expect((await box.snapshot()).clusters[NAME].last_action_state).to.equal("succeeded");
            expect(box.calls("create-cluster")).to.have.length(1);
        })],
        ["ends a call that hangs until the step's deadline as 'timed out after N s', within the deadline", withBox(async (box) => {
            await box.seedProfile();
            box.faults(...onReads({ command: "cluster", after: 1, times: 1000, kind: "hang" }, { after: 1 }));
            const run = await box.run("create-cluster", { PKSCTL_TIMEOUT_SECONDS: "4" });
            expectFailure(run, new RegExp(`^pksctl: reading cluster ${NAME}: timed out after \\ds; listing: timed out after \\ds; gave up at the step's deadline \\(4s, pksTimeoutMinutes\\)$`));
            expect(run.seconds, "the deadline bounds the run (plus a second for the listing and the kill's grace)").to.be.lessThan(4 + 5);
            expect((await box.snapshot()).clusters[NAME].last_action, "PKS carries on with the create").to.equal("CREATE");
        })],

        // --- Malformed output ------------------------------------------------------------------------------------
        ["retries a poll whose JSON is cut short", withBox(async (box) => {
            await box.seedProfile();
            box.faults(...onReads({ command: "cluster", after: 2, times: 1, kind: "output", stdout: `{"name": "${NAME}", "plan_name": "lar` }, { after: 1, stdout: "[{" }));
            const run = await box.run("create-cluster");
            expectOk(run);
            expect(run.stderr).to.include(`reading cluster ${NAME}: the CLI's cluster document is not JSON: {"name": "${NAME}", "plan_name": "lar; listing: the CLI's cluster list is not JSON: [{; retrying in`);
            expect((await box.snapshot()).clusters[NAME].last_action_state).to.equal("succeeded");
        })],
        ["refuses a cluster document without a uuid, and creates nothing on a garbled read", withBox(async (box) => {
            const { uuid: _uuid, ...withoutUuid } = { name: NAME, uuid: "x", plan_name: "large", last_action: "CREATE", last_action_state: "succeeded", last_action_description: "", kubernetes_master_ips: [], parameters: { kubernetes_master_host: "mediumlb", kubernetes_worker_instances: 4 } };
            box.faults(...onReads({ command: "cluster", times: 1000, kind: "output", stdout: JSON.stringify(withoutUuid) }, { stdout: JSON.stringify([withoutUuid]) }));
            const run = await box.run("create-cluster", { PKSCTL_RETRY_ATTEMPTS: "2" });
            expectFailure(run, `pksctl: reading cluster ${NAME}: the CLI's cluster document does not have the expected shape (uuid: is required); ` +
                "listing: the CLI's cluster list does not have the expected shape (0.uuid: is required) (gave up after 2 attempts)");
            expect(box.calls("create-cluster")).to.deep.equal([]);
            expect((await box.snapshot()).clusters).to.deep.equal({});
        })],

        // --- Non-idempotent calls: never repeated; PKS's state decides -------------------------------------------
        ["adopts a cluster whose create went through although the CLI reported an error", withBox(async (box) => {
            await box.seedProfile();
            box.faults({ command: "create-cluster", kind: "fail-after-effect", message: "Error: 504 Gateway Time-out" });
            const run = await box.run("create-cluster");
            expectOk(run);
            expect(events(run)[0]).to.equal(`warning: cluster ${NAME}: create-cluster reported '504 Gateway Time-out', but PKS has the cluster with the same settings (CREATE in progress); adopting it`);
            expect(box.calls("create-cluster")).to.have.length(1);
            expect((await box.snapshot()).clusters[NAME].last_action_state).to.equal("succeeded");
        })],
        ["adopts a cluster whose create-cluster call hung after the create went through", withBox(async (box) => {
            await box.seedProfile();
            box.faults({ command: "create-cluster", kind: "hang-after-effect" });
            const run = await box.run("create-cluster", { PKSCTL_CALL_TIMEOUT_SECONDS: "2" });
            expectOk(run);
            expect(events(run)[0]).to.match(/^warning: cluster medium-lb-cluster: create-cluster reported 'timed out after 2s', but PKS has the cluster/);
            expect(box.calls("create-cluster")).to.have.length(1);
            expect(Object.keys((await box.snapshot()).clusters)).to.deep.equal([NAME]);
        })],
        ["does not repeat a create that failed without effect: it fails with PKS's text", withBox(async (box) => {
            await box.seedProfile();
            box.faults({ command: "create-cluster", kind: "fail", message: "Error: 503 Service Unavailable" });
            const run = await box.run("create-cluster");
            expectFailure(run, `pksctl: creating cluster ${NAME}: 503 Service Unavailable`);
            expect(box.calls("create-cluster")).to.have.length(1);
            expect((await box.snapshot()).clusters).to.deep.equal({});
        })],
        ["adopts a second, concurrent create of the same cluster instead of failing", withBox(async (box) => {
            await box.seedProfile();
            const [first, second] = await Promise.all([box.run("create-cluster"), box.run("create-cluster")]);
            expectOk(first);
            expectOk(second);
            const state = await box.snapshot();
            expect(Object.keys(state.clusters)).to.deep.equal([NAME]);
            const uuids = [first, second].map((r) => (JSON.parse(r.stdout) as { uuid: string }).uuid);
            expect(uuids).to.deep.equal([state.clusters[NAME].uuid, state.clusters[NAME].uuid]);
            // Whichever way the two runs interleaved, one of them adopted the other's cluster.
            expect([...events(first), ...events(second)].filter((e) => /adopting it/.test(e))).to.have.length(1);
        })],
        ["adopts the cluster when its create-cluster loses the race to another run's ('already taken')", withBox(async (box) => {
            await box.seedProfile();
            // Another run has just created the cluster; this run's first read came before that.
            await box.seedCluster({ last_action_state: "in progress", last_action_description: "Creating cluster", master_ips: ["In Progress"] }, 6);
            box.faults({ command: "cluster", times: 1, kind: "fail", message: `Error: Cluster ${NAME} not found` }, { command: "clusters", times: 1, kind: "output", stdout: "[]" });
            const run = await box.run("create-cluster");
            expectOk(run);
            expect(events(run)[0]).to.equal(`warning: cluster ${NAME}: create-cluster reported 'Cluster name ${NAME} is already taken', but PKS has the cluster with the same settings (CREATE in progress); adopting it`);
            expect(box.calls("create-cluster")).to.have.length(1);
            const state = await box.snapshot();
            expect(Object.keys(state.clusters)).to.deep.equal([NAME]);
            expect((JSON.parse(run.stdout) as { uuid: string }).uuid).to.equal(state.clusters[NAME].uuid);
            expect(state.clusters[NAME].last_action_state).to.equal("succeeded");
        })],
        ["recognises an update-cluster --wait that did its work although it reported an error", withBox(async (box) => {
            await box.seedCluster();
            box.faults({ command: "update-cluster", kind: "fail-after-effect", message: "Error: 502 Bad Gateway" });
            const run = await box.run("update-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ numNodes: 6 })) });
            expectOk(run);
            expect(events(run)).to.include(`warning: cluster ${NAME}: update-cluster reported '502 Bad Gateway', but PKS shows the update succeeded`);
            expect(box.calls("update-cluster")).to.have.length(1);
            expect((await box.snapshot()).clusters[NAME]).to.include({ worker_instances: 6, last_action: "UPDATE", last_action_state: "succeeded" });
        })],
        ["kills an update-cluster --wait that hangs at the deadline, then reads what PKS did", withBox(async (box) => {
            await box.seedCluster();
            box.faults({ command: "update-cluster", kind: "hang-after-effect" });
            const run = await box.run("update-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ numNodes: 5 })), PKSCTL_TIMEOUT_SECONDS: "3" });
            expectOk(run);
            expect(events(run)[0]).to.match(new RegExp(`^warning: cluster ${NAME}: update-cluster reported 'timed out after \\ds', but PKS shows the update succeeded$`));
            expect((await box.snapshot()).clusters[NAME].worker_instances).to.equal(5);
        })],
        ["does not repeat an update that failed without effect", withBox(async (box) => {
            await box.seedCluster();
            box.faults({ command: "update-cluster", kind: "fail", message: "Error: 503 Service Unavailable" });
            const run = await box.run("update-cluster", { PKSCTL_CLUSTER: JSON.stringify(cluster({ numNodes: 6 })) });
            expectFailure(run, `pksctl: updating worker nodes of cluster ${NAME} from 4 to 6: 503 Service Unavailable`);
            expect(box.calls("update-cluster")).to.have.length(1);
            expect((await box.snapshot()).clusters[NAME]).to.include({ worker_instances: 4, last_action: "CREATE" });
        })],
        ["waits for a delete that went through although delete-cluster reported an error", withBox(async (box) => {
            await box.seedCluster();
            box.faults({ command: "delete-cluster", kind: "fail-after-effect", message: "Error: 504 Gateway Time-out" });
            const run = await box.run("delete-cluster");
            expectOk(run);
            expect(events(run)[0]).to.equal(`warning: cluster ${NAME}: delete-cluster reported '504 Gateway Time-out', but PKS is deleting the cluster; waiting for it`);
            expect(box.calls("delete-cluster")).to.have.length(1);
            expect((await box.snapshot()).clusters).to.deep.equal({});
        })],
        ["fails a delete that did not happen, leaving the cluster known and untouched", withBox(async (box) => {
            await box.seedCluster();
            box.faults({ command: "delete-cluster", kind: "fail", message: REFUSED });
            const run = await box.run("delete-cluster");
            expectFailure(run, `pksctl: deleting cluster ${NAME}: Get "https://api.pks.local:9021/v1/clusters/${NAME}": dial tcp 10.0.0.1:9021: connect: connection refused`);
            expect(box.calls("delete-cluster")).to.have.length(1);
            expect((await box.snapshot()).clusters[NAME]).to.include({ last_action: "CREATE", last_action_state: "succeeded" });
        })],
        ["adopts a network profile whose create went through although the CLI reported an error", withBox(async (box) => {
            box.faults({ command: "create-network-profile", kind: "fail-after-effect", message: "Error: 502 Bad Gateway" });
            const run = await box.run("create-network-profile");
            expectOk(run);
            expect(events(run)).to.deep.equal(["warning: network profile network-profile-medium: create-network-profile reported '502 Bad Gateway', but PKS has the profile with the same settings; adopting it"]);
            expect(box.calls("create-network-profile")).to.have.length(1);
            expect((await box.snapshot()).profiles["network-profile-medium"].parameters).to.deep.equal(profile().parameters);
        })],
        ["counts a profile as deleted when the delete went through although the CLI reported an error", withBox(async (box) => {
            await box.seedProfile();
            box.faults({ command: "delete-network-profile", kind: "fail-after-effect", message: "Error: 502 Bad Gateway" });
            const run = await box.run("delete-network-profile");
            expectOk(run);
            expect(events(run)).to.deep.equal(["warning: network profile network-profile-medium: delete-network-profile reported '502 Bad Gateway', and PKS no longer lists the profile: counted as deleted"]);
            expect((await box.snapshot()).profiles).to.deep.equal({});
        })],
    ]);
});
