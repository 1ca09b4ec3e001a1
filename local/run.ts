/**
 * `npm run local -- <preview|up|destroy|refresh|output> [--expect-no-changes]`: the `local` stack, end to end,
 * on this machine and without an installed Pulumi, PKS or cluster. It starts the local control plane
 * (local/localCluster.ts; state in .pks-simulator/cluster) with the real istiod answering its webhooks, points
 * the pks simulator's `get-credentials` at it, and runs `pulumi <operation>` in a scratch copy of the project
 * (local/workspace.ts: the CLI, language host and providers built by `npm run e2e:tools`), with a file
 * backend in .pks-simulator/pulumi. Istio 1.31's charts (the 1.31.0-rc.0 snapshot's, ISTIO_VERSION) come from the
 * tool cache, through the local-chart path. The control plane stops when the operation ends and comes back with its
 * state on the next run.
 */
import * as fs from "fs";
import * as path from "path";
import { stateDir, writeSettings } from "./pks-simulator/state";
import { LocalCluster } from "./localCluster";
import { localStackConfig, meshStack, toolsBin as toolsDir } from "./workspace";

const OPERATIONS = ["preview", "up", "destroy", "refresh", "output"];
/** The simulator's administrator password (its documented default); this stack is a local sandbox. */
const SIMULATOR_PASSWORD = "admin-password";
/** The local stack's secrets passphrase: a sandbox on this machine, not a place for real secrets. */
const PASSPHRASE = "pks-istio-mesh-local";

async function main(): Promise<number> {
    const [operation, ...flags] = process.argv.slice(2);
    if (!OPERATIONS.includes(operation)) {
        console.error(`usage: npm run local -- <${OPERATIONS.join("|")}> [--expect-no-changes] [--show-secrets]`);
        return 2;
    }
    const toolsBin = toolsDir();
    if (!fs.existsSync(path.join(toolsBin, "pulumi"))) {
        console.error(`The tools are not built yet: run \`npm run e2e:tools\` first (they go to ${toolsBin}).`);
        return 1;
    }
    const sandbox = stateDir();
    const cluster = await LocalCluster.start({ dir: path.join(sandbox, "cluster"), toolsBin, log: (l) => console.log(l) });
    try {
        writeSettings(sandbox, { kubeconfig: { server: cluster.server, token: cluster.tokens.first, certificateAuthorityData: cluster.certificateAuthorityData } });
        const stack = await meshStack({ dir: path.join(sandbox, "pulumi"), toolsBin, stackName: "local", passphrase: PASSPHRASE });
        await stack.setAllConfig(localStackConfig(SIMULATOR_PASSWORD, cluster, toolsBin));
        const onOutput = (s: string) => process.stdout.write(s);
        switch (operation) {
            case "preview":
                await stack.preview({ onOutput, expectNoChanges: flags.includes("--expect-no-changes") });
                break;
            case "up":
                await stack.up({ onOutput });
                break;
            case "destroy":
                await stack.destroy({ onOutput });
                break;
            case "refresh":
                await stack.refresh({ onOutput });
                break;
            default:
                for (const [key, output] of Object.entries(await stack.outputs())) {
                    const shown = output.secret && !flags.includes("--show-secrets") ? "[secret]" : JSON.stringify(output.value, null, 2);
                    console.log(`${key}: ${shown}`);
                }
        }
        return 0;
    } catch (e) {
        console.error((e as Error).message);
        return 1;
    } finally {
        await cluster.stop();
    }
}

main().then((code) => {
    process.exitCode = code;
});
