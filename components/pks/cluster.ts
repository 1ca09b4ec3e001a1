import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { PKSCTL_INTERPRETER, PksConnectionArgs, PksOwnershipArgs, PksWaitArgs, claimOf, ownershipEnvironment, pksctlEnvironment } from "./connection";
import { ClaimDocument, ClusterSpec, ClusterStatusDocument, ClusterSummary, CredentialsDocument, PKSCTL_ENV } from "../../programs/pksctl/contract";
import { parseReport, reportEvents } from "./report";

export interface PksClusterArgs extends PksWaitArgs, PksOwnershipArgs {
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
     * cluster is created after the profile and deleted before it. Changes are applied in place (PKS 1.4+); a
     * profile is never detached (TKGI documents no way to).
     */
    networkProfileName?: pulumi.Input<string>;
    /**
     * The tile's Pods IP Block ID: attaching a profile with `pod_ip_block_ids` to a cluster that has none needs it
     * listed there (pksctl refuses the attach otherwise, before any call).
     */
    tilePodIpBlockId?: string;
    /** Cluster tags (`--tags key:value,…`; vSphere and Azure only). BOSH's reserved names are refused. */
    tags?: Record<string, string>;
    /**
     * Tag the cluster with the stack's ownership marker (`pks-istio-mesh-owner:<marker>`) at create, and expect it
     * on a cluster found under this name. Turn off where the platform takes no tags (AWS, GCP). Default true.
     */
    ownerTag?: boolean;
    /**
     * When the cluster lags the control plane's TKGI version, run `upgrade-cluster` (waited on like a create)
     * before any update. Checked on every preview and update with a read-only `cluster-status`. Default false.
     */
    upgrade?: boolean;
    /** How long an upgrade may take, in minutes. Default 120. */
    upgradeTimeoutMinutes?: number;
}

/**
 * A PKS Kubernetes cluster (`pks create-cluster NAME …`), waited on until PKS reports `succeeded`. The resource
 * name is the cluster's name in PKS.
 *
 * - Before its first create the stack claims the name (a child `<name>-claim`: a random marker, and whether PKS
 *   already had such a cluster); create sends the marker as the ownership tag. Create adopts an existing cluster
 *   with the same settings only if it is the stack's own (an interrupted `pulumi up` resumes waiting) or
 *   `adoptExisting` says so; a failed create ends in one error naming the BOSH deployment to remove.
 * - Worker count, network profile and tags are updated in place (`update-cluster … --non-interactive --wait`);
 *   a new plan or external hostname replaces the cluster (delete first, since the name stays the same).
 * - Update, delete and `get-credentials` act only on the cluster whose uuid the stack recorded.
 * - Delete runs `delete-cluster --non-interactive` and waits until PKS no longer lists the cluster.
 *
 * Credentials are fetched with `get-credentials` on every preview and update, so a rotated token never leaves
 * the stack with a stale kubeconfig; `uuid` is stable and is what a Kubernetes provider should use as
 * `clusterIdentifier`.
 *
 * What pksctl did that matters after the run (adoptions, re-logins, retries, why a wait ended, a version lag) is
 * reported with `pulumi.log` on this component and kept in `events`.
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
    /** The cluster's TKGI version, when PKS says (`""` otherwise). */
    public readonly tkgiVersion: pulumi.Output<string>;
    /** A kubeconfig for the cluster from `get-credentials` (secret). */
    public readonly kubeconfig: pulumi.Output<string>;
    /** What pksctl's last create or update of the cluster, and this deployment's `get-credentials`, reported. */
    public readonly events: pulumi.Output<string[]>;

    constructor(name: string, args: PksClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:pks:PksCluster", name, {}, opts);
        const constructedAt = Date.now();
        const connection = pksctlEnvironment(args.connection, args);
        // What the reads that need only the name get (and the claim, which must not change with the settings).
        const named = { ...connection, [PKSCTL_ENV.cluster]: JSON.stringify({ name, externalHostname: args.externalHostname, plan: args.plan }) };
        const ownerTag = args.ownerTag ?? true;

        // The stack's claim on the name, recorded before the first create and never run again.
        const claim = new command.local.Command(`${name}-claim`, {
            interpreter: PKSCTL_INTERPRETER,
            create: "claim-cluster",
            environment: named,
            logging: "stderr",
            addPreviousOutputInEnv: false,
        }, { parent: this, ignoreChanges: ["environment"] });
        const claimed = parseReport<ClaimDocument>(claim.stdout);

        // With clusterUpgrade: is there an upgrade to run? (read-only, on every preview and update)
        const status = args.upgrade ? parseReport<ClusterStatusDocument>(command.local.runOutput({
            interpreter: PKSCTL_INTERPRETER,
            command: "cluster-status",
            environment: named,
            logging: "stderr",
            addPreviousOutputInEnv: false,
        }, { parent: this }).stdout) : undefined;

        const spec: pulumi.Output<ClusterSpec> = pulumi.all([args.networkProfileName, status?.apply((s) => s.upgradeTo)]).apply(([networkProfile, upgradeTo]) => ({
            name,
            externalHostname: args.externalHostname,
            plan: args.plan,
            ...(args.numNodes === undefined ? {} : { numNodes: args.numNodes }),
            ...(networkProfile === undefined ? {} : { networkProfile }),
            ...(args.tags === undefined ? {} : { tags: args.tags }),
            ...(upgradeTo === undefined ? {} : { upgradeTo }),
            ...(args.tilePodIpBlockId === undefined ? {} : { tilePodIpBlockId: args.tilePodIpBlockId }),
        }));
        const environment = {
            ...connection,
            [PKSCTL_ENV.cluster]: spec.apply((s) => JSON.stringify(s)),
            [PKSCTL_ENV.ownership]: claimed.apply((c) => ownershipEnvironment(args, { claim: claimOf(c), tag: ownerTag })),
            ...(args.upgrade ? { [PKSCTL_ENV.upgradeTimeoutSeconds]: String((args.upgradeTimeoutMinutes ?? 120) * 60) } : {}),
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
            // Update and delete read the uuid the stack recorded from the previous run's document.
            addPreviousOutputInEnv: true,
        }, { parent: this, deleteBeforeReplace: true });

        const summary = parseReport<ClusterSummary>(cluster.stdout);
        this.clusterName = summary.apply((s) => s.name);
        this.uuid = summary.apply((s) => s.uuid);
        this.masterHost = summary.apply((s) => s.masterHost);
        this.masterPort = summary.apply((s) => s.masterPort);
        this.masterIps = summary.apply((s) => s.masterIps);
        this.workerNodes = summary.apply((s) => s.workerNodes);
        this.tkgiVersion = summary.apply((s) => s.tkgiVersion ?? "");

        // Read-only, run on every preview and update once the cluster exists (unknown until then), for the
        // cluster whose uuid the stack recorded.
        const credentials = command.local.runOutput({
            interpreter: PKSCTL_INTERPRETER,
            command: "get-credentials",
            environment: pulumi.all([pulumi.output(named), this.uuid]).apply(([env, uuid]) => ({
                ...env, [PKSCTL_ENV.ownership]: ownershipEnvironment(args, { uuid, tag: ownerTag }),
            })),
            logging: "stderr",
            addPreviousOutputInEnv: false,
        }, { parent: this, dependsOn: [cluster] });
        const fetched = parseReport<CredentialsDocument>(credentials.stdout);
        this.kubeconfig = pulumi.secret(fetched.apply((c) => c.kubeconfig));
        const reports = [reportEvents(claimed, this, constructedAt), ...(status ? [reportEvents(status, this, constructedAt)] : []),
            reportEvents(summary, this, constructedAt), reportEvents(fetched, this, constructedAt)];
        this.events = pulumi.all(reports).apply((lists) => lists.flat());

        this.registerOutputs({
            clusterName: this.clusterName,
            uuid: this.uuid,
            masterHost: this.masterHost,
            masterPort: this.masterPort,
            masterIps: this.masterIps,
            workerNodes: this.workerNodes,
            tkgiVersion: this.tkgiVersion,
            kubeconfig: this.kubeconfig,
            events: this.events,
        });
    }
}
