/**
 * pks-istio-mesh: an Istio service mesh with mutual TLS and the Bookinfo sample on a VMware Enterprise PKS / TKGI
 * cluster (or any conformant cluster), as one Pulumi program. It reads as the procedure: each step is a function
 * below, numbered as in the README's table, and the steps run in order at the end of the file.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as mesh from "./components";
import { MeshConfig, loadConfig, verifiedKubeconfig } from "./config";

/** The namespace of the ingress gateway. */
const GATEWAY_NAMESPACE = "istio-ingress";

/** Where the mesh goes: the cluster's kubeconfig (a secret) and the identifier the Kubernetes provider keeps. */
interface TargetCluster {
    cluster?: mesh.PksCluster;
    kubeconfig: pulumi.Output<string>;
    identifier: pulumi.Input<string>;
}

/** Istio's CRDs and the CNI node agent. */
interface IstioFoundation {
    /** The newest release's charts, which the CRDs, the CNI agent and ztunnel come from. */
    charts: mesh.IstioChartSource;
    base: mesh.IstioBase;
    cni?: mesh.IstioCni;
}

/** Bookinfo's ingress: through Istio's gateway chart, or through the Gateway API. */
type BookinfoEntry = mesh.BookinfoIngress | mesh.BookinfoGatewayApiIngress;

/** The control planes by revision (undefined: the default revision) and the revision tags by name. */
interface ControlPlanes {
    byRevision: Map<string | undefined, mesh.IstioControlPlane>;
    tags: Record<string, mesh.IstioRevisionTag>;
}

/**
 * Whether ingress goes through Istio's gateway chart (in istio-ingress, `ingressApi: istio`); with the Gateway API,
 * istiod deploys Bookinfo's gateway in Bookinfo's namespace.
 */
function chartGateway(config: MeshConfig): boolean {
    return config.modes.ingressApi === "istio";
}

/** Whether the data plane is ambient (ztunnel and waypoints) rather than sidecars. */
function ambient(config: MeshConfig): boolean {
    return config.modes.dataPlane === "ambient";
}

/**
 * 1. The configuration: fails with every problem listed before anything is registered; warns (at every preview and
 * update) about releases with a published security bulletin, retired artifact hosts and settings that weaken a
 * default.
 */
function readConfiguration(): MeshConfig {
    const config = loadConfig();
    config.warnings.forEach((warning) => pulumi.log.warn(warning));
    return config;
}

/** 2-3. The cluster: a PKS network profile and cluster, or an existing cluster's kubeconfig. */
function targetCluster(config: MeshConfig): TargetCluster {
    if (config.cluster.source !== "pks") {
        return { kubeconfig: config.cluster.kubeconfig, identifier: config.cluster.server };
    }
    const pks = config.cluster;
    const profile = pks.networkProfile && new mesh.PksNetworkProfile(pks.networkProfile.name, {
        connection: pks.connection,
        description: pks.networkProfile.description,
        parameters: pks.networkProfile.parameters,
        adoptExisting: pks.adoptExisting,
    });
    const cluster = new mesh.PksCluster(pks.cluster.name, {
        connection: pks.connection,
        externalHostname: pks.cluster.externalHostname,
        plan: pks.cluster.plan,
        numNodes: pks.cluster.numNodes,
        tags: pks.cluster.tags,
        networkProfileName: profile?.profileName,
        tilePodIpBlockId: pks.networkProfile?.tilePodIpBlockId,
        timeoutMinutes: pks.timeoutMinutes,
        pollIntervalSeconds: pks.pollSeconds,
        adoptExisting: pks.adoptExisting,
        ownerTag: pks.cluster.ownerTag,
        upgrade: pks.cluster.upgrade,
        upgradeTimeoutMinutes: pks.cluster.upgradeTimeoutMinutes,
    }, { protect: pks.cluster.protect });
    // Refused (naming the setting) when it does not verify the API server, unless allowInsecureKubeconfig.
    const kubeconfig = cluster.kubeconfig.apply((text) => verifiedKubeconfig(text,
        `the kubeconfig of PKS cluster ${pks.cluster.name} (get-credentials)`, config.safety.allowInsecureKubeconfig));
    return { cluster, kubeconfig, identifier: cluster.uuid };
}

/**
 * 4a. Before anything changes on the cluster: no namespace the program creates may be someone else's already, and
 * no control plane that the configuration drops may still inject pods the program does not roll itself. Returns
 * the kubeconfig that everything writing to the cluster takes: available only once the check passed.
 */
function guardedKubeconfig(config: MeshConfig, target: TargetCluster): pulumi.Output<string> {
    const bookinfo = config.bookinfo;
    const revisionCheck = mesh.guardRevisionRemoval({
        kubeconfig: target.kubeconfig,
        keep: config.istio.revisions.map((r) => r.name ?? "default"),
        // The workloads the program rolls itself: the gateway's namespace, and Bookinfo's (only its pods, when the
        // namespace is someone else's).
        own: [
            ...chartGateway(config) ? [{ namespace: GATEWAY_NAMESPACE }] : [],
            bookinfo.createNamespace ? { namespace: bookinfo.namespace } : { namespace: bookinfo.namespace, apps: mesh.BOOKINFO_APPS },
        ],
        // The namespaces the program creates: refused, by name, when someone else's are already there.
        ownNamespaces: {
            names: ["istio-system", ...chartGateway(config) ? [GATEWAY_NAMESPACE] : [], ...bookinfo.createNamespace ? [bookinfo.namespace] : []],
            mark: mesh.stackMark(),
            adopt: config.safety.adoptExistingObjects,
        },
    });
    return pulumi.secret(pulumi.all([target.kubeconfig, revisionCheck]).apply(([text]) => text));
}

/**
 * 4b. The Kubernetes providers. The default provider is disabled (Pulumi.yaml), so nothing can land on whatever
 * cluster the caller's own kubeconfig points at. `provider` writes every object: a stable identifier keeps fresh
 * credentials from replacing every Kubernetes object, and a create never takes over an object that already exists
 * (it fails, naming it) unless the user asks for adoption; set here either way, so that
 * PULUMI_K8S_UPSERT_EXISTING_OBJECTS cannot turn it on. `readProvider` only reads back the gateway's Service and
 * service account; its identifier never changes, so replacing the cluster updates it instead of replacing it.
 * (Replacing the cluster deletes the objects on it before their provider, but a read resource is not one of them;
 * left pointing at a deleted provider, it fails the Pulumi CLI's snapshot check, 3.277, in preview and up.)
 */
function kubernetesProviders(config: MeshConfig, target: TargetCluster, kubeconfig: pulumi.Output<string>): { provider: k8s.Provider; readProvider: k8s.Provider } {
    return {
        provider: new k8s.Provider("mesh-cluster", {
            kubeconfig, clusterIdentifier: target.identifier, upsertExistingObjects: config.safety.adoptExistingObjects,
        }),
        readProvider: new k8s.Provider("mesh-cluster-reads", { kubeconfig, clusterIdentifier: "pks-istio-mesh-reads" }),
    };
}

/** 5. Istio's CRDs (the newest release's chart `base`) and, optionally (always in ambient mode), the CNI node agent. */
function istioFoundation(config: MeshConfig, provider: k8s.Provider): IstioFoundation {
    const istio = config.istio;
    const charts = { repository: istio.chartRepository, version: istio.version, compatibilityVersion: istio.compatibilityVersion };
    const base = new mesh.IstioBase("istio", { provider, charts });
    // Ambient mode needs the CNI node agent (in its ambient profile), whatever istioCni says.
    const cni = istio.cni || ambient(config) ? new mesh.IstioCni("istio", {
        provider, base, charts, imageHub: istio.imageHub, cniBinDir: istio.cniBinDir, cniConfDir: istio.cniConfDir, ambient: ambient(config),
    }) : undefined;
    return { charts, base, cni };
}

/** 6. One control plane (istiod) per revision, and the revision tags that point at them. */
function controlPlanes(config: MeshConfig, provider: k8s.Provider, foundation: IstioFoundation): ControlPlanes {
    const istio = config.istio;
    const tracing = config.telemetry.tracing;
    const meshConfig = mesh.meshConfigOf({
        trustDomain: config.authorization.trustDomain,
        tracingProvider: tracing === "none" ? undefined : mesh.tracingExtensionProvider(tracing),
    });
    const byRevision = new Map<string | undefined, mesh.IstioControlPlane>();
    for (const revision of istio.revisions) {
        // The first named revision keeps the identity the program gave its control plane before revisions had names.
        const aliases = revision === istio.revisions[0] && revision.name ? [{ name: "istio" }] : [];
        byRevision.set(revision.name, new mesh.IstioControlPlane(revision.name ? `istio-${revision.name}` : "istio", {
            provider,
            charts: { repository: revision.chartRepository, version: revision.version, compatibilityVersion: istio.compatibilityVersion },
            base: foundation.base,
            revision: revision.name,
            imageHub: istio.imageHub,
            replicas: istio.istiodReplicas,
            autoscaleMax: istio.istiodAutoscaleMax,
            resources: istio.istiodResources,
            cni: istio.cni,
            ambient: ambient(config),
            meshConfig,
        }, { aliases, dependsOn: foundation.cni ? [foundation.cni] : [] }));
    }
    const tags = Object.fromEntries(Object.entries(istio.tags).map(([tag, revision]) => [tag, new mesh.IstioRevisionTag(`istio-tag-${tag}`, {
        provider, tag, controlPlane: byRevision.get(revision)!,
    })]));
    return { byRevision, tags };
}

/** The control plane a revision or tag selects, and injection through it. */
function selected(config: MeshConfig, planes: ControlPlanes, selector: string | undefined): { controlPlane: mesh.IstioControlPlane; injection: mesh.SidecarInjection } {
    const tags = config.istio.tags;
    const controlPlane = planes.byRevision.get(selector !== undefined && tags[selector] ? tags[selector] : selector)!;
    return { controlPlane, injection: selector !== undefined && planes.tags[selector] ? planes.tags[selector].injection : controlPlane.injection };
}

/**
 * 6 (cont.). Ambient mode: ztunnel on every node, after istiod and the CNI agent (one control plane: the configuration
 * says so). The Gateway API's CRDs, for the Gateway API ingress and for waypoints: the release the newest control
 * plane expects, never downgrading what the cluster has (components/istio/gatewayApiCrds.ts).
 */
function ambientAndGatewayApi(config: MeshConfig, provider: k8s.Provider, foundation: IstioFoundation, planes: ControlPlanes, kubeconfig: pulumi.Output<string>) {
    const istio = config.istio;
    const modes = config.modes;
    const ztunnel = ambient(config) ? new mesh.IstioZtunnel("istio", {
        provider,
        charts: foundation.charts,
        base: foundation.base, controlPlane: planes.byRevision.get(undefined)!, cni: foundation.cni!, imageHub: istio.imageHub,
    }) : undefined;
    const gatewayApiCrds = modes.gatewayApi ? new mesh.GatewayApiCrds("gateway-api", {
        kubeconfig, version: modes.gatewayApi.version, source: modes.gatewayApi.source, adopt: config.safety.adoptExistingObjects,
    }) : undefined;
    return { ztunnel, gatewayApiCrds };
}

/**
 * 6 (cont.). The default validation webhook, which admits every Istio object the program writes: pointed at its
 * revision's istiod once that is ready (moving it to a new revision never leaves it calling an istiod not there yet).
 */
function defaultValidation(config: MeshConfig, provider: k8s.Provider, planes: ControlPlanes): mesh.IstioValidation {
    const validatorPlane = planes.byRevision.get(config.istio.defaultRevision)!;
    return new mesh.IstioDefaultValidator("istio", { provider, controlPlane: validatorPlane, tag: config.istio.tags.default ? "default" : undefined }).validation;
}

/** 7. Mesh-wide mutual TLS. */
function meshMtls(config: MeshConfig, provider: k8s.Provider, validation: mesh.IstioValidation): mesh.MeshMtls {
    return new mesh.MeshMtls("mesh", { provider, validation, mode: config.istio.mtlsMode });
}

/**
 * 8. The ingress gateway (with `ingressApi: istio`; with the Gateway API, istiod deploys it for Bookinfo's Gateway),
 * and injection for the namespaces of the user's own workloads.
 */
function ingressGateway(config: MeshConfig, provider: k8s.Provider, readProvider: k8s.Provider, planes: ControlPlanes, kubeconfig: pulumi.Output<string>) {
    const gatewayPlane = selected(config, planes, config.istio.gatewayRevision);
    const gateway = chartGateway(config) ? new mesh.IstioIngressGateway("istio", {
        provider,
        readProvider,
        charts: gatewayPlane.controlPlane.charts,
        injection: gatewayPlane.injection,
        namespace: GATEWAY_NAMESPACE,
        serviceType: config.istio.gatewayServiceType,
    }) : undefined;
    const meshNamespaces = Object.entries(config.meshNamespaces).map(([namespace, selector]) => new mesh.MeshNamespace(`mesh-${namespace}`, {
        provider, namespace, injection: selected(config, planes, selector).injection, kubeconfig,
    }));
    return { gateway, meshNamespaces };
}

/**
 * 9. Bookinfo with sidecars; in ambient mode its namespace is enrolled with ztunnel instead (and sends its
 * Services' traffic through the waypoint, if any).
 */
function bookinfoApp(config: MeshConfig, provider: k8s.Provider, planes: ControlPlanes, kubeconfig: pulumi.Output<string>, ztunnel: mesh.IstioZtunnel | undefined): mesh.BookinfoApp {
    const injection = ztunnel ? {
        ...ztunnel.enrollment,
        namespaceLabels: { ...ztunnel.enrollment.namespaceLabels, ...config.modes.waypoint ? mesh.WAYPOINT_NAMESPACE_LABELS : {} },
    } : selected(config, planes, config.bookinfo.revision).injection;
    return new mesh.BookinfoApp("bookinfo", {
        provider,
        injection,
        namespace: config.bookinfo.namespace,
        createNamespace: config.bookinfo.createNamespace,
        injectionMode: config.bookinfo.injectionMode,
        podSecurity: config.bookinfo.podSecurity,
        imageHub: config.istio.imageHub,
        kubeconfig,
    });
}

/**
 * 10. Bookinfo's Gateway and VirtualService, or (`ingressApi: gateway-api`) its Gateway API Gateway and HTTPRoute;
 * in ambient mode with `ambientWaypoint`, the waypoint that enforces its L7 rules.
 */
function bookinfoIngress(config: MeshConfig, provider: k8s.Provider, validation: mesh.IstioValidation, planes: ControlPlanes, gateway: mesh.IstioIngressGateway | undefined,
    app: mesh.BookinfoApp, dataPlane: { ztunnel?: mesh.IstioZtunnel; gatewayApiCrds?: mesh.GatewayApiCrds }) {
    // Where Bookinfo is reached: the chart gateway's load balancer, or the address in its Gateway's status.
    let ingress: BookinfoEntry;
    let address: pulumi.Output<string | undefined>;
    if (gateway) {
        ingress = new mesh.BookinfoIngress("bookinfo", { provider, validation, gateway, namespace: app.namespaceName, hosts: config.bookinfo.hosts });
        address = gateway.address;
    } else {
        const gatewayApiIngress = new mesh.BookinfoGatewayApiIngress("bookinfo", {
            provider,
            namespace: app.namespaceName,
            readyBefore: [dataPlane.gatewayApiCrds!.installation, selected(config, planes, config.istio.gatewayRevision).controlPlane.release],
            revision: config.istio.gatewayRevision,
            serviceType: config.istio.gatewayServiceType,
            hosts: config.bookinfo.hosts,
        });
        ingress = gatewayApiIngress;
        address = gatewayApiIngress.address;
    }
    const waypoint = config.modes.waypoint ? new mesh.BookinfoWaypoint("bookinfo", {
        provider, namespace: app.namespaceName, readyBefore: [dataPlane.gatewayApiCrds!.installation, ...dataPlane.ztunnel!.enrollment.readyBefore],
    }) : undefined;
    return { ingress, waypoint, address };
}

/** 11. The mTLS DestinationRules (not in ambient mode: ztunnel always speaks mutual TLS, HBONE). */
function destinationRules(config: MeshConfig, provider: k8s.Provider, validation: mesh.IstioValidation, app: mesh.BookinfoApp): mesh.BookinfoDestinationRules | undefined {
    return ambient(config) ? undefined : new mesh.BookinfoDestinationRules("bookinfo", { provider, validation, namespace: app.namespaceName, mtls: config.bookinfo.destinationRuleMtls });
}

/**
 * 12. Zero trust: Bookinfo denies by default and allows exactly the calls it makes, by identity; optionally the
 * whole mesh denies by default (after Bookinfo's exceptions exist, and before they go).
 */
function zeroTrust(config: MeshConfig, provider: k8s.Provider, readProvider: k8s.Provider, validation: mesh.IstioValidation, app: mesh.BookinfoApp,
    ingress: BookinfoEntry, waypoint: mesh.BookinfoWaypoint | undefined) {
    const authorization = config.authorization.bookinfo ? new mesh.BookinfoAuthorization("bookinfo", {
        provider,
        readProvider,
        validation,
        app,
        entry: ingress.entry,
        enforcement: ambient(config) ? { dataPlane: "ambient", waypoint } : { dataPlane: "sidecar" },
        trustDomain: config.authorization.trustDomain,
        allowAtGateway: config.authorization.meshDefaultDeny,
        // A namespace-wide deny only in a namespace of the program's own: in someone else's it would deny their workloads.
        namespaceDefaultDeny: config.bookinfo.createNamespace,
    }) : undefined;
    const meshDefaultDeny = config.authorization.meshDefaultDeny && authorization
        ? new mesh.MeshDefaultDeny("mesh", { provider, validation, after: [authorization] }) : undefined;
    return { authorization, meshDefaultDeny };
}

/**
 * 13. What istiod and the proxies run once the control planes are up and the workloads have rolled (read from the
 * cluster on every run, after them); then the check that the product page answers through the gateway, after
 * everything that decides whether it does.
 */
function verify(config: MeshConfig, kubeconfig: pulumi.Output<string>, planes: ControlPlanes, app: mesh.BookinfoApp, gateway: mesh.IstioIngressGateway | undefined,
    ingress: BookinfoEntry, before: pulumi.Resource[]) {
    const running = mesh.meshVersions({
        kubeconfig,
        namespaces: [app.namespaceName, ...gateway ? [gateway.namespace.metadata.name] : []],
    }, { dependsOn: [...planes.byRevision.values(), app, gateway ?? ingress] });
    const check = config.verify.enabled ? new mesh.ProductPageCheck("productpage", {
        url: ingress.gatewayUrl.apply((url) => {
            if (url === undefined) {
                throw new Error(gateway ? "the ingress gateway Service has no load-balancer address; see docs/troubleshooting.md, 'LoadBalancer pending'"
                    : "Bookinfo's Gateway reports no address in its status; see docs/troubleshooting.md, 'LoadBalancer pending'");
            }
            return url;
        }),
        host: ingress.host,
        timeoutSeconds: config.verify.timeoutSeconds,
    }, { dependsOn: [app, ingress, ...before] }) : undefined;
    return { running, check };
}

/**
 * 14. Telemetry, opt-in: Istio's add-ons (Prometheus, Grafana, Kiali, Jaeger) from where the user keeps them, and
 * the mesh's metrics, tracing and access logging through the Telemetry API.
 */
function telemetry(config: MeshConfig, provider: k8s.Provider, planes: ControlPlanes, validation: mesh.IstioValidation) {
    const settings = config.telemetry;
    const addons = mesh.telemetryAddonsOf(settings).map((addon) => new mesh.TelemetryAddon(`telemetry-${addon}`, {
        provider,
        controlPlane: planes.byRevision.get(config.istio.defaultRevision)!,
        addon,
        source: settings.addonsSource,
        sha256: settings.addonsSha256[addon],
        istioVersion: config.istio.version,
        imageHub: config.istio.imageHub,
    }));
    const meshTelemetry = settings.prometheus || settings.tracing !== "none" || settings.accessLogging
        ? new mesh.MeshTelemetry("telemetry", {
            provider,
            validation,
            metrics: settings.prometheus,
            tracing: settings.tracing === "none" ? undefined : { backend: settings.tracing, samplingPercentage: settings.tracingSampling },
            accessLogging: settings.accessLogging,
        }) : undefined;
    return { addons, meshTelemetry };
}

// The procedure.
const config = readConfiguration();                                                     // 1
const target = targetCluster(config);                                                   // 2-3
const kubeconfig = guardedKubeconfig(config, target);                                   // 4
const { provider, readProvider } = kubernetesProviders(config, target, kubeconfig);     // 4b
const foundation = istioFoundation(config, provider);                                    // 5
const planes = controlPlanes(config, provider, foundation);                             // 6
const dataPlane = ambientAndGatewayApi(config, provider, foundation, planes, kubeconfig); // 6
const validation = defaultValidation(config, provider, planes);
const mtls = meshMtls(config, provider, validation);                                    // 7
const { gateway, meshNamespaces } = ingressGateway(config, provider, readProvider, planes, kubeconfig); // 8
const app = bookinfoApp(config, provider, planes, kubeconfig, dataPlane.ztunnel);       // 9
const { ingress, waypoint, address } = bookinfoIngress(config, provider, validation, planes, gateway, app, dataPlane); // 10
const rules = destinationRules(config, provider, validation, app);                      // 11
const trust = zeroTrust(config, provider, readProvider, validation, app, ingress, waypoint); // 12
const verified = verify(config, kubeconfig, planes, app, gateway, ingress, [mtls,       // 13
    ...[rules, waypoint, trust.authorization, trust.meshDefaultDeny].filter((r): r is NonNullable<typeof r> => r !== undefined)]);
const observed = telemetry(config, provider, planes, validation);                       // 14

// The stack's outputs (README, "Stack outputs").
export const clusterInfo = target.cluster
    ? { name: target.cluster.clusterName, uuid: target.cluster.uuid, masterHost: target.cluster.masterHost, masterIps: target.cluster.masterIps, workerNodes: target.cluster.workerNodes }
    : { server: target.identifier };
/** The cluster's cluster-admin kubeconfig (a secret), only with exportKubeconfig: `pks get-credentials` gives it too. */
const kubeconfigOutput = config.safety.exportKubeconfig ? target.kubeconfig
    : "not exported (exportKubeconfig is false): `pks get-credentials` (or `tkgi get-credentials`) gives it to whoever may have it";
export const gatewayAddress = address;
export const productPageUrl = ingress.productPageUrl;
/** The ingress API and data plane in use, and what the Gateway API CRD installer did with each CRD. */
export const modesInUse = {
    ingressApi: config.modes.ingressApi,
    dataPlane: config.modes.dataPlane,
    waypoint: config.modes.waypoint,
    gatewayApi: dataPlane.gatewayApiCrds
        ? { version: dataPlane.gatewayApiCrds.version, source: dataPlane.gatewayApiCrds.source, objects: dataPlane.gatewayApiCrds.report.objects }
        : "not used",
};
export const verification = verified.check ? verified.check.result : "skipped (verifyProductPage is false)";
const meshState = {
    controlPlanes: verified.running.controlPlanes,
    tags: verified.running.tags,
    dataPlane: verified.running.dataPlane,
    meshNamespaces: meshNamespaces.map((ns) => ns.namespaceName),
};
/** What Bookinfo's AuthorizationPolicies allow (policy → callers, methods, paths, port). */
export const authorization = trust.authorization
    ? { allowed: trust.authorization.allowed, namespaceDefaultDeny: trust.authorization.namespaceDefaultDeny, meshDefaultDeny: trust.meshDefaultDeny !== undefined }
    : "off (bookinfoAuthorization is false)";
/** How to open each add-on's UI, and what the Telemetry API sets. */
const telemetryOutput = observed.meshTelemetry || observed.addons.length > 0 ? {
    ui: Object.fromEntries(observed.addons.map((a) => [a.addon, a.ui])),
    spec: observed.meshTelemetry?.spec,
} : "off (no telemetry add-on, tracing or access logging configured)";
export { kubeconfigOutput as kubeconfig, meshState as mesh, telemetryOutput as telemetry };
