/**
 * The project run the way a user runs it, without an installed Pulumi: the `pulumi` CLI that tools/tools.sh
 * builds, started in a project directory with `Pulumi.yaml`'s Node.js runtime, so that the Node.js language host
 * (pulumi-language-nodejs, built from its upstream snapshot) compiles and runs index.ts, and the stack's own
 * config file supplies the configuration. The providers (Kubernetes, command) are the upstream ones, as ambient
 * plugins on PATH; the backend is a file backend with a passphrase.
 *
 * The project directory is a scratch copy of the project root: Pulumi.yaml and Pulumi.<stack>.yaml copied (the
 * stack file then receives the salt, the secrets and any test overrides, and the clone's stays as committed), and
 * links to index.ts, components/, test/, node_modules/, package.json and tsconfig.json. The command provider
 * runs pksctl from it, as from a user's checkout.
 *
 * `LocalWorkspace` here is only a driver of that CLI (`pulumi up --stack …` in the directory), with no inline
 * program.
 */
import { ConfigMap, LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { ROOT } from "./root";
import { LocalCluster } from "./localCluster";

export interface MeshWorkspaceOptions {
    /** Holds project/ (the scratch project), state/ (the file backend) and home/ (PULUMI_HOME). */
    dir: string;
    /** The tools directory (pulumi, the language host and the provider plugins). */
    toolsBin: string;
    stackName: string;
    passphrase: string;
    /** More environment for the engine and the providers it starts (e.g. PKS_SIM_STATE). */
    env?: Record<string, string>;
    /**
     * A program of its own for the scratch project instead of the project's (index.ts source text); used to
     * show what the project's settings refuse.
     */
    programSource?: string;
}

const LINKED = ["components", "config", "programs", "local", "tools", "test", "node_modules", "package.json", "tsconfig.json"];

/** The scratch project directory of a workspace. */
export function projectDir(options: Pick<MeshWorkspaceOptions, "dir">): string {
    return path.join(options.dir, "project");
}

/** The environment every `pulumi` command of the workspace runs with. */
export function workspaceEnv(options: MeshWorkspaceOptions): Record<string, string> {
    return {
        PATH: `${options.toolsBin}${path.delimiter}${process.env.PATH ?? ""}`,
        PULUMI_HOME: path.join(options.dir, "home"),
        PULUMI_BACKEND_URL: `file://${path.join(options.dir, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: options.passphrase,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        ...options.env,
    };
}

/**
 * Writes the scratch stack file: the committed Pulumi.<stack>.yaml's configuration, keeping what Pulumi stored in
 * the scratch copy before (salt, secrets) so that a later run continues the same stack.
 */
function copyStackFile(project: string, stackName: string): void {
    const committed = path.join(ROOT, `Pulumi.${stackName}.yaml`);
    const scratch = path.join(project, `Pulumi.${stackName}.yaml`);
    if (!fs.existsSync(committed)) {
        return;
    }
    const previous = fs.existsSync(scratch) ? (YAML.parse(fs.readFileSync(scratch, "utf8")) as Record<string, unknown> | null) ?? {} : {};
    const doc = YAML.parse(fs.readFileSync(committed, "utf8")) as Record<string, unknown>;
    const previousConfig = (previous.config ?? {}) as Record<string, unknown>;
    const secrets = Object.fromEntries(Object.entries(previousConfig).filter(([, v]) => typeof v === "object" && v !== null && "secure" in v));
    const merged = { ...previous, ...doc, config: { ...(doc.config as Record<string, unknown>), ...secrets } };
    fs.writeFileSync(scratch, YAML.stringify(merged));
}

/** Creates or selects the stack in the scratch project. */
export async function meshStack(options: MeshWorkspaceOptions): Promise<Stack> {
    const project = projectDir(options);
    fs.mkdirSync(project, { recursive: true });
    for (const name of LINKED) {
        const link = path.join(project, name);
        if (!fs.existsSync(link)) {
            fs.symlinkSync(path.join(ROOT, name), link);
        }
    }
    fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
    if (options.programSource !== undefined) {
        fs.writeFileSync(path.join(project, "index.ts"), options.programSource);
    } else {
        if (!fs.existsSync(path.join(project, "index.ts"))) {
            fs.symlinkSync(path.join(ROOT, "index.ts"), path.join(project, "index.ts"));
        }
        copyStackFile(project, options.stackName);
    }
    fs.mkdirSync(path.join(options.dir, "state"), { recursive: true });
    const pulumiCommand = await PulumiCommand.get({ root: path.dirname(options.toolsBin) });
    return LocalWorkspace.createOrSelectStack({ stackName: options.stackName, workDir: project }, {
        workDir: project,
        pulumiCommand,
        envVars: workspaceEnv(options),
    });
}

/** The pinned tool versions (tools/versions.env), e.g. ISTIO_VERSION. */
export function toolVersions(): Record<string, string> {
    const text = fs.readFileSync(path.join(ROOT, "tools", "versions.env"), "utf8");
    return Object.fromEntries([...text.matchAll(/^([A-Z0-9_]+)=([^\n"]*)$/gm)].map((m) => [m[1], m[2]]));
}

/** Fails with what to run when a tool the suite needs is missing. */
export function requireTools(bin: string, tools: string[]): void {
    for (const tool of tools) {
        if (!fs.existsSync(path.join(bin, tool))) {
            throw new Error(`${tool} is missing in ${bin}: run \`npm run e2e:tools\` first`);
        }
    }
}

/** The tools directory that tools/tools.sh fills (the same path it prints). */
export function toolsBin(): string {
    return execFileSync(path.join(ROOT, "tools", "tools.sh"), ["--print-bin"], { encoding: "utf8" }).trim();
}

/**
 * The configuration that installs an Istio release from the tool cache's charts, through the local-chart path
 * (as at an air-gapped site): `istioChartRepository` and the `istioVersion` those charts are (the program
 * refuses a local chart directory of another release). Default: the release the suites install, ISTIO_VERSION.
 */
export function localIstio(bin: string, version = toolVersions().ISTIO_VERSION): ConfigMap {
    return {
        "pks-istio-mesh:istioChartRepository": { value: path.join(bin, `istio-charts-${version}`) },
        "pks-istio-mesh:istioVersion": { value: version },
    };
}

/**
 * What a run against a LocalCluster sets on top of the committed `local` stack file: the simulator's password
 * as a secret, Istio 1.31's charts (ISTIO_VERSION, the 1.31.0-rc.0 snapshot's) from the tool cache through the
 * local-chart path, and no product page check when the harness cannot answer for the page.
 */
export function localStackConfig(password: string, cluster: LocalCluster, bin: string, extra: ConfigMap = {}): ConfigMap {
    return {
        "pks-istio-mesh:pksPassword": { value: password, secret: true },
        ...localIstio(bin),
        ...(cluster.servesProductPage ? {} : { "pks-istio-mesh:verifyProductPage": { value: "false" } }),
        ...extra,
    };
}
