/**
 * pks-istio-mesh: an Istio service mesh with mutual TLS and the Bookinfo sample on a VMware Enterprise PKS / TKGI
 * cluster (or any conformant cluster), as one Pulumi program. See README.md.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
    BOOKINFO_APPS, BookinfoApp, BookinfoDestinationRules, BookinfoGatewayApiIngress, BookinfoIngress, BookinfoWaypoint, GatewayApiCrds, IstioBase, IstioZtunnel,
    WAYPOINT_NAMESPACE_LABELS, IstioCni, IstioControlPlane,
    IstioDefaultValidator, IstioIngressGateway, IstioRevisionTag, MeshMtls, MeshNamespace, PksCluster, PksNetworkProfile, ProductPageCheck,
    SidecarInjection, guardRevisionRemoval, meshVersions, stackMark,
} from "./components";
import { loadConfig, verifiedKubeconfig } from "./components/config";
import { BookinfoAuthorization, MeshDefaultDeny, MeshTelemetry, TelemetryAddon, meshConfigOf, telemetryAddonsOf } from "./components";

// Fails with every configuration problem listed before anything is registered; warns (at every preview and
// update) about releases with a published security bulletin, retired artifact hosts and settings that weaken a
// default.
const config = loadConfig();
config.warnings.forEach((warning) => pulumi.log.warn(warning));

// 1-2. The cluster: a PKS network profile and cluster, or an existing cluster's kubeconfig.
let cluster: PksCluster | undefined;
let clusterKubeconfig: pulumi.Output<string>;
let clusterIdentifier: pulumi.Input<string>;
if (config.cluster.source === "pks") {
    const pks = config.cluster;
    const profile = pks.networkProfile && new PksNetworkProfile(pks.networkProfile.name, {
        connection: pks.connection,
        description: pks.networkProfile.description,
        parameters: pks.networkProfile.parameters,
        adoptExisting: pks.adoptExisting,
    });
    cluster = new PksCluster(pks.cluster.name, {
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
    clusterKubeconfig = cluster.kubeconfig.apply((text) => verifiedKubeconfig(text,
        `the kubeconfig of PKS cluster ${pks.cluster.name} (get-credentials)`, config.safety.allowInsecureKubeconfig));
    clusterIdentifier = cluster.uuid;
} else {
    clusterKubeconfig = config.cluster.kubeconfig;
    clusterIdentifier = config.cluster.server;
}

// Before anything changes on the cluster: no namespace the program creates may be someone else's already, and no
// control plane that the configuration drops may still inject pods the program does not roll itself (the
// Kubernetes provider waits for this check).
const istio = config.istio;
const modes = config.modes;
const ambient = modes.dataPlane === "ambient";
const gatewayNamespace = "istio-ingress";
// The istio/gateway chart (in istio-ingress) only with Istio's ingress API: with the Gateway API, istiod deploys
// Bookinfo's gateway in Bookinfo's namespace.
const chartGateway = modes.ingressApi === "istio";
const revisionCheck = guardRevisionRemoval({
    kubeconfig: clusterKubeconfig,
    keep: istio.revisions.map((r) => r.name ?? "default"),
    // The workloads the program rolls itself: the gateway's namespace, and Bookinfo's (only its pods, when the
    // namespace is someone else's).
    own: [
        ...chartGateway ? [{ namespace: gatewayNamespace }] : [],
        config.bookinfo.createNamespace ? { namespace: config.bookinfo.namespace } : { namespace: config.bookinfo.namespace, apps: BOOKINFO_APPS },
    ],
    // The namespaces the program creates: refused, by name, when someone else's are already there.
    ownNamespaces: {
        names: ["istio-system", ...chartGateway ? [gatewayNamespace] : [], ...config.bookinfo.createNamespace ? [config.bookinfo.namespace] : []],
        mark: stackMark(),
        adopt: config.safety.adoptExistingObjects,
    },
});
// Everything that writes to the cluster takes the kubeconfig only once the check passed.
const checkedKubeconfig = pulumi.secret(pulumi.all([clusterKubeconfig, revisionCheck]).apply(([text]) => text));

// The only Kubernetes provider: the default provider is disabled (Pulumi.yaml), so nothing can land on whatever
// cluster the caller's own kubeconfig points at. A stable identifier keeps fresh credentials from replacing
// every Kubernetes object. A create never takes over an object that already exists (it fails, naming it), unless
// the user asks for adoption; set here either way, so that PULUMI_K8S_UPSERT_EXISTING_OBJECTS cannot turn it on.
const provider = new k8s.Provider("mesh-cluster", {
    kubeconfig: checkedKubeconfig, clusterIdentifier, upsertExistingObjects: config.safety.adoptExistingObjects,
});

// 3. Istio: CRDs (the newest release's), the CNI agent, one control plane per revision, revision tags, mesh-wide
// mutual TLS, ingress gateway.
const newestCharts = { repository: istio.chartRepository, version: istio.version, compatibilityVersion: istio.compatibilityVersion };
const base = new IstioBase("istio", { provider, charts: newestCharts });
// Ambient mode needs the CNI node agent (in its ambient profile), whatever istioCni says.
const cni = istio.cni || ambient ? new IstioCni("istio", {
    provider, base, charts: newestCharts, imageHub: istio.imageHub,
    cniBinDir: istio.cniBinDir, cniConfDir: istio.cniConfDir, ambient,
}) : undefined;
const controlPlanes = new Map<string | undefined, IstioControlPlane>();
for (const revision of istio.revisions) {
    // The first named revision keeps the identity the program gave its control plane before revisions had names.
    const aliases = revision === istio.revisions[0] && revision.name ? [{ name: "istio" }] : [];
    controlPlanes.set(revision.name, new IstioControlPlane(revision.name ? `istio-${revision.name}` : "istio", {
        provider,
        charts: { repository: revision.chartRepository, version: revision.version, compatibilityVersion: istio.compatibilityVersion },
        base,
        revision: revision.name,
        imageHub: istio.imageHub,
        replicas: istio.istiodReplicas,
        autoscaleMax: istio.istiodAutoscaleMax,
        resources: istio.istiodResources,
        cni: istio.cni,
        ambient,
        meshConfig: meshConfigOf({ trustDomain: config.authorization.trustDomain, tracing: config.telemetry.tracing }),
    }, { aliases, dependsOn: cni ? [cni] : [] }));
}
// Ambient mode: ztunnel on every node, after istiod and the CNI agent (one control plane: the config says so).
const ztunnel = ambient ? new IstioZtunnel("istio", {
    provider, charts: newestCharts, base, controlPlane: controlPlanes.get(undefined)!, cni: cni!, imageHub: istio.imageHub,
}) : undefined;
// The Gateway API's CRDs, for the Gateway API ingress and for waypoints: the release the newest control plane
// expects, never downgrading what the cluster has (gatewayApiCrds.ts).
const gatewayApiCrds = modes.gatewayApi ? new GatewayApiCrds("gateway-api", {
    kubeconfig: checkedKubeconfig, version: modes.gatewayApi.version, source: modes.gatewayApi.source, adopt: config.safety.adoptExistingObjects,
}) : undefined;
const tags = Object.fromEntries(Object.entries(istio.tags).map(([tag, revision]) => [tag, new IstioRevisionTag(`istio-tag-${tag}`, {
    provider, tag, controlPlane: controlPlanes.get(revision)!,
})]));
/** The control plane a revision or tag selects, and injection through it. */
const selected = (selector: string | undefined): { controlPlane: IstioControlPlane; injection: SidecarInjection } => {
    const controlPlane = controlPlanes.get(selector !== undefined && istio.tags[selector] ? istio.tags[selector] : selector)!;
    return { controlPlane, injection: selector !== undefined && tags[selector] ? tags[selector].injection : controlPlane.injection };
};
// The default validation webhook, which admits every Istio object the program writes: pointed at its revision's
// istiod once that is ready (moving it to a new revision never leaves it calling an istiod not there yet).
const validatorPlane = controlPlanes.get(istio.defaultRevision)!;
const defaultValidator = new IstioDefaultValidator("istio", { provider, controlPlane: validatorPlane, tag: istio.tags.default ? "default" : undefined });
const validation = defaultValidator.validation;
const meshMtls = new MeshMtls("mesh", { provider, validation, mode: istio.mtlsMode });
const gatewayPlane = selected(istio.gatewayRevision);
const ingressGateway = chartGateway ? new IstioIngressGateway("istio", {
    provider,
    charts: gatewayPlane.controlPlane.charts,
    injection: gatewayPlane.injection,
    namespace: gatewayNamespace,
    serviceType: istio.gatewayServiceType,
}) : undefined;
const meshNamespaces = Object.entries(config.meshNamespaces).map(([namespace, selector]) => new MeshNamespace(`mesh-${namespace}`, {
    provider, namespace, injection: selected(selector).injection, kubeconfig: checkedKubeconfig,
}));

// 4. Bookinfo with sidecars, its Gateway and VirtualService, and the mTLS DestinationRules.
const bookinfoPlane = selected(config.bookinfo.revision);
// In ambient mode Bookinfo's namespace is enrolled with ztunnel instead (and sends its Services' traffic through
// the waypoint, if any).
const bookinfoInjection = ztunnel ? {
    ...ztunnel.enrollment,
    namespaceLabels: { ...ztunnel.enrollment.namespaceLabels, ...modes.waypoint ? WAYPOINT_NAMESPACE_LABELS : {} },
} : bookinfoPlane.injection;
const bookinfo = new BookinfoApp("bookinfo", {
    provider,
    injection: bookinfoInjection,
    namespace: config.bookinfo.namespace,
    createNamespace: config.bookinfo.createNamespace,
    injectionMode: config.bookinfo.injectionMode,
    podSecurity: config.bookinfo.podSecurity,
    imageHub: istio.imageHub,
    kubeconfig: checkedKubeconfig,
});
const ingress = ingressGateway ? new BookinfoIngress("bookinfo", {
    provider, validation, gateway: ingressGateway, namespace: bookinfo.namespaceName, hosts: config.bookinfo.hosts,
}) : new BookinfoGatewayApiIngress("bookinfo", {
    provider,
    namespace: bookinfo.namespaceName,
    readyBefore: [gatewayApiCrds!.installation, gatewayPlane.controlPlane.release],
    revision: istio.gatewayRevision,
    serviceType: istio.gatewayServiceType,
    hosts: config.bookinfo.hosts,
});
const waypoint = modes.waypoint ? new BookinfoWaypoint("bookinfo", {
    provider, namespace: bookinfo.namespaceName, readyBefore: [gatewayApiCrds!.installation, ...ztunnel!.enrollment.readyBefore],
}) : undefined;
// In ambient mode ztunnel always speaks mutual TLS (HBONE): no DestinationRule is needed for it.
const destinationRules = ambient ? undefined : new BookinfoDestinationRules("bookinfo", {
    provider,
    validation,
    namespace: bookinfo.namespaceName,
    mtls: config.bookinfo.destinationRuleMtls,
});
// 5. Zero trust: Bookinfo denies by default and allows exactly the calls it makes, by identity; optionally the
// whole mesh denies by default (after Bookinfo's exceptions exist, and before they go).
const bookinfoAuthorization = config.authorization.bookinfo ? new BookinfoAuthorization("bookinfo", {
    provider,
    validation,
    app: bookinfo,
    entry: ingress.entry,
    enforcement: ambient ? { dataPlane: "ambient", waypoint } : { dataPlane: "sidecar" },
    trustDomain: config.authorization.trustDomain,
    allowAtGateway: config.authorization.meshDefaultDeny,
    // A namespace-wide deny only in a namespace of the program's own: in someone else's it would deny their workloads.
    namespaceDefaultDeny: config.bookinfo.createNamespace,
}) : undefined;
const meshDefaultDeny = config.authorization.meshDefaultDeny && bookinfoAuthorization
    ? new MeshDefaultDeny("mesh", { provider, validation, after: [bookinfoAuthorization] }) : undefined;

// What istiod and the proxies run once the control planes are up and the workloads have rolled (read from the
// cluster on every run, after them).
const running = meshVersions({
    kubeconfig: checkedKubeconfig,
    namespaces: [bookinfo.namespaceName, ...ingressGateway ? [ingressGateway.namespace.metadata.name] : []],
}, { dependsOn: [...controlPlanes.values(), bookinfo, ...ingressGateway ? [ingressGateway] : [ingress]] });

// ... then check that the product page answers through the gateway.
const check = config.verify.enabled ? new ProductPageCheck("productpage", {
    url: ingress.gatewayUrl.apply((url) => {
        if (url === undefined) {
            throw new Error(chartGateway ? "the ingress gateway Service has no load-balancer address; see README, 'LoadBalancer pending'"
                : "Bookinfo's Gateway reports no address in its status; see README, 'LoadBalancer pending'");
        }
        return url;
    }),
    host: ingress.host,
    timeoutSeconds: config.verify.timeoutSeconds,
}, { dependsOn: [bookinfo, ingress, ...destinationRules ? [destinationRules] : [], ...waypoint ? [waypoint] : [], meshMtls, ...bookinfoAuthorization ? [bookinfoAuthorization] : [], ...meshDefaultDeny ? [meshDefaultDeny] : []] }) : undefined;

// 6. Telemetry, opt-in: Istio's add-ons (Prometheus, Grafana, Kiali, Jaeger) from where the user keeps them, and
// the mesh's metrics, tracing and access logging through the Telemetry API.
const telemetrySettings = config.telemetry;
const telemetryAddons = telemetryAddonsOf(telemetrySettings).map((addon) => new TelemetryAddon(`telemetry-${addon}`, {
    provider,
    controlPlane: validatorPlane,
    addon,
    source: telemetrySettings.addonsSource,
    sha256: telemetrySettings.addonsSha256[addon],
    istioVersion: istio.version,
    imageHub: istio.imageHub,
}));
const meshTelemetry = telemetrySettings.prometheus || telemetrySettings.tracing !== "none" || telemetrySettings.accessLogging
    ? new MeshTelemetry("telemetry", {
        provider,
        validation,
        metrics: telemetrySettings.prometheus,
        tracing: telemetrySettings.tracing === "none" ? undefined : { backend: telemetrySettings.tracing, samplingPercentage: telemetrySettings.tracingSampling },
        accessLogging: telemetrySettings.accessLogging,
    }) : undefined;

export const clusterInfo = cluster
    ? { name: cluster.clusterName, uuid: cluster.uuid, masterHost: cluster.masterHost, masterIps: cluster.masterIps, workerNodes: cluster.workerNodes }
    : { server: clusterIdentifier };
/** The cluster's cluster-admin kubeconfig (a secret), only with exportKubeconfig: `pks get-credentials` gives it too. */
export const kubeconfig = config.safety.exportKubeconfig ? clusterKubeconfig
    : "not exported (exportKubeconfig is false): `pks get-credentials` (or `tkgi get-credentials`) gives it to whoever may have it";
export const gatewayAddress = ingressGateway ? ingressGateway.address : (ingress as BookinfoGatewayApiIngress).address;
export const productPageUrl = ingress.productPageUrl;
/** The ingress API and data plane in use, and what the Gateway API CRD installer did with each CRD. */
export const modesInUse = {
    ingressApi: modes.ingressApi,
    dataPlane: modes.dataPlane,
    waypoint: modes.waypoint,
    gatewayApi: gatewayApiCrds ? { version: gatewayApiCrds.version, source: gatewayApiCrds.source, objects: gatewayApiCrds.report.objects } : "not used",
};
export const verification = check ? check.result : "skipped (verifyProductPage is false)";
export const mesh = {
    controlPlanes: running.controlPlanes,
    tags: running.tags,
    dataPlane: running.dataPlane,
    meshNamespaces: meshNamespaces.map((ns) => ns.namespaceName),
};
/** What Bookinfo's AuthorizationPolicies allow (policy → callers, methods, paths, port). */
export const authorization = bookinfoAuthorization
    ? { allowed: bookinfoAuthorization.allowed, namespaceDefaultDeny: bookinfoAuthorization.namespaceDefaultDeny, meshDefaultDeny: meshDefaultDeny !== undefined }
    : "off (bookinfoAuthorization is false)";
/** How to open each add-on's UI, and what the Telemetry API sets. */
export const telemetry = meshTelemetry || telemetryAddons.length > 0 ? {
    ui: Object.fromEntries(telemetryAddons.map((a) => [a.addon, a.ui])),
    spec: meshTelemetry?.spec,
} : "off (no telemetry add-on, tracing or access logging configured)";
