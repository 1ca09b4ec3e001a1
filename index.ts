/**
 * pks-istio-mesh: an Istio service mesh with mutual TLS and the Bookinfo sample on a VMware Enterprise PKS / TKGI
 * cluster (or any conformant cluster), as one Pulumi program. See README.md.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
    BookinfoApp, BookinfoDestinationRules, BookinfoIngress, IstioBase, IstioControlPlane, IstioIngressGateway, MeshMtls,
    PksCluster, PksNetworkProfile, ProductPageCheck,
} from "./components";
import { loadConfig } from "./components/config";

// Fails with every configuration problem listed before anything is registered.
const config = loadConfig();

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
    });
    cluster = new PksCluster(pks.cluster.name, {
        connection: pks.connection,
        externalHostname: pks.cluster.externalHostname,
        plan: pks.cluster.plan,
        numNodes: pks.cluster.numNodes,
        tags: pks.cluster.tags,
        networkProfileName: profile?.profileName,
        timeoutMinutes: pks.timeoutMinutes,
        pollIntervalSeconds: pks.pollSeconds,
    }, { protect: pks.cluster.protect });
    clusterKubeconfig = cluster.kubeconfig;
    clusterIdentifier = cluster.uuid;
} else {
    clusterKubeconfig = config.cluster.kubeconfig;
    clusterIdentifier = config.cluster.server;
}

// The only Kubernetes provider: the default provider is disabled (Pulumi.yaml), so nothing can land on whatever
// cluster the caller's own kubeconfig points at. A stable identifier keeps fresh credentials from replacing
// every Kubernetes object.
const provider = new k8s.Provider("mesh-cluster", { kubeconfig: clusterKubeconfig, clusterIdentifier });

// 3. Istio: CRDs, control plane, mesh-wide mutual TLS, ingress gateway.
const charts = { repository: config.istio.chartRepository, version: config.istio.version };
const base = new IstioBase("istio", { provider, charts, defaultRevision: config.istio.revision });
const controlPlane = new IstioControlPlane("istio", {
    provider,
    charts,
    base,
    revision: config.istio.revision,
    imageHub: config.istio.imageHub,
    replicas: config.istio.istiodReplicas,
    resources: config.istio.istiodResources,
});
const meshMtls = new MeshMtls("mesh", { provider, base, mode: config.istio.mtlsMode });
const ingressGateway = new IstioIngressGateway("istio", {
    provider,
    charts,
    controlPlane,
    serviceType: config.istio.gatewayServiceType,
});

// 4. Bookinfo with sidecars, its Gateway and VirtualService, and the mTLS DestinationRules.
const bookinfo = new BookinfoApp("bookinfo", {
    provider,
    controlPlane,
    namespace: config.bookinfo.namespace,
    createNamespace: config.bookinfo.createNamespace,
    injectionMode: config.bookinfo.injectionMode,
    imageHub: config.istio.imageHub,
});
const ingress = new BookinfoIngress("bookinfo", { provider, base, gateway: ingressGateway, namespace: bookinfo.namespaceName });
const destinationRules = new BookinfoDestinationRules("bookinfo", {
    provider,
    base,
    namespace: bookinfo.namespaceName,
    mtls: config.bookinfo.destinationRuleMtls,
});

// ... then check that the product page answers through the gateway.
const check = config.verify.enabled ? new ProductPageCheck("productpage", {
    url: ingress.productPageUrl.apply((url) => {
        if (url === undefined) {
            throw new Error("the ingress gateway Service has no load-balancer address; see README, 'LoadBalancer pending'");
        }
        return url;
    }),
    timeoutSeconds: config.verify.timeoutSeconds,
}, { dependsOn: [bookinfo, ingress, destinationRules, meshMtls] }) : undefined;

export const clusterInfo = cluster
    ? { name: cluster.clusterName, uuid: cluster.uuid, masterHost: cluster.masterHost, masterIps: cluster.masterIps, workerNodes: cluster.workerNodes }
    : { server: clusterIdentifier };
export const kubeconfig = clusterKubeconfig;
export const gatewayAddress = ingressGateway.address;
export const productPageUrl = ingress.productPageUrl;
export const verification = check ? check.result : "skipped (verifyProductPage is false)";
