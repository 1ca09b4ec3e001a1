/**
 * The kubelet of the local cluster's istiod pods: the real istiod (`pilot-discovery`, built from the Istio
 * snapshot) runs as a process on this machine for every istiod pod that the scheduler places on the kwok node,
 * one per pod and so one per revision, and stops when its pod goes. kwok plays every other pod (see
 * localCluster.ts: its pod-ready stage skips pods labelled `app=istiod`), so an istiod pod is Ready only once its
 * process answers `/ready` — as a kubelet running the readiness probe would report it — and a Helm release that
 * waits for istiod really waits for istiod.
 *
 * Like a kubelet, it runs the container's image — the `pilot-discovery-<tag>` build in the tool directory for the
 * image's tag (an image without a build here stays not ready, as an image that cannot be pulled would) — with
 * the container's arguments and environment from the pod (resolving `fieldRef` and `resourceFieldRef`), and
 * with what differs out of cluster: every listener on a free loopback port (published to
 * the egress proxy as the pod's container ports), the admin kubeconfig instead of a service-account mount, and a
 * working directory of its own.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { imageTag } from "../programs/mesh/meshInventory";
import { Endpoints } from "./egressProxy";
import { freePort } from "./ports";

/** The label that marks the pods this kubelet runs. */
export const ISTIOD_POD_LABEL = { key: "app", value: "istiod" } as const;

interface EnvVar {
    name: string;
    value?: string;
    valueFrom?: { fieldRef?: { fieldPath: string }; resourceFieldRef?: { resource: string; divisor?: string } };
}

interface ContainerPort {
    containerPort: number;
    name?: string;
}

interface Container {
    name: string;
    image?: string;
    args?: string[];
    env?: EnvVar[];
    ports?: ContainerPort[];
    resources?: { limits?: Record<string, string> };
}

/** The fields of a pod this kubelet reads. */
export interface PodView {
    metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string };
    spec: { nodeName?: string; serviceAccountName?: string; containers: Container[] };
    status?: { podIP?: string };
}

/** What the kubelet needs from the cluster. */
export interface KubeletHost {
    toolsBin: string;
    /** Directory for the processes' working directories and logs. */
    dir: string;
    /** An admin kubeconfig file for istiod. */
    kubeconfigPath: string;
    log: (line: string) => void;
    /** An API request as a cluster administrator. */
    request: (method: string, urlPath: string, body?: unknown, contentType?: string) => Promise<{ status: number; body: string }>;
}

/** The istiod listeners: container port → the command-line flag that sets its address. */
const LISTENERS: ReadonlyArray<{ containerPort: number; flag: string }> = [
    { containerPort: 8080, flag: "--httpAddr" },
    { containerPort: 15010, flag: "--grpcAddr" },
    { containerPort: 15012, flag: "--secureGRPCAddr" },
    { containerPort: 15014, flag: "--monitoringAddr" },
    { containerPort: 15017, flag: "--httpsAddr" },
];
/** Flags of the pod's arguments that the kubelet sets itself. */
const OWN_FLAGS = new Set([...LISTENERS.map((l) => l.flag), "--kubeconfig"]);

/** One istiod pod and its process. */
interface RunningPod {
    pod: PodView;
    child?: ChildProcess;
    /** Container port → loopback port. */
    ports: Map<number, number>;
    ready: boolean;
    restarts: number;
    stopping: boolean;
    /** The environment its process was started with. */
    env?: NodeJS.ProcessEnv;
}

function matches(labels: Record<string, string> | undefined, selector: Record<string, string>): boolean {
    return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

export class IstiodKubelet implements Endpoints {
    private readonly pods = new Map<string, RunningPod>();
    private timer?: NodeJS.Timeout;
    private syncing = false;
    private suspended = false;
    private nextIp = 10;

    constructor(private readonly host: KubeletHost) {}

    /** Starts watching for istiod pods (a poll every half second). */
    start(): void {
        this.timer = setInterval(() => {
            if (!this.syncing) {
                this.syncing = true;
                this.sync().catch((e: Error) => this.host.log(`istiod kubelet: ${e.message}`)).finally(() => { this.syncing = false; });
            }
        }, 500);
    }

    /** The pods it runs now, as `<namespace>/<name>` with their revision, readiness and process environment. */
    running(): Array<{ pod: string; revision: string; image: string; ready: boolean; ports: Record<number, number>; env: Record<string, string | undefined> }> {
        return [...this.pods.values()].map((p) => ({
            pod: `${p.pod.metadata.namespace}/${p.pod.metadata.name}`,
            revision: p.pod.metadata.labels?.["istio.io/rev"] ?? "default",
            image: (p.pod.spec.containers.find((c) => c.name === "discovery") ?? p.pod.spec.containers[0]).image ?? "",
            ready: p.ready,
            ports: Object.fromEntries(p.ports),
            env: { ...p.env },
        }));
    }

    resolve(selector: Record<string, string>, containerPort: number | string): number | undefined {
        for (const p of this.pods.values()) {
            if (!p.ready || !matches(p.pod.metadata.labels, selector)) {
                continue;
            }
            const ports = p.pod.spec.containers.flatMap((c) => c.ports ?? []);
            const port = typeof containerPort === "number" ? containerPort : ports.find((cp) => cp.name === containerPort)?.containerPort;
            if (port !== undefined && p.ports.has(port)) {
                return p.ports.get(port);
            }
        }
        return undefined;
    }

    private async sync(): Promise<void> {
        const res = await this.host.request("GET", `/api/v1/pods?labelSelector=${ISTIOD_POD_LABEL.key}%3D${ISTIOD_POD_LABEL.value}`);
        if (res.status !== 200) {
            return;
        }
        const pods = (JSON.parse(res.body) as { items: PodView[] }).items;
        const live = new Set<string>();
        for (const pod of pods) {
            if (!pod.spec.nodeName || pod.metadata.deletionTimestamp) {
                continue;
            }
            live.add(pod.metadata.uid);
            if (!this.pods.has(pod.metadata.uid) && !this.suspended) {
                const running: RunningPod = { pod, ports: new Map(), ready: false, restarts: 0, stopping: false };
                this.pods.set(pod.metadata.uid, running);
                await this.launch(running);
            }
        }
        for (const [uid, p] of this.pods) {
            if (!live.has(uid)) {
                this.pods.delete(uid);
                await this.kill(p);
                this.host.log(`istiod kubelet: stopped istiod for pod ${p.pod.metadata.namespace}/${p.pod.metadata.name}`);
            }
        }
        for (const p of this.pods.values()) {
            if (!p.ready && p.child && p.child.exitCode === null && await this.probe(p)) {
                p.ready = true;
                await this.reportStatus(p, true);
                this.host.log(`istiod kubelet: pod ${p.pod.metadata.namespace}/${p.pod.metadata.name} (revision ${p.pod.metadata.labels?.["istio.io/rev"] ?? "default"}) is ready`);
            }
        }
    }

    /** The readiness probe of the chart: GET /ready on the debug port. */
    private async probe(p: RunningPod): Promise<boolean> {
        try {
            const res = await fetch(`http://127.0.0.1:${p.ports.get(8080)}/ready`, { signal: AbortSignal.timeout(2000) });
            return res.status === 200;
        } catch {
            return false;
        }
    }

    /** The container's environment, resolved the way a kubelet resolves it. */
    private environment(pod: PodView, container: Container): NodeJS.ProcessEnv {
        const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/" };
        const fields: Record<string, string | undefined> = {
            "metadata.name": pod.metadata.name,
            "metadata.namespace": pod.metadata.namespace,
            "metadata.uid": pod.metadata.uid,
            "spec.nodeName": pod.spec.nodeName,
            "spec.serviceAccountName": pod.spec.serviceAccountName,
            "status.podIP": pod.status?.podIP,
        };
        for (const v of container.env ?? []) {
            if (v.value !== undefined) {
                env[v.name] = v.value;
            } else if (v.valueFrom?.fieldRef) {
                env[v.name] = fields[v.valueFrom.fieldRef.fieldPath] ?? "";
            } else if (v.valueFrom?.resourceFieldRef?.resource === "limits.cpu") {
                // No CPU limit: a kubelet hands out the node's capacity.
                const limit = container.resources?.limits?.cpu;
                env[v.name] = String(limit ? Math.max(1, Math.ceil(limit.endsWith("m") ? Number(limit.slice(0, -1)) / 1000 : Number(limit))) : 2);
            }
        }
        // Out of cluster: the admin kubeconfig instead of the service-account token and the remote-secret mount.
        env.KUBECONFIG = this.host.kubeconfigPath;
        return env;
    }

    /** The istiod build for an image: `pilot-discovery-<tag>` in the tool directory, if there is one. */
    private binaryFor(image: string | undefined): string | undefined {
        const binary = path.join(this.host.toolsBin, `pilot-discovery-${imageTag(image)}`);
        return fs.existsSync(binary) ? binary : undefined;
    }

    private async launch(p: RunningPod): Promise<void> {
        const { pod } = p;
        const container = pod.spec.containers.find((c) => c.name === "discovery") ?? pod.spec.containers[0];
        const binary = this.binaryFor(container.image);
        if (!binary) {
            this.host.log(`istiod kubelet: no istiod build for image ${container.image} of pod ${pod.metadata.namespace}/${pod.metadata.name}; it stays not ready (as ErrImagePull)`);
            await this.reportStatus(p, false);
            return;
        }
        for (const l of LISTENERS) {
            if (!p.ports.has(l.containerPort)) {
                p.ports.set(l.containerPort, await freePort());
            }
        }
        const args: string[] = [];
        const podArgs = container.args ?? ["discovery"];
        for (let i = 0; i < podArgs.length; i++) {
            const flag = podArgs[i].split("=")[0];
            if (OWN_FLAGS.has(flag)) {
                i += podArgs[i].includes("=") ? 0 : 1;
                continue;
            }
            args.push(podArgs[i]);
        }
        args.push("--kubeconfig", this.host.kubeconfigPath, ...LISTENERS.flatMap((l) => [l.flag, `127.0.0.1:${p.ports.get(l.containerPort)}`]));
        const workDir = path.join(this.host.dir, `${pod.metadata.namespace}_${pod.metadata.name}`);
        fs.mkdirSync(workDir, { recursive: true });
        const out = fs.openSync(path.join(workDir, "istiod.log"), "a");
        // In the harness's process group: a Ctrl-C of the run stops istiod with everything else.
        p.env = this.environment(pod, container);
        const child = spawn(binary, args, { cwd: workDir, env: p.env, stdio: ["ignore", out, out] });
        fs.closeSync(out);
        p.child = child;
        p.ready = false;
        this.host.log(`istiod kubelet: started ${path.basename(binary)} for pod ${pod.metadata.namespace}/${pod.metadata.name} (revision ${pod.metadata.labels?.["istio.io/rev"] ?? "default"}, webhooks on 127.0.0.1:${p.ports.get(15017)}, log ${path.join(workDir, "istiod.log")})`);
        await this.reportStatus(p, false);
        child.on("exit", (code, signal) => {
            if (p.stopping || !this.pods.has(pod.metadata.uid)) {
                return;
            }
            // restartPolicy: Always, with a kubelet's growing back-off.
            p.restarts += 1;
            p.ready = false;
            this.host.log(`istiod kubelet: istiod of pod ${pod.metadata.name} exited (${code ?? signal}); restart ${p.restarts}`);
            void this.reportStatus(p, false);
            setTimeout(() => {
                if (this.pods.has(pod.metadata.uid) && !p.stopping) {
                    void this.launch(p);
                }
            }, Math.min(10_000, 1000 * 2 ** p.restarts)).unref();
        });
    }

    /** Writes the pod's status as a kubelet would: running, and Ready as the probe says. */
    private async reportStatus(p: RunningPod, ready: boolean): Promise<void> {
        const now = new Date().toISOString();
        const condition = (type: string, status: boolean) => ({ type, status: status ? "True" : "False", lastTransitionTime: now });
        const podIP = p.pod.status?.podIP ?? `10.244.1.${this.nextIp++}`;
        p.pod.status = { podIP };
        const status = {
            phase: "Running",
            hostIP: "10.0.0.10",
            podIP,
            podIPs: [{ ip: podIP }],
            startTime: now,
            conditions: [condition("PodScheduled", true), condition("Initialized", true), condition("ContainersReady", ready), condition("Ready", ready)],
            containerStatuses: p.pod.spec.containers.map((c) => ({
                name: c.name, image: c.image ?? "", imageID: "", ready, restartCount: p.restarts, started: true,
                state: { running: { startedAt: now } },
            })),
        };
        await this.host.request("PATCH", `/api/v1/namespaces/${p.pod.metadata.namespace}/pods/${p.pod.metadata.name}/status`,
            { status }, "application/merge-patch+json");
    }

    private async kill(p: RunningPod): Promise<void> {
        p.stopping = true;
        const child = p.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) {
            return;
        }
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        const timeout = new Promise((resolve) => setTimeout(resolve, 10_000).unref());
        await Promise.race([exited, timeout]);
        if (child.exitCode === null && child.signalCode === null) {
            child.kill("SIGKILL");
        }
    }

    /**
     * Takes every istiod down, as a node outage would (processes stopped, pods reported not ready), until
     * `resume`: for showing what the cluster refuses while istiod does not answer.
     */
    async suspend(): Promise<void> {
        this.suspended = true;
        const all = [...this.pods.values()];
        this.pods.clear();
        await Promise.all(all.map(async (p) => {
            await this.kill(p);
            await this.reportStatus(p, false);
        }));
    }

    /** Brings istiod back after `suspend`; resolves once every istiod pod is ready again. */
    async resume(timeoutMs = 120_000): Promise<void> {
        this.suspended = false;
        const started = Date.now();
        while (this.pods.size === 0 || [...this.pods.values()].some((p) => !p.ready)) {
            if (Date.now() - started > timeoutMs) {
                throw new Error(`istiod did not come back within ${timeoutMs / 1000}s`);
            }
            await new Promise((resolve) => setTimeout(resolve, 250));
        }
    }

    /** Stops watching and stops every istiod process. */
    async stop(): Promise<void> {
        clearInterval(this.timer);
        const all = [...this.pods.values()];
        this.pods.clear();
        await Promise.all(all.map((p) => this.kill(p)));
    }
}
