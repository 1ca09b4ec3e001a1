import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { PKSCTL_INTERPRETER, PksConnectionArgs, PksWaitArgs, pksctlEnvironment } from "./connection";
import { ClusterSpec, ClusterSummary, CredentialsDocument, PKSCTL_ENV } from "./contract";
import { parseReport, reportEvents } from "./report";

export interface PksClusterArgs extends PksWaitArgs {
    /** How to reach and log in to the PKS API. */
    connection: PksConnectionArgs;
    /** The Kubernetes API hostname or IP (`--external-hostname`); changing it replaces the cluster. */
    externalHostname: string;
    /** The PKS plan (`--plan`), e.g. `large`; changing it replaces the cluster. */
    plan: string;
    /** Worker nodes (`--num-nodes`); changes are applied in place with `update-cluster`. Unset: the plan's default. */
    numNodes?: number;
    /**
     * The network profile (`--network-profile`), usually a `PksNetworkProfile`'s `profileName` so that the
     * cluster is created after the profile and deleted before it. Changes are applied in place (PKS 1.4+).
     */
    networkProfileName?: pulumi.Input<string>;
    /** Cluster tags (`--tags key:value,…`). */
    tags?: Record<string, string>;
}

/**
 * A PKS Kubernetes cluster (`pks create-cluster NAME …`), waited on until PKS reports `succeeded`. The resource
 * name is the cluster's name in PKS.
 *
 * - Create adopts an existing cluster with the same settings (an interrupted `pulumi up` resumes waiting) and
 *   replaces the remains of a failed create; a cluster with other settings is an error naming the differences.
 * - Worker count and network profile are updated in place (`update-cluster … --non-interactive --wait`); a new
 *   plan or external hostname replaces the cluster (delete first, since the name stays the same).
 * - Delete runs `delete-cluster --non-interactive` and waits until PKS no longer knows the cluster.
 *
 * Credentials are fetched with `get-credentials` on every preview and update, so a rotated token never leaves
 * the stack with a stale kubeconfig; `uuid` is stable and is what a Kubernetes provider should use as
 * `clusterIdentifier`.
 *
 * What pksctl did that matters after the run (adoptions, re-logins, retries, why a wait ended) is reported with
 * `pulumi.log` on this component (warnings for adopting a failed cluster, retries and re-logins) and kept in
 * `events`.
 */
export class PksCluster extends pulumi.ComponentResource {
    /** The cluster's name in PKS. */
    public readonly clusterName: pulumi.Output<string>;
    /** The cluster's uuid (its BOSH deployment is `service-instance_<uuid>`). */
    public readonly uuid: pulumi.Output<string>;
    /** The Kubernetes API host (the external hostname). */
    public readonly masterHost: pulumi.Output<string>;
    /** The Kubernetes API port (8443 on PKS). */
    public readonly masterPort: pulumi.Output<number>;
    /** The master VMs' IPs. */
    public readonly masterIps: pulumi.Output<string[]>;
    /** The worker count PKS reports. */
    public readonly workerNodes: pulumi.Output<number>;
    /** A kubeconfig for the cluster from `get-credentials` (secret). */
    public readonly kubeconfig: pulumi.Output<string>;
    /** What pksctl's last create or update of the cluster, and this deployment's `get-credentials`, reported. */
    public readonly events: pulumi.Output<string[]>;

    constructor(name: string, args: PksClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:pks:PksCluster", name, {}, opts);
        const constructedAt = Date.now();

        const spec: pulumi.Output<ClusterSpec> = pulumi.output(args.networkProfileName).apply((networkProfile) => ({
            name,
            externalHostname: args.externalHostname,
            plan: args.plan,
            ...(args.numNodes === undefined ? {} : { numNodes: args.numNodes }),
            ...(networkProfile === undefined ? {} : { networkProfile }),
            ...(args.tags === undefined ? {} : { tags: args.tags }),
        }));
        const environment = {
            ...pksctlEnvironment(args.connection, args),
            [PKSCTL_ENV.cluster]: spec.apply((s) => JSON.stringify(s)),
        };
        const cluster = new command.local.Command(name, {
            interpreter: PKSCTL_INTERPRETER,
            create: "create-cluster",
            update: "update-cluster",
            delete: "delete-cluster",
            environment,
            // These cannot change in place: a change replaces the cluster.
            triggers: [args.plan, args.externalHostname],
            logging: "stderr",
            addPreviousOutputInEnv: false,
        }, { parent: this, deleteBeforeReplace: true });

        const summary = parseReport<ClusterSummary>(cluster.stdout);
        this.clusterName = summary.apply((s) => s.name);
        this.uuid = summary.apply((s) => s.uuid);
        this.masterHost = summary.apply((s) => s.masterHost);
        this.masterPort = summary.apply((s) => s.masterPort);
        this.masterIps = summary.apply((s) => s.masterIps);
        this.workerNodes = summary.apply((s) => s.workerNodes);

        // Read-only, run on every preview and update once the cluster exists (unknown until then).
        const credentials = command.local.runOutput({
            interpreter: PKSCTL_INTERPRETER,
            command: "get-credentials",
            environment: pulumi.all([environment, this.uuid]).apply(([env]) => env),
            logging: "stderr",
            addPreviousOutputInEnv: false,
        }, { parent: this, dependsOn: [cluster] });
        const fetched = parseReport<CredentialsDocument>(credentials.stdout);
        this.kubeconfig = pulumi.secret(fetched.apply((c) => c.kubeconfig));
        this.events = pulumi.all([reportEvents(summary, this, constructedAt), reportEvents(fetched, this, constructedAt)])
            .apply(([created, fetching]) => [...created, ...fetching]);

        this.registerOutputs({
            clusterName: this.clusterName,
            uuid: this.uuid,
            masterHost: this.masterHost,
            masterPort: this.masterPort,
            masterIps: this.masterIps,
            workerNodes: this.workerNodes,
            kubeconfig: this.kubeconfig,
            events: this.events,
        });
    }
}
