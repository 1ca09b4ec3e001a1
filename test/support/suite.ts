/** What every end-to-end suite shares: a local control plane in a directory of its own, kept when a test fails. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalCluster, LocalClusterOptions } from "../../local/localCluster";

/** The suite's working directory and local control plane (set once the suite's first hook has run). */
export interface SuiteCluster {
    dir: string;
    cluster: LocalCluster;
}

/**
 * Registers the suite's hooks: before its tests, a fresh directory (`<tmp>/pks-istio-mesh-e2e-<name>-…`) and a
 * LocalCluster in its `cluster/`; after them, the cluster stopped and the directory removed — or kept, and named,
 * when a test failed. Call it first in a `describe`, before hooks of the suite's own.
 */
export function useLocalCluster(name: string, toolsBin: string, options: Pick<LocalClusterOptions, "istiodWebhookWriteDelayMs"> = {}): SuiteCluster {
    const suite = {} as SuiteCluster;
    let failed = false;
    before(async () => {
        suite.dir = fs.mkdtempSync(path.join(os.tmpdir(), `pks-istio-mesh-e2e-${name}-`));
        console.log(`      e2e workspace: ${suite.dir}`);
        suite.cluster = await LocalCluster.start({ dir: path.join(suite.dir, "cluster"), toolsBin, log: (l) => console.log(`      ${l}`), ...options });
    });
    afterEach(function () {
        failed ||= this.currentTest?.state === "failed";
    });
    after(async () => {
        await suite.cluster?.stop();
        if (failed) {
            console.log(`      kept for inspection: ${suite.dir} (logs in cluster/logs, istiod's in cluster/pods)`);
        } else if (suite.dir) {
            fs.rmSync(suite.dir, { recursive: true, force: true });
        }
    });
    return suite;
}
