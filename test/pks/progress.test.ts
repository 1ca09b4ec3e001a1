/**
 * pksctl's progress lines: secrets removed, and at most PROGRESS_BUDGET bytes of them per run (the command
 * provider hands a run's stderr to the next run's environment, where a string over 128 KiB would keep it from
 * starting), while the run's last line is always written.
 */
import { expect } from "chai";
import { PROGRESS_BUDGET, ProgressLog } from "../../programs/pksctl/progress";

describe("pksctl's progress lines", () => {
    it("stops writing progress lines at the budget, says so once, and still writes the last line and keeps events", () => {
        const written: string[] = [];
        const log = new ProgressLog(["hunter2-secret"], (line) => written.push(line));
        const line = `pks: cluster c: CREATE in progress: Instance provisioning in progress ${"x".repeat(60)}`;
        for (let i = 0; i < 2000; i++) {
            log.line(line);
        }
        log.warn("retrying with hunter2-secret");
        log.final("pksctl: create of cluster c: PKS reports 'failed': boom");
        const total = written.join("").length;
        expect(total).to.be.lessThan(PROGRESS_BUDGET + 300);
        expect(written.filter((l) => l.includes("further progress lines are left out"))).to.have.length(1);
        expect(written[written.length - 1]).to.equal("pksctl: create of cluster c: PKS reports 'failed': boom\n");
        expect(log.events).to.deep.equal(["warning: retrying with [secret]"]);
    });
});
