/**
 * The contract between the PKS components and pksctl: the environment variables that carry pksctl's inputs and
 * the documents it prints on stdout. Kept free of dependencies, since both sides load it.
 */

/** Names of the environment variables that carry pksctl's inputs. */
export const PKSCTL_ENV = {
    cli: "PKSCTL_CLI",
    api: "PKSCTL_API",
    username: "PKSCTL_USERNAME",
    password: "PKSCTL_PASSWORD",
    clientName: "PKSCTL_CLIENT_NAME",
    clientSecret: "PKSCTL_CLIENT_SECRET",
    skipTlsValidation: "PKSCTL_SKIP_TLS_VALIDATION",
    caCert: "PKSCTL_CA_CERT",
    networkProfile: "PKSCTL_NETWORK_PROFILE",
    cluster: "PKSCTL_CLUSTER",
    /** How pksctl tells the stack's own profile or cluster from someone else's (an OwnershipInput, JSON). */
    ownership: "PKSCTL_OWNERSHIP",
    timeoutSeconds: "PKSCTL_TIMEOUT_SECONDS",
    /** How long an `upgrade-cluster` may take (clusterUpgradeTimeoutMinutes), on top of the step's own time. */
    upgradeTimeoutSeconds: "PKSCTL_UPGRADE_TIMEOUT_SECONDS",
    pollSeconds: "PKSCTL_POLL_SECONDS",
    /** Tuning (not set by the components): the longest a single CLI call may take; default 300. */
    callTimeoutSeconds: "PKSCTL_CALL_TIMEOUT_SECONDS",
    /** Tuning: how many times an idempotent call is tried in all; default 6. */
    retryAttempts: "PKSCTL_RETRY_ATTEMPTS",
    /** Tuning: the first delay before a retry, doubling up to 30 s; default 2. */
    retryDelaySeconds: "PKSCTL_RETRY_DELAY_SECONDS",
} as const;

/** The JSON document `pks create-network-profile FILE` takes (PKSCTL_NETWORK_PROFILE). */
export interface NetworkProfileDocument {
    name: string;
    description: string;
    parameters: Record<string, unknown>;
}

/** What the cluster should look like (PKSCTL_CLUSTER). */
export interface ClusterSpec {
    name: string;
    externalHostname: string;
    plan: string;
    /** Worker nodes; when unset PKS uses the plan's default and pksctl does not manage the count. */
    numNodes?: number;
    networkProfile?: string;
    /** The user's tags (`--tags`); the ownership tag is added by pksctl. */
    tags?: Record<string, string>;
    /**
     * The TKGI version to upgrade the cluster to with `upgrade-cluster` when it lags the control plane
     * (clusterUpgrade): what the `cluster-status` read found available. Unset: never upgrade.
     */
    upgradeTo?: string;
    /** The tile's Pods IP Block ID, which a profile attached to a cluster without one must list. */
    tilePodIpBlockId?: string;
}

/** The key of the ownership tag pksctl puts on the clusters it creates (`--tags …,pks-istio-mesh-owner:<marker>`). */
export const OWNER_TAG = "pks-istio-mesh-owner";

/**
 * What the stack recorded before it first created a profile or cluster of this name (`claim-*`, a resource of its
 * own, so that the record survives a `pulumi up` interrupted during the create).
 */
export interface ClaimDocument extends PksctlReport {
    name: string;
    /** A random value, sent as the ownership tag with create-cluster. */
    marker: string;
    /** The uuid of an object of this name that PKS already had when the stack claimed the name. */
    existingUuid?: string;
}

/** How pksctl tells the stack's own objects from others (PKSCTL_OWNERSHIP). */
export interface OwnershipInput {
    /** The stack's claim (absent for objects created before claims existed). */
    claim?: { marker: string; existingUuid?: string };
    /** The uuid the stack recorded for the object it created (get-credentials; update and delete read it from PULUMI_COMMAND_STDOUT). */
    uuid?: string;
    /** pksAdoptExisting: adopt (and later delete) an object this stack did not create. */
    adopt: boolean;
    /** clusterOwnerTag: create clusters with the ownership tag, and expect it (the platform takes tags). */
    tag: boolean;
}

/** What `pksctl cluster-status` prints: whether the cluster exists, and the upgrade the control plane offers it. */
export interface ClusterStatusDocument extends PksctlReport {
    exists: boolean;
    /** The cluster's TKGI version (`pks_version`), when PKS says. */
    tkgiVersion?: string;
    /** The version `upgrade-cluster` would bring it to, when it lags the control plane. */
    upgradeTo?: string;
}

/**
 * What every stdout document carries besides its payload: the run's notable events (adoptions, re-logins,
 * retries, why a wait ended, "already gone"), which must stay visible after the run, and when it finished.
 * An event that deserves a warning starts with `warning: `.
 */
export interface PksctlReport {
    events: string[];
    /** ISO time at which pksctl finished: tells a fresh document from one kept in the state since an earlier run. */
    finishedAt: string;
}

/** What pksctl prints for a cluster (create-cluster, update-cluster): a stable summary of the PKS object. */
export interface ClusterSummary extends PksctlReport {
    name: string;
    uuid: string;
    plan: string;
    /** The Kubernetes API host: the external hostname. */
    masterHost: string;
    masterPort: number;
    masterIps: string[];
    workerNodes: number;
    networkProfile: string;
    lastAction: string;
    lastActionState: string;
    /** The cluster's TKGI and Kubernetes versions, when PKS says ("" otherwise). */
    tkgiVersion: string;
    kubernetesVersion: string;
}

/** What pksctl prints for a network profile (create-network-profile). */
export interface NetworkProfileSummary extends PksctlReport {
    name: string;
    uuid: string;
    description: string;
    parameters: Record<string, unknown>;
}

/** What `pksctl get-credentials` prints: the only document that carries a secret, the kubeconfig. */
export interface CredentialsDocument extends PksctlReport {
    kubeconfig: string;
}

/** The prefix of an event that deserves a warning. */
export const WARNING = "warning: ";

/** NSX-T load balancer sizes a network profile can ask for. */
export type LoadBalancerSize = "small" | "medium" | "large";

/**
 * The `parameters` block of a PKS network profile, with PKS's own (snake_case) field names. Fields marked
 * "updatable" may differ between the old and the new profile when a cluster moves onto a new profile.
 */
export interface NetworkProfileParameters {
    /** Size of the cluster's NSX-T load balancer. Istio needs `medium` or `large` for its virtual servers. */
    lb_size?: LoadBalancerSize;
    /** NSX-T IP block ids for pod networks (updatable: add or reorder only). */
    pod_ip_block_ids?: string[];
    /** Prefix length of each namespace's pod subnet. */
    pod_subnet_prefix?: number;
    /** Whether pod IPs are routable outside the cluster. */
    pod_routable?: boolean;
    /** NSX-T floating IP pool ids (updatable: add or reorder only). */
    fip_pool_ids?: string[];
    /** Tenant Tier-0 router id. */
    t0_router_id?: string;
    /** NSGroup id for the master VMs. */
    master_vms_nsgroup_id?: string;
    /** NSX-T IP block ids for node networks. */
    node_ip_block_ids?: string[];
    /** Whether node IPs are routable. */
    node_routable?: boolean;
    /** Prefix length of node subnets. */
    node_subnet_prefix?: number;
    /** Up to three DNS servers for the nodes (updatable). */
    nodes_dns?: string[];
    /** `API` or `API_INGRESS`. */
    dns_lookup_mode?: "API" | "API_INGRESS";
    /** DNS prefix used with `API_INGRESS`. */
    ingress_prefix?: string;
    /** `true` for a shared Tier-1 topology, `false` for a dedicated Tier-1 per cluster. */
    single_tier_topology?: boolean;
    /** Infrastructure networks (CIDRs or IPs) for a shared Tier-1 in multi-T0 setups. */
    infrastructure_networks?: string[];
    /** NSX-T failover mode. */
    failover_mode?: "PREEMPTIVE" | "NON_PREEMPTIVE";
    /** NCP / NSX-T CNI settings (updatable), e.g. `{ type: "nsxt", parameters: { extensions: { ncp: {} } } }`. */
    cni_configurations?: { type: "nsxt"; parameters: Record<string, unknown> };
}
