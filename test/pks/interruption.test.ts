/**
 * Interrupted runs: pksctl stopped by SIGTERM or SIGINT (it stops its CLI call and removes its private home
 * itself) or killed by SIGKILL, as the command provider does on cancel (its watchdog does that cleanup), and the
 * next run after it. No tokens may stay on disk and no CLI process may keep running.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { Sandbox, concurrentTests, expectOk, isAlive, waitFor, withBox } from "../support/sandbox";

const NAME = "medium-lb-cluster";

/** Waits until the simulator runs call number `nth` of `command`, which does not answer (a `hang` fault). */
async function hungCall(box: Sandbox, command: string, nth: number): Promise<number> {
    let pid: number | undefined;
    const hung = await waitFor(() => {
        pid = box.processes().filter((p) => p.argv[0] === command)[nth - 1]?.pid;
        return pid !== undefined;
    }, 20_000);
    expect(hung, `a hung ${command} call`).to.equal(true);
    // Let it settle into its hang (past the fault check).
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(isAlive(pid!), `the hung ${command} call runs`).to.equal(true);
    return pid!;
}

/** A process id that is no longer in use. */
function deadPid(): number {
    const { pid } = spawnSync(process.execPath, ["-e", "0"]);
    return pid!;
}

describe("pksctl interrupted", function () {
    this.timeout(60_000);
    concurrentTests(4, [
        ["on SIGTERM stops its CLI call, removes its private home and says so, leaving PKS's work alone", withBox(async (box) => {
            await box.seedProfile();
            box.faults({ command: "cluster", after: 2, times: 1000, kind: "hang" });
            const { child, done } = box.start("create-cluster");
            const cli = await hungCall(box, "cluster", 3);
            expect(box.homes(), "the run's private home exists while it runs").to.have.length(1);
            child.kill("SIGTERM");
            const run = await done;
            expect(run.code).to.equal(143);
            expect(run.stdout).to.equal("");
            expect(run.stderr.trimEnd().split("\n").pop()).to.equal(
                `pksctl: interrupted by SIGTERM during create-cluster; stopped the CLI (\`cluster ${NAME} --json\`) and removed the private home with its session. ` +
                "PKS carries on with any operation it had accepted: run the Pulumi command again to resume");
            // Done by pksctl itself before it exited, not later by its watchdog.
            expect(box.homes()).to.deep.equal([]);
            expect(isAlive(cli), "the hung CLI call is stopped").to.equal(false);
            expect((await box.snapshot()).clusters[NAME]).to.include({ last_action: "CREATE", last_action_state: "in progress" });
        })],
        ["on SIGINT during a hung login does the same", withBox(async (box) => {
            box.faults({ command: "login", kind: "hang" });
            const { child, done } = box.start("delete-cluster");
            const cli = await hungCall(box, "login", 1);
            child.kill("SIGINT");
            const run = await done;
            expect(run.code).to.equal(130);
            expect(run.stderr).to.include("pksctl: interrupted by SIGINT during delete-cluster; stopped the CLI (`login -a api.pks.local -u admin -k`)");
            expect(run.stderr).to.not.match(/^\s+at /m);
            expect(box.homes()).to.deep.equal([]);
            expect(isAlive(cli)).to.equal(false);
        })],
        ["killed with SIGKILL mid-wait, leaves no tokens and no CLI, and the next create adopts the cluster in progress", withBox(async (box) => {
            await box.seedProfile();
            box.settings({ durations: { create: 8, update: 2, delete: 2 } });
            box.faults({ command: "cluster", after: 2, times: 1, kind: "hang" });
            const { child, done } = box.start("create-cluster");
            const cli = await hungCall(box, "cluster", 3);
            const home = box.homes();
            expect(home).to.have.length(1);
            expect(fs.readdirSync(path.join(box.tmp, home[0])), "the home holds the CLI's session").to.include("creds.yml");
            child.kill("SIGKILL");
            const killed = await done;
            expect(killed.signal).to.equal("SIGKILL");
            // The watchdog saw pksctl go and cleaned up after it.
            expect(await waitFor(() => box.homes().length === 0 && !isAlive(cli), 5000), "cleaned up after the kill").to.equal(true);
            expect((await box.snapshot()).clusters[NAME].last_action_state, "PKS carries on").to.equal("in progress");

            const next = await box.run("create-cluster");
            expectOk(next);
            expect(next.stderr).to.include(`cluster ${NAME} already exists with the same settings; adopting it (CREATE in progress)`);
            expect(box.calls("create-cluster"), "no second create").to.have.length(1);
            expect((await box.snapshot()).clusters[NAME].last_action_state).to.equal("succeeded");
        })],
        ["starts its watchdog with PATH alone: the PKS password is not in the environment of a process that outlives pksctl", withBox(async (box) => {
            box.faults({ command: "login", kind: "hang" });
            const { child, done } = box.start("create-network-profile");
            await hungCall(box, "login", 1);
            const watchdogs = fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
                try {
                    const stat = fs.readFileSync(`/proc/${p}/stat`, "utf8");
                    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === child.pid
                        && fs.readFileSync(`/proc/${p}/cmdline`, "utf8").includes("watchdog.sh");
                } catch {
                    return false; // gone meanwhile
                }
            });
            expect(watchdogs, "pksctl's watchdog").to.have.length(1);
            const environment = fs.readFileSync(`/proc/${watchdogs[0]}/environ`, "utf8").split("\0").filter(Boolean);
            expect(environment).to.deep.equal([`PATH=${process.env.PATH}`]);
            child.kill("SIGTERM");
            await done;
        })],
        ["killed with SIGKILL during update-cluster --wait, does not leave the CLI running", withBox(async (box) => {
            await box.seedCluster();
            box.faults({ command: "update-cluster", kind: "hang-after-effect" });
            const { child, done } = box.start("update-cluster", { PKSCTL_CLUSTER: JSON.stringify({ name: NAME, externalHostname: "mediumlb", plan: "large", numNodes: 6, networkProfile: "network-profile-medium" }) });
            const cli = await hungCall(box, "update-cluster", 1);
            child.kill("SIGKILL");
            await done;
            expect(await waitFor(() => !isAlive(cli) && box.homes().length === 0, 5000)).to.equal(true);
            expect((await box.snapshot()).clusters[NAME].worker_instances).to.equal(6);
        })],
        ["removes, at start, the private homes of earlier runs killed with their watchdog: only its own and only dead runs'", withBox(async (box) => {
            const mark = (name: string, pid: number) => {
                fs.mkdirSync(path.join(box.tmp, name));
                fs.writeFileSync(path.join(box.tmp, name, ".pksctl-run"), JSON.stringify({ pid }));
                fs.writeFileSync(path.join(box.tmp, name, "creds.yml"), "access_token: stale\n");
            };
            mark(`pksctl-home-1-dead`, deadPid());
            mark(`pksctl-home-2-alive`, process.pid);
            fs.mkdirSync(path.join(box.tmp, "pksctl-home-3-unmarked"));
            mark("not-pksctl-home", deadPid());
            fs.mkdirSync(path.join(box.dir, "elsewhere"));
            fs.writeFileSync(path.join(box.dir, "elsewhere", ".pksctl-run"), JSON.stringify({ pid: deadPid() }));
            fs.symlinkSync(path.join(box.dir, "elsewhere"), path.join(box.tmp, "pksctl-home-4-link"));

            const run = await box.run("delete-network-profile");
            expectOk(run);
            expect(run.stderr).to.include("removed 1 private home(s) that interrupted pksctl runs left behind");
            expect(fs.readdirSync(box.tmp).sort()).to.deep.equal(["not-pksctl-home", "pksctl-home-2-alive", "pksctl-home-3-unmarked", "pksctl-home-4-link"]);
            expect(fs.existsSync(path.join(box.dir, "elsewhere", ".pksctl-run")), "a link is not followed").to.equal(true);
            for (const name of ["not-pksctl-home", "pksctl-home-2-alive", "pksctl-home-3-unmarked", "pksctl-home-4-link"]) {
                fs.rmSync(path.join(box.tmp, name), { recursive: true, force: true });
            }
        })],
    ]);
});
