/**
 * The real Pulumi engine for this project without an installed Pulumi: a `LocalWorkspace` over the CLI that
 * test/e2e/tools.sh builds, with the Kubernetes provider and the command stand-in as ambient plugins on PATH, a
 * file backend and a passphrase. The program runs in this process (an inline program that loads index.ts):
 * the Node.js language host is not served by the Go module proxy, and the Automation API's inline mode is how
 * the CLI runs a Node.js program without it (`pulumi up --client`).
 *
 * The project directory is a scratch copy of the project's root (Pulumi.yaml, plus links to index.ts,
 * components/, test/, node_modules/, package.json and tsconfig.json): the command provider runs pksctl from it,
 * and the stack file Pulumi writes (salt, secrets, overrides) stays out of the clone.
 */
import { ConfigMap, LocalWorkspace, PulumiCommand, PulumiFn, Stack } from "@pulumi/pulumi/automation";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ROOT, stackConfig } from "../stacks";
import { LocalCluster } from "./localCluster";

export interface MeshWorkspaceOptions {
    /** Holds project/ (the scratch project), state/ (the file backend) and home/ (PULUMI_HOME). */
    dir: string;
    /** The tools directory (pulumi and the provider plugins). */
    toolsBin: string;
    stackName: string;
    passphrase: string;
    /** More environment for the engine and the providers it starts (e.g. PKS_SIM_STATE). */
    env?: Record<string, string>;
    /** The program to run instead of index.ts. */
    program?: PulumiFn;
}

const LINKED = ["index.ts", "components", "test", "node_modules", "package.json", "tsconfig.json"];

/** index.ts, loaded afresh for every operation (modules run once per process otherwise). */
async function meshProgram(): Promise<Record<string, unknown>> {
    const index = require.resolve(path.join(ROOT, "index.ts"));
    delete require.cache[index];
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(index) as Record<string, unknown>;
}

/** Creates or selects the stack in the scratch project. */
export async function meshStack(options: MeshWorkspaceOptions): Promise<Stack> {
    const project = path.join(options.dir, "project");
    fs.mkdirSync(project, { recursive: true });
    for (const name of LINKED) {
        const link = path.join(project, name);
        if (!fs.existsSync(link)) {
            fs.symlinkSync(path.join(ROOT, name), link);
        }
    }
    fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
    fs.mkdirSync(path.join(options.dir, "state"), { recursive: true });
    const pulumiCommand = await PulumiCommand.get({ root: path.dirname(options.toolsBin) });
    const program = options.program ?? meshProgram;
    return LocalWorkspace.createOrSelectStack({ stackName: options.stackName, projectName: "pks-istio-mesh", program }, {
        workDir: project,
        pulumiCommand,
        envVars: {
            PATH: `${options.toolsBin}${path.delimiter}${process.env.PATH ?? ""}`,
            PULUMI_HOME: path.join(options.dir, "home"),
            PULUMI_BACKEND_URL: `file://${path.join(options.dir, "state")}`,
            PULUMI_CONFIG_PASSPHRASE: options.passphrase,
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            ...options.env,
        },
    });
}

/** The tools directory that test/e2e/tools.sh fills (the same path it prints). */
export function toolsBin(): string {
    return execFileSync(path.join(ROOT, "test", "e2e", "tools.sh"), ["--print-bin"], { encoding: "utf8" }).trim();
}

/**
 * The committed `local` stack's configuration for a run against a LocalCluster: the simulator's password as a
 * secret, the stand-in Istio charts, and no product page check when the harness cannot answer for the page.
 */
export function localStackConfig(password: string, cluster: LocalCluster, extra: ConfigMap = {}): ConfigMap {
    return {
        ...Object.fromEntries(Object.entries(stackConfig("local")).map(([k, value]) => [k, { value }])),
        "pks-istio-mesh:pksPassword": { value: password, secret: true },
        "pks-istio-mesh:istioChartRepository": { value: path.join(ROOT, "test", "e2e", "charts") },
        ...(cluster.servesProductPage ? {} : { "pks-istio-mesh:verifyProductPage": { value: "false" } }),
        ...extra,
    };
}
