/**
 * Unit-test harness: Pulumi mocks that answer like the real providers where the program reads their outputs,
 * and a recorder of every resource the program declares (type, name, inputs, options, dependencies).
 */
import * as pulumi from "@pulumi/pulumi";
import { PROJECT } from "../../config";
import { MeshInventory } from "../../programs/mesh/meshInventory";

/** A resource as the mock engine saw it. */
export interface Registered {
    type: string;
    name: string;
    /** Inputs with secrets revealed. */
    inputs: Record<string, unknown>;
    /** Inputs as the engine received them (secrets in envelopes; see `isSecretValue`). */
    rawInputs: Record<string, unknown>;
    /** The provider reference (`<provider urn>::<id>`), for custom resources. */
    provider?: string;
    custom: boolean;
    /** Set for reads (`Resource.get`). */
    id?: string;
}

/** A resource as the program constructed it, with the options the mocks do not expose. */
export interface Declared {
    type: string;
    name: string;
    resource: pulumi.Resource;
    props: pulumi.Inputs;
    /** The options as given (custom or component options; read the fields that apply). */
    opts: pulumi.CustomResourceOptions & pulumi.ComponentResourceOptions;
}

export const LB_ADDRESS = "203.0.113.10";
export const FAKE_KUBECONFIG = "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n" +
    "clusters: [{name: c, cluster: {server: 'https://mediumlb:8443', certificate-authority-data: Q0E=}}]\n" +
    "users: [{name: u, user: {token: mock-token-please-keep-secret}}]\n";

/** The marker of a secret value in serialized resource properties. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

/** Whether a serialized property value is a secret. */
export function isSecretValue(value: unknown): boolean {
    return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG] === SECRET_VALUE;
}

/** Serialized properties with every secret envelope replaced by its value. */
function reveal(value: unknown): unknown {
    if (isSecretValue(value)) {
        return reveal((value as { value: unknown }).value);
    }
    if (Array.isArray(value)) {
        return value.map(reveal);
    }
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reveal(v)]));
    }
    return value;
}

function env(inputs: Record<string, unknown>): Record<string, string> {
    return (inputs.environment ?? {}) as Record<string, string>;
}

/** Mocks answering like the command and Kubernetes providers do, recording every call. */
export class MeshMocks implements pulumi.runtime.Mocks {
    public readonly registered: Registered[] = [];
    public readonly invokes: pulumi.runtime.MockCallArgs[] = [];
    /** Every registration and invoke in the order the engine saw them (`resource <type>::<name>`, `invoke <token>`). */
    public readonly sequence: string[] = [];
    /** What a read LoadBalancer Service reports in `status.loadBalancer.ingress[0]` (NSX-T gives an IP). */
    public loadBalancerIngress: { ip?: string; hostname?: string } = { ip: LB_ADDRESS };
    /** What the mesh inventory script finds on the cluster (control planes, injected pods). */
    public inventory: MeshInventory = { revisions: [], tags: {}, pods: [] };
    /** What `pksctl cluster-status` finds (clusterUpgrade): the cluster, and an upgrade it may lag. */
    public clusterStatus: { exists: boolean; tkgiVersion?: string; upgradeTo?: string } = { exists: true };
    /** What PKS's get-credentials hands out. */
    public credentials: string = FAKE_KUBECONFIG;

    newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, unknown> } {
        const inputs = reveal(args.inputs) as Record<string, unknown>;
        this.sequence.push(`resource ${args.type}::${args.name}`);
        this.registered.push({ type: args.type, name: args.name, inputs, rawInputs: args.inputs, provider: args.provider, custom: args.custom ?? false, id: args.id || undefined });
        const state: Record<string, unknown> = { ...args.inputs };
        // Like the engine: in a preview, a Command has not run and its outputs are unknown.
        if (args.type === "command:local:Command" && !pulumi.runtime.isDryRun()) {
            state.stdout = commandStdout(inputs);
            state.stderr = "";
        }
        if (args.type === "kubernetes:helm.sh/v3:Release") {
            state.status = { name: inputs.name, namespace: inputs.namespace, status: "deployed", version: inputs.version };
        }
        if (args.type === "kubernetes:core/v1:Service" && args.id) {
            state.status = { loadBalancer: { ingress: [this.loadBalancerIngress] } };
        }
        if (args.type === "kubernetes:core/v1:ServiceAccount" && args.id) {
            // A read ServiceAccount (`<namespace>/<name>`), as the cluster reports it.
            const [namespace, name] = args.id.split("/");
            state.metadata = { namespace, name };
        }
        return { id: args.id || `${args.name}-id`, state };
    }

    call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
        this.invokes.push({ ...args, inputs: reveal(args.inputs) as Record<string, unknown> });
        this.sequence.push(`invoke ${args.token} ${String(args.inputs.command ?? "")}`);
        if (args.token === "command:local:run" && String(args.inputs.interpreter).includes("meshInventory")) {
            return { stdout: JSON.stringify(this.inventory), stderr: "" };
        }
        if (args.token === "command:local:run" && args.inputs.command === "cluster-status") {
            return { stdout: JSON.stringify({ ...this.clusterStatus, events: [], finishedAt: new Date().toISOString() }), stderr: "" };
        }
        if (args.token === "command:local:run") {
            // pksctl get-credentials prints the kubeconfig in a JSON document with the run's events.
            return { stdout: JSON.stringify({ kubeconfig: this.credentials, events: [], finishedAt: new Date().toISOString() }), stderr: "" };
        }
        return args.inputs;
    }

    reset(): void {
        this.registered.length = 0;
        this.invokes.length = 0;
        this.sequence.length = 0;
        this.loadBalancerIngress = { ip: LB_ADDRESS };
        this.inventory = { revisions: [], tags: {}, pods: [] };
        this.clusterStatus = { exists: true };
        this.credentials = FAKE_KUBECONFIG;
    }

    /** The registered resources of one type. */
    ofType(type: string): Registered[] {
        return this.registered.filter((r) => r.type === type);
    }

    /** The one registered resource of this type and name. */
    find(type: string, name: string): Registered {
        const found = this.registered.filter((r) => r.type === type && r.name === name);
        if (found.length !== 1) {
            throw new Error(`expected one ${type} named ${name}, found ${found.length} (have: ${this.registered.map((r) => `${r.type}/${r.name}`).join(", ")})`);
        }
        return found[0];
    }
}

/** What pksctl prints on success, derived from the Command's inputs like the real script derives it from PKS. */
function commandStdout(inputs: Record<string, unknown>): string {
    const e = env(inputs);
    if (inputs.create === "create-network-profile") {
        const doc = JSON.parse(e.PKSCTL_NETWORK_PROFILE) as { name: string; description: string; parameters: unknown };
        return JSON.stringify({ ...doc, uuid: `uuid-of-${doc.name}` });
    }
    if (inputs.create === "create-cluster") {
        const spec = JSON.parse(e.PKSCTL_CLUSTER) as { name: string; externalHostname: string; plan: string; numNodes?: number; networkProfile?: string };
        return JSON.stringify({
            name: spec.name, uuid: `uuid-of-${spec.name}`, plan: spec.plan, masterHost: spec.externalHostname, masterPort: 8443, masterIps: ["10.0.0.10"], workerNodes: spec.numNodes ?? 3,
            networkProfile: spec.networkProfile ?? "", lastAction: "CREATE", lastActionState: "succeeded",
        });
    }
    if (inputs.create === "claim-network-profile" || inputs.create === "claim-cluster") {
        // pksctl's claim on a name: a marker, and no object of that name in PKS.
        const { name } = JSON.parse(e.PKSCTL_NETWORK_PROFILE ?? e.PKSCTL_CLUSTER) as { name: string };
        return JSON.stringify({ name, marker: `marker-of-${name}` });
    }
    if (inputs.create === "remove") {
        return JSON.stringify({ namespace: e.NAMESPACE_LABELS_NAMESPACE, removed: {} });
    }
    if (inputs.create === "apply" && e.GATEWAY_API_VERSION !== undefined) {
        // The Gateway API installer on an empty cluster: every object of the release created.
        return JSON.stringify({ version: e.GATEWAY_API_VERSION, objects: e.GATEWAY_API_OBJECTS.split(",").map((key) => ({ kind: key.split(" ")[0], name: key.split(" ")[1], action: "create" })) });
    }
    if (inputs.create === "check") {
        return JSON.stringify({ url: e.PRODUCTPAGE_URL, status: 200, title: "Simple Bookstore App", attempts: 1, elapsedSeconds: 0 });
    }
    return "";
}

export const mocks = new MeshMocks();

/** Installs the mocks for `stack` (preview or update) with the given project configuration. */
export async function useMocks(config: Record<string, string> = {}, secretKeys: string[] = [], stack = "test", preview = false): Promise<void> {
    const full: Record<string, string> = {};
    for (const [k, v] of Object.entries(config)) {
        full[k.includes(":") ? k : `${PROJECT}:${k}`] = v;
    }
    pulumi.runtime.setAllConfig(full, secretKeys.map((k) => (k.includes(":") ? k : `${PROJECT}:${k}`)));
    await pulumi.runtime.setMocks(mocks, PROJECT, stack, preview);
    mocks.reset();
}

/** The value of an output (or input), once known. */
export function unwrap<T>(value: pulumi.Input<T>): Promise<pulumi.Unwrap<T>> {
    return new Promise((resolve) => pulumi.output(value).apply((v) => { resolve(v); return v; }));
}

/**
 * Records every resource constructed under components created with `recorder.opts()` (or, for a whole program,
 * via `recorder.transformation` registered on the stack), including the options the mocks cannot see.
 */
export class Recorder {
    public readonly declared: Declared[] = [];
    public readonly transformation: pulumi.ResourceTransformation = (args) => {
        this.declared.push({ type: args.type, name: args.name, resource: args.resource, props: args.props, opts: args.opts as Declared["opts"] });
        return undefined;
    };

    opts<T extends pulumi.ResourceOptions>(extra?: T): T & { transformations: pulumi.ResourceTransformation[] } {
        return { ...(extra ?? ({} as T)), transformations: [this.transformation] };
    }

    /** Resolves once every recorded resource is registered and its outputs are settled. */
    async settle(): Promise<void> {
        let seen = -1;
        while (seen !== this.declared.length) {
            seen = this.declared.length;
            await Promise.all(this.declared.map((d) => unwrap(d.resource.urn)));
            await new Promise((resolve) => setTimeout(resolve, 10));
        }
    }

    /** The one declared resource of this type and name. */
    find(type: string, name: string): Declared {
        const found = this.declared.filter((d) => d.type === type && d.name === name);
        if (found.length !== 1) {
            throw new Error(`expected one ${type} named ${name}, found ${found.length}`);
        }
        return found[0];
    }

    /** The resources named in the explicit `dependsOn` of the resource of this type and name. */
    explicitDependencies(type: string, name: string): pulumi.Resource[] {
        return dependsOnList(this.find(type, name));
    }
}

/** A declared resource's `dependsOn` option as a list (the program passes plain lists of resources). */
function dependsOnList(declared: Declared): pulumi.Resource[] {
    const deps = declared.opts.dependsOn;
    return (Array.isArray(deps) ? deps : deps === undefined ? [] : [deps]) as pulumi.Resource[];
}

/** The resources an output was computed from (the SDK tracks them to build the engine's dependency graph). */
async function resourcesOf(output: pulumi.Output<unknown>): Promise<pulumi.Resource[]> {
    // `allResources` is the SDK's own record of an output's sources; it is not part of the typed API.
    const tracked = output as unknown as { allResources?: () => Promise<Set<pulumi.Resource>> };
    return tracked.allResources ? [...await tracked.allResources()] : [];
}

async function collectDataDependencies(value: unknown, into: Set<pulumi.Resource>, seen: Set<unknown>): Promise<void> {
    if (value === null || typeof value !== "object" || seen.has(value)) {
        return;
    }
    seen.add(value);
    if (pulumi.Output.isInstance(value)) {
        (await resourcesOf(value as pulumi.Output<unknown>)).forEach((r) => into.add(r));
        return;
    }
    if (pulumi.Resource.isInstance(value)) {
        into.add(value);
        return;
    }
    for (const v of Object.values(value as Record<string, unknown>)) {
        await collectDataDependencies(v, into, seen);
    }
}

/**
 * What a declared resource depends on, as the engine will see it: its explicit `dependsOn` plus every resource
 * an input value was computed from. (Parent and provider links are not included.)
 */
export async function dependenciesOf(declared: Declared): Promise<Set<pulumi.Resource>> {
    const deps = new Set<pulumi.Resource>(dependsOnList(declared));
    await collectDataDependencies(declared.props, deps, new Set());
    return deps;
}

/** What a run of the whole program (index.ts) under the mocks produced. */
export interface ProgramRun {
    /** index.ts's exports (the stack outputs), or undefined when the program threw. */
    exports?: Record<string, unknown>;
    error?: Error;
    recorder: Recorder;
}

/**
 * Runs index.ts as the Pulumi language host would (inside a root stack resource) with the given configuration
 * under the mocks, recording every resource it declares; `inventory`: what the cluster runs, as the mesh
 * inventory script would find it.
 */
export async function runProgram(
    config: Record<string, string>, secretKeys: string[] = [], stack = "test", preview = false, prepare?: (m: MeshMocks) => void,
): Promise<ProgramRun> {
    await useMocks(config, secretKeys, stack, preview);
    prepare?.(mocks);
    const recorder = new Recorder();
    const index = require.resolve("../../index");
    delete require.cache[index];
    let programExports: Record<string, unknown> | undefined;
    let error: Error | undefined;
    await pulumi.runtime.runInPulumiStack(async () => {
        pulumi.runtime.registerStackTransformation(recorder.transformation);
        try {
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            programExports = require(index) as Record<string, unknown>;
        } catch (e) {
            error = e as Error;
        }
        return programExports ?? {};
    });
    await recorder.settle();
    return { exports: programExports, error, recorder };
}
