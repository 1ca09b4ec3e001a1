/**
 * What the platform's operator does outside the CLI, on the simulator's state: the tile's upgrade errand, and the
 * removal of a failed create's BOSH deployment.
 */
import { durationOf, startAction } from "./lifecycle";
import { withState } from "./state";

/**
 * The operator runs the tile's "Upgrade all clusters" errand for these clusters: they are upgraded one after the
 * other, so all but the first wait `queued` (upgrade-clusters, "Monitor Your Clusters").
 */
export function runUpgradeErrand(dir: string, names: string[]): Promise<void> {
    return withState(dir, (state, settings, now) => {
        const seconds = durationOf("UPGRADE", settings) / 1000;
        names.forEach((name, i) => startAction(state.clusters[name], "UPGRADE", settings, now, settings.failUpgrade[name], i * seconds));
    });
}

/** The operator removes a failed create's BOSH deployment (`bosh delete-deployment -d service-instance_<uuid>`). */
export function boshDeleteDeployment(dir: string, name: string): Promise<void> {
    return withState(dir, (state) => {
        delete state.clusters[name].bosh_deployment_left;
    });
}
