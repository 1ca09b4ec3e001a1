/**
 * The program's configuration. `loadConfig` reads the stack's configuration once, before any resource is
 * registered, and either returns a typed `MeshConfig` or throws one error that lists every problem, naming the
 * key, the bad value and what is allowed. The keys and their own rules are in schema.ts, the rules between keys
 * in rules.ts.
 */
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { compareIstioVersions } from "../components/istio/releases";
import { NetworkProfileParameters } from "../programs/pksctl/contract";
import { TelemetryAddonName } from "../components/telemetry/manifests";
import { ControlPlaneRevision, configWarnings, revisionsOf } from "./istio";
import { ModeConfig, modeConfig } from "./modes";
import { insecureKubeconfig, insecureKubeconfigRefusal, insecureKubeconfigWarning, kubeconfigServer } from "./kubeconfig";
import { Problem, crossChecks, suggest } from "./rules";
import { ConfigError, ConfigValues, PROJECT, SECRET_KEYS, configSchema } from "./schema";

export { ConfigError, PROJECT, configSchema } from "./schema";
export { verifiedKubeconfig } from "./kubeconfig";

/** Login and behaviour of the PKS CLI. */
export interface PksConnectionConfig {
    cli: string;
    apiUrl: string;
    username?: string;
    password?: pulumi.Output<string>;
    clientName?: string;
    clientSecret?: pulumi.Output<string>;
    skipTlsValidation: boolean;
    caCert?: string;
}

export interface PksClusterConfig {
    source: "pks";
    connection: PksConnectionConfig;
    timeoutMinutes: number;
    pollSeconds: number;
    /** Adopt (and later delete) a profile or cluster of the configured name that the stack did not create. */
    adoptExisting: boolean;
    networkProfile?: { name: string; description: string; parameters: NetworkProfileParameters; tilePodIpBlockId?: string };
    cluster: {
        name: string;
        externalHostname: string;
        plan: string;
        numNodes?: number;
        tags?: Record<string, string>;
        protect: boolean;
        /** Tag the cluster with the stack's ownership marker (the platform takes tags). */
        ownerTag: boolean;
        /** Run upgrade-cluster when the cluster lags the control plane's TKGI version, within this many minutes. */
        upgrade: boolean;
        upgradeTimeoutMinutes: number;
    };
}

export interface ExistingClusterConfig {
    source: "existing";
    kubeconfig: pulumi.Output<string>;
    /** The API server URL of the kubeconfig's current context: a stable identity for the cluster. */
    server: string;
    /** Where the kubeconfig came from, for messages. */
    origin: string;
}

export interface MeshConfig {
    cluster: PksClusterConfig | ExistingClusterConfig;
    istio: {
        /** The newest release among the control planes: the base chart's (CRDs) and the CNI agent's. */
        version: string;
        /** Where that release's charts come from. */
        chartRepository: string;
        /** The registry of Istio's and Bookinfo's images; unset: Istio's (`docker.io/istio`). */
        imageHub?: string;
        /** The earlier minor whose behaviour every newer chart keeps (`compatibilityVersion`), e.g. `1.30`. */
        compatibilityVersion?: string;
        /** The control planes, oldest listed first; a single unnamed one is the default revision. */
        revisions: ControlPlaneRevisionConfig[];
        /** Revision tags: tag → revision name. */
        tags: Record<string, string>;
        /** The revision behind the default validation webhook (and the `default` tag); unset: the unnamed one. */
        defaultRevision?: string;
        /** The revision or tag the ingress gateway selects; unset: the default revision. */
        gatewayRevision?: string;
        /** Install the Istio CNI node agent, so injected pods need no privileged init container. */
        cni: boolean;
        /** The kubelets' CNI directories, when not the chart's. */
        cniBinDir?: string;
        cniConfDir?: string;
        istiodReplicas: number;
        istiodAutoscaleMax: number;
        istiodResources?: { requests?: { cpu?: string; memory?: string }; limits?: { cpu?: string; memory?: string } };
        gatewayServiceType: "LoadBalancer" | "NodePort" | "ClusterIP";
        mtlsMode: "STRICT" | "PERMISSIVE";
    };
    bookinfo: {
        namespace: string;
        createNamespace: boolean;
        injectionMode: "namespace" | "pod";
        destinationRuleMtls: boolean;
        /** The revision or tag Bookinfo selects; unset: the default revision. */
        revision?: string;
        /** Pod Security Admission level enforced on Bookinfo's namespace. */
        podSecurity?: "privileged" | "baseline" | "restricted";
        /** The hosts Bookinfo's Gateway and VirtualService accept (`*`: any). */
        hosts: string[];
    };
    /** Namespaces the program labels for injection: namespace → revision or tag. */
    meshNamespaces: Record<string, string>;
    /** The ingress API and the data plane (docs/ingress-and-data-plane.md). */
    modes: ModeConfig;
    verify: { enabled: boolean; timeoutSeconds: number };
    /** Who may call whom (AuthorizationPolicies). */
    authorization: {
        /** Default-deny for Bookinfo's namespace plus ALLOW policies for exactly the calls Bookinfo makes. */
        bookinfo: boolean;
        /** An allow-nothing policy in the root namespace: every workload of the mesh denies what no policy allows. */
        meshDefaultDeny: boolean;
        /** The mesh's trust domain, the first part of every principal. */
        trustDomain: string;
    };
    /** Opt-in telemetry add-ons and Istio's Telemetry API settings. */
    telemetry: {
        prometheus: boolean;
        grafana: boolean;
        kiali: boolean;
        tracing: "none" | "jaeger";
        /** Percentage of requests traced (0-100); set only with a tracing backend. */
        tracingSampling?: number;
        accessLogging: boolean;
        /** Where the add-on manifests come from; unset: Istio's published samples for the Istio release. */
        addonsSource?: string;
        /** The user's sha256 pins of add-on manifests (add-on → digest), replacing the program's for the release. */
        addonsSha256: Partial<Record<TelemetryAddonName, string>>;
    };
    /** What the program may take over, trust and hand out (README, "Threat model"). */
    safety: {
        /**
         * Create over Kubernetes objects that already exist (the provider's `upsertExistingObjects`): they are
         * adopted, and deleted on destroy. Off: such a create fails, naming the object.
         */
        adoptExistingObjects: boolean;
        /** Accept a cluster kubeconfig that does not verify the API server (a warning on every run). */
        allowInsecureKubeconfig: boolean;
        /** Export the cluster's (cluster-admin) kubeconfig as the stack output `kubeconfig`, a secret. */
        exportKubeconfig: boolean;
    };
    /**
     * What every preview and update warns about (each as `<key>: <message>`): releases with a published security
     * bulletin, retired artifact hosts, settings that weaken a default. The program logs them; they do not stop it.
     */
    warnings: string[];
}

/** One control plane (istiod release). */
export type ControlPlaneRevisionConfig = ControlPlaneRevision;


/** Loads the stack's configuration; throws a `ConfigError` listing every problem. */
export function loadConfig(
    raw: Record<string, string> = pulumi.runtime.allConfig(),
    isSecret: (key: string) => boolean = configIsSecret,
    env: NodeJS.ProcessEnv = process.env,
): MeshConfig {
    const prefix = `${PROJECT}:`;
    const values: Record<string, string> = {};
    for (const [key, value] of Object.entries(raw)) {
        if (key.startsWith(prefix)) {
            values[key.slice(prefix.length)] = value;
        }
    }
    const problems: Problem[] = [];
    const warnings: string[] = [];
    const result = configSchema.safeParse(values);
    if (!result.success) {
        for (const issue of result.error.issues) {
            if (issue.code === "unrecognized_keys" && issue.path.length === 0) {
                problems.push(...issue.keys.map((k) => ({ key: k, message: `is not a configuration key of this program${suggest(k)}` })));
            } else {
                const [key, ...rest] = issue.path.map(String);
                const secretKey = (SECRET_KEYS as readonly string[]).includes(key);
                const where = rest.length > 0 ? ` (at ${rest.join(".")})` : "";
                problems.push({ key, message: `${secretKey ? issue.message.replace(/"[^"]*"/g, "[secret]") : issue.message}${where}` });
            }
        }
    }
    for (const key of SECRET_KEYS) {
        if (values[key] !== undefined && !isSecret(`${prefix}${key}`)) {
            problems.push({ key, message: `must be a secret: run \`pulumi config set --secret ${key}\` (the plain-text value was not used)` });
        }
    }
    if (result.success) {
        problems.push(...crossChecks(result.data, env));
    }
    let existing: ExistingClusterConfig | undefined;
    if (problems.length === 0 && result.success && result.data.clusterSource === "existing") {
        const fromConfig = result.data.kubeconfig;
        const origin = fromConfig !== undefined ? `${PROJECT}:kubeconfig` : `the file in KUBECONFIG (${env.KUBECONFIG})`;
        try {
            const text = fromConfig ?? fs.readFileSync(env.KUBECONFIG!, "utf8");
            existing = { source: "existing", kubeconfig: pulumi.secret(text), server: kubeconfigServer(text, origin), origin };
            const insecure = insecureKubeconfig(text, origin);
            if (insecure !== undefined && !result.data.allowInsecureKubeconfig) {
                problems.push({ key: "kubeconfig", message: insecureKubeconfigRefusal(insecure) });
            } else if (insecure !== undefined) {
                warnings.push(insecureKubeconfigWarning(insecure));
            }
        } catch (e) {
            problems.push({ key: "kubeconfig", message: (e as Error).message });
        }
    }
    if (problems.length > 0 || !result.success) {
        const lines = problems.map((p) => `  - ${prefix}${p.key}: ${p.message}`);
        throw new ConfigError(`invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${lines.join("\n")}`);
    }
    const v = result.data;
    const revisions = revisionsOf(v);
    const bookinfoRevision = v.bookinfoRevision ?? (revisions.length === 1 ? revisions[0].name : undefined);
    const resolve = (selector: string | undefined) => (selector === undefined ? undefined : v.istioRevisionTags?.[selector] ?? selector);
    return {
        cluster: existing ?? pksClusterConfig(v),
        istio: {
            ...newest(revisions),
            imageHub: v.imageHub,
            compatibilityVersion: v.istioCompatibilityVersion,
            revisions,
            tags: v.istioRevisionTags ?? {},
            defaultRevision: v.istioRevisionTags?.default ?? resolve(bookinfoRevision),
            gatewayRevision: v.gatewayRevision ?? bookinfoRevision,
            cni: v.istioCni,
            cniBinDir: v.istioCniBinDir,
            cniConfDir: v.istioCniConfDir,
            istiodReplicas: v.istiodReplicas,
            istiodAutoscaleMax: v.istiodAutoscaleMax,
            istiodResources: v.istiodResources,
            gatewayServiceType: v.ingressGatewayServiceType,
            mtlsMode: v.mtlsMode,
        },
        bookinfo: {
            namespace: v.bookinfoNamespace,
            createNamespace: v.bookinfoCreateNamespace,
            injectionMode: v.injectionMode,
            destinationRuleMtls: v.destinationRuleMtls,
            revision: bookinfoRevision,
            podSecurity: v.bookinfoPodSecurity,
            hosts: v.bookinfoHosts ?? ["*"],
        },
        meshNamespaces: v.meshNamespaces ?? {},
        modes: modeConfig(v),
        verify: { enabled: v.verifyProductPage, timeoutSeconds: v.verifyTimeoutSeconds },
        authorization: { bookinfo: v.bookinfoAuthorization, meshDefaultDeny: v.meshDefaultDeny, trustDomain: v.trustDomain },
        telemetry: {
            prometheus: v.telemetryPrometheus,
            grafana: v.telemetryGrafana,
            kiali: v.telemetryKiali,
            tracing: v.telemetryTracing,
            tracingSampling: v.telemetryTracingSampling,
            accessLogging: v.telemetryAccessLogging,
            addonsSource: v.telemetryAddonsSource,
            addonsSha256: v.telemetryAddonsSha256 ?? {},
        },
        safety: {
            adoptExistingObjects: v.adoptExistingObjects,
            allowInsecureKubeconfig: v.allowInsecureKubeconfig,
            exportKubeconfig: v.exportKubeconfig,
        },
        warnings: [
            ...configWarnings(v).map((w) => `${prefix}${w.key}: ${w.message}`),
            ...v.clusterSource === "pks" && v.pksSkipTlsValidation ? [`${PROJECT}:pksSkipTlsValidation is true: pksctl logs in with \`-k\`, ` +
                `so the PKS API's certificate is not verified and whoever answers for ${v.pksApiUrl} gets the PKS credentials; set pksCaCert instead`] : [],
            ...v.adoptExistingObjects ? [`${PROJECT}:adoptExistingObjects is true: Kubernetes objects that already exist are taken over ` +
                "by the stack and deleted by `pulumi destroy`; set it back to false once the objects you meant to adopt are in the stack"] : [],
            ...warnings,
        ],
    };
}

/** The newest release among the revisions, with its chart source (for the CRDs and the CNI agent). */
function newest(revisions: ControlPlaneRevisionConfig[]): { version: string; chartRepository: string } {
    const top = [...revisions].sort((a, b) => compareIstioVersions(b.version, a.version))[0];
    return { version: top.version, chartRepository: top.chartRepository };
}

function pksClusterConfig(v: ConfigValues): PksClusterConfig {
    return {
        source: "pks",
        connection: {
            cli: v.pksCli,
            apiUrl: v.pksApiUrl!,
            username: v.pksUsername,
            password: v.pksPassword === undefined ? undefined : pulumi.secret(v.pksPassword),
            clientName: v.pksClientName,
            clientSecret: v.pksClientSecret === undefined ? undefined : pulumi.secret(v.pksClientSecret),
            skipTlsValidation: v.pksSkipTlsValidation,
            caCert: v.pksCaCert,
        },
        timeoutMinutes: v.pksTimeoutMinutes,
        pollSeconds: v.pksPollSeconds,
        adoptExisting: v.pksAdoptExisting,
        networkProfile: v.networkProfileName === undefined ? undefined : {
            name: v.networkProfileName,
            description: v.networkProfileDescription,
            parameters: v.networkProfileParameters,
            tilePodIpBlockId: v.networkProfileTilePodIpBlockId,
        },
        cluster: {
            name: v.clusterName!,
            externalHostname: v.clusterExternalHostname!,
            plan: v.clusterPlan!,
            numNodes: v.clusterNumNodes,
            tags: v.clusterTags,
            protect: v.clusterProtect,
            ownerTag: v.clusterOwnerTag,
            upgrade: v.clusterUpgrade,
            upgradeTimeoutMinutes: v.clusterUpgradeTimeoutMinutes,
        },
    };
}

/**
 * Whether the engine passed `key` as a secret. The Node SDK records the secret keys the engine sends
 * (PULUMI_CONFIG_SECRET_KEYS) but exposes the check only internally; this reads that same record.
 */
function configIsSecret(key: string): boolean {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: (k: string) => boolean };
    if (typeof runtimeConfig.isConfigSecret !== "function") {
        throw new Error("this @pulumi/pulumi version does not expose isConfigSecret; pin @pulumi/pulumi as package.json does");
    }
    return runtimeConfig.isConfigSecret(key);
}
