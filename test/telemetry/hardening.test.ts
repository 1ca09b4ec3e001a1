/**
 * What the program changes in Istio's add-on manifests after verifying them, on the real manifests of 1.30.3 and
 * 1.31.0-rc.0: Prometheus without its lifecycle endpoint (and the reloader that only called it), Grafana without
 * anonymous access and with a generated admin password, Kiali view-only with token authentication, a generated
 * signing key and read-only RBAC, and NetworkPolicies that leave the UIs to port-forwarding; every changed object
 * still valid against the Kubernetes schemas.
 */
import { expect } from "chai";
import * as fs from "fs";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import * as path from "path";
import * as YAML from "yaml";
import {
    ADDON_POD_LABELS, AddonNetworkPolicySpec, GRAFANA_ADMIN_SECRET, JAEGER_RECEIVER_PORTS, KIALI_SIGNING_KEY_SECRET, addonLogin, addonNetworkPolicy,
    hardenAddon, randomSecretValue, readOnlyRules,
} from "../../components/telemetry/hardening";
import { Container, ManifestObject, PodSpec, TELEMETRY_ADDONS, TelemetryAddonName, imagesOf, parseManifest } from "../../components/telemetry/manifests";
import { ISTIO_SNAPSHOTS, istioAddons } from "../support/upstream";

const ADDON_NAMES = Object.keys(TELEMETRY_ADDONS) as TelemetryAddonName[];
const RELEASES = Object.keys(ISTIO_SNAPSHOTS);

const upstream = (release: string, addon: TelemetryAddonName) =>
    parseManifest(fs.readFileSync(path.join(istioAddons(release), TELEMETRY_ADDONS[addon].file), "utf8"), addon);
const find = (objects: ManifestObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name)!;
type Template = { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec };
const template = (objects: ManifestObject[], name: string) => (find(objects, "Deployment", name).spec as { template: Template }).template;
const container = (objects: ManifestObject[], deployment: string, name: string) => template(objects, deployment).spec.containers!.find((c) => c.name === name) as Container;
const env = (c: Container) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
const rules = (objects: ManifestObject[], name: string) => (find(objects, "ClusterRole", name) as ManifestObject & { rules: Array<{ apiGroups?: string[]; resources?: string[]; verbs: string[] }> }).rules;
const kialiConfig = (objects: ManifestObject[]) => YAML.parse((find(objects, "ConfigMap", "kiali").data as Record<string, string>)["config.yaml"]) as Record<string, Record<string, unknown>>;

for (const release of RELEASES) {
    describe(`hardening Istio ${release}'s add-ons`, function () {
        this.timeout(30_000);
        const hardened = (addon: TelemetryAddonName) => hardenAddon(addon, upstream(release, addon), `${addon}.yaml`);

        it("turns Prometheus's lifecycle endpoint off, drops the reloader that called it, and rolls the pod on a new configuration", () => {
            const before = upstream(release, "prometheus");
            const after = hardened("prometheus");
            expect(container(before, "prometheus", "prometheus-server").args).to.include("--web.enable-lifecycle");
            expect(container(after, "prometheus", "prometheus-server").args).to.deep.equal(
                container(before, "prometheus", "prometheus-server").args!.filter((a) => a !== "--web.enable-lifecycle"));
            expect(template(after, "prometheus").spec.containers!.map((c) => c.name)).to.deep.equal(["prometheus-server"]);
            expect(imagesOf(after)).to.deep.equal(["docker.io/prom/prometheus:v3.10.0"]);
            const annotation = template(after, "prometheus").metadata.annotations!["checksum/config"];
            expect(annotation).to.match(/^[0-9a-f]{64}$/);
            const changed = upstream(release, "prometheus");
            (find(changed, "ConfigMap", "prometheus").data as Record<string, string>)["prometheus.yml"] += "# changed\n";
            expect(template(hardenAddon("prometheus", changed, "p"), "prometheus").metadata.annotations!["checksum/config"]).to.not.equal(annotation);
            // Istio's ClusterRole already reads only.
            expect(rules(after, "prometheus")).to.deep.equal(rules(before, "prometheus"));
            expect(before, "the input is left as it was").to.deep.equal(upstream(release, "prometheus"));
        });

        it("turns Grafana's anonymous admin off and takes the admin password from the generated Secret", () => {
            const before = env(container(upstream(release, "grafana"), "grafana", "grafana"));
            const after = env(container(hardened("grafana"), "grafana", "grafana"));
            expect(before).to.deep.include({ GF_AUTH_ANONYMOUS_ENABLED: "true", GF_AUTH_ANONYMOUS_ORG_ROLE: "Admin", GF_SECURITY_ADMIN_PASSWORD: "admin" });
            expect(after).to.deep.equal({
                ...Object.fromEntries(Object.entries(before).filter(([k]) => !["GF_AUTH_ANONYMOUS_ORG_ROLE"].includes(k))),
                GF_AUTH_ANONYMOUS_ENABLED: "false",
                GF_SECURITY_ADMIN_USER: "admin",
                GF_SECURITY_ADMIN_PASSWORD: { secretKeyRef: { name: "grafana-admin", key: "admin-password" } },
            });
            expect(after.GF_AUTH_BASIC_ENABLED).to.equal("false");
        });

        it("makes Kiali view-only with token login and a signing key of its own, changing nothing else of its configuration", () => {
            const before = upstream(release, "kiali");
            const after = hardened("kiali");
            const [original, changed] = [kialiConfig(before), kialiConfig(after)];
            expect(original.auth.strategy).to.equal("anonymous");
            expect(original.login_token.signing_key).to.equal("CHANGEME00000000");
            expect(changed.auth).to.deep.equal({ ...original.auth, strategy: "token" });
            expect(changed.deployment).to.deep.equal({ ...original.deployment, view_only_mode: true });
            expect(changed.login_token).to.deep.equal({ ...original.login_token, signing_key: "" });
            expect({ ...changed, auth: 0, deployment: 0, login_token: 0 }).to.deep.equal({ ...original, auth: 0, deployment: 0, login_token: 0 });

            const pod = template(after, "kiali");
            expect(pod.spec.volumes).to.deep.include({ name: KIALI_SIGNING_KEY_SECRET.name, secret: { secretName: "kiali-login-token-signing-key" } });
            expect(container(after, "kiali", "kiali").volumeMounts).to.deep.include({ name: KIALI_SIGNING_KEY_SECRET.name, mountPath: "/kiali-override-secrets/login-token-signing-key", readOnly: true });
            expect(pod.metadata.annotations!["checksum/config"]).to.not.equal(template(before, "kiali").metadata.annotations!["checksum/config"]);
        });

        it("leaves Kiali's ClusterRole reading only, Istio's security objects included, but for port-forwarding and token reviews", () => {
            const before = rules(upstream(release, "kiali"), "kiali");
            const after = rules(hardened("kiali"), "kiali");
            const grants = (list: typeof after) => list.flatMap((r) => (r.resources ?? []).flatMap((res) => (r.apiGroups ?? [""]).map((g) => `${g}/${res}: ${r.verbs.join(",")}`)));
            expect(grants(before)).to.include("security.istio.io/*: get,list,watch,create,delete,patch");
            expect(grants(after)).to.include("security.istio.io/*: get,list,watch");
            const writes = grants(after).filter((g) => !/: (get,?|list,?|watch,?)+$/.test(g));
            expect(writes).to.deep.equal(["/pods/portforward: create,post", "authentication.k8s.io/tokenreviews: create"]);
            // Every rule is the original's with the write verbs removed.
            expect(after.map((r) => ({ ...r, verbs: [] }))).to.deep.equal(before.map((r) => ({ ...r, verbs: [] })));
        });

        it("leaves Jaeger's objects as Istio ships them", () => {
            expect(hardened("jaeger")).to.deep.equal(upstream(release, "jaeger"));
        });

        it("keeps every changed object valid against the Kubernetes schemas", () => {
            const validators: Record<string, (o: ManifestObject) => void> = {
                Deployment: (o) => new Deployment(o as ConstructorParameters<typeof Deployment>[0]).validate(),
                ConfigMap: (o) => new ConfigMap(o as ConstructorParameters<typeof ConfigMap>[0]).validate(),
                ClusterRole: (o) => new ClusterRole(o as ConstructorParameters<typeof ClusterRole>[0]).validate(),
            };
            for (const addon of ADDON_NAMES) {
                hardened(addon).forEach((o) => validators[o.kind]?.(o));
                new NetworkPolicy({ metadata: { name: addon, namespace: "istio-system" }, spec: addonNetworkPolicy(addon) }).validate();
            }
        });

        it("gives each add-on a NetworkPolicy that selects its pods only and admits no other pod to a UI", () => {
            const podLabels = Object.fromEntries(ADDON_NAMES.map((a) => [a, template(hardened(a), a === "jaeger" ? "jaeger" : a).metadata.labels])) as Record<TelemetryAddonName, Record<string, string>>;
            const selects = (selector: { matchLabels: Record<string, string> }, labels: Record<string, string>) => Object.entries(selector.matchLabels).every(([k, v]) => labels[k] === v);
            /** Which add-ons' pods (or any other pod) a policy admits to a port. */
            const admitted = (policy: AddonNetworkPolicySpec, port: number) => [...ADDON_NAMES, "other"].filter((source) => policy.ingress.some((rule) => rule.ports.some((p) => p.port === port)
                && (rule.from === undefined || rule.from.some((peer) => source !== "other" && selects(peer.podSelector, podLabels[source as TelemetryAddonName])))));
            for (const addon of ADDON_NAMES) {
                expect(ADDON_NAMES.filter((a) => selects(addonNetworkPolicy(addon).podSelector, podLabels[a])), addon).to.deep.equal([addon]);
            }
            const port = (addon: TelemetryAddonName, service: string, name: string) => {
                const ports = (find(upstream(release, addon), "Service", service).spec as { ports: Array<{ name: string; port: number; targetPort?: number }> }).ports;
                const p = ports.find((x) => x.name === name)!;
                return p.targetPort ?? p.port;
            };
            const scraped = (addon: TelemetryAddonName) => Number(template(upstream(release, addon), addon).metadata.annotations!["prometheus.io/port"]);
            const table = {
                "prometheus API and UI": admitted(addonNetworkPolicy("prometheus"), port("prometheus", "prometheus", "http")),
                "grafana UI": admitted(addonNetworkPolicy("grafana"), port("grafana", "grafana", "service")),
                "kiali UI": admitted(addonNetworkPolicy("kiali"), port("kiali", "kiali", "http")),
                "kiali metrics": admitted(addonNetworkPolicy("kiali"), scraped("kiali")),
                "jaeger UI": admitted(addonNetworkPolicy("jaeger"), port("jaeger", "tracing", "http-query")),
                "jaeger query gRPC": admitted(addonNetworkPolicy("jaeger"), port("jaeger", "tracing", "grpc-query")),
                "jaeger metrics": admitted(addonNetworkPolicy("jaeger"), scraped("jaeger")),
                "jaeger OTLP collector": admitted(addonNetworkPolicy("jaeger"), 4317),
            };
            expect(table).to.deep.equal({
                "prometheus API and UI": ["grafana", "kiali"],
                "grafana UI": [],
                "kiali UI": [],
                "kiali metrics": ["prometheus"],
                "jaeger UI": [],
                "jaeger query gRPC": [],
                "jaeger metrics": ["prometheus"],
                "jaeger OTLP collector": [...ADDON_NAMES, "other"],
            });
            // The receivers open to every pod are exactly the collector Service's ports.
            const collector = (find(upstream(release, "jaeger"), "Service", "jaeger-collector").spec as { ports: Array<{ port: number; targetPort?: number }> }).ports;
            expect(collector.map((p) => p.targetPort ?? p.port).sort()).to.deep.equal([...JAEGER_RECEIVER_PORTS].sort());
        });
    });
}

describe("hardening, whatever the manifest", () => {
    it("fails, naming the manifest, when what a change needs is missing or the pods are selected otherwise", () => {
        const objects = upstream("1.30.3", "prometheus");
        const renamed = JSON.parse(JSON.stringify(objects)) as ManifestObject[];
        template(renamed, "prometheus").spec.containers!.find((c) => c.name === "prometheus-server")!.name = "server";
        expect(() => hardenAddon("prometheus", renamed, "p.yaml")).to.throw("p.yaml: no container prometheus-server; the program cannot harden this add-on, and does not apply it");
        const relabelled = JSON.parse(JSON.stringify(upstream("1.30.3", "kiali"))) as ManifestObject[];
        template(relabelled, "kiali").metadata.labels["app.kubernetes.io/instance"] = "other";
        expect(() => hardenAddon("kiali", relabelled, "k.yaml")).to.throw(`k.yaml: Deployment kiali does not select its pods by ${JSON.stringify(ADDON_POD_LABELS.kiali)}, which its NetworkPolicy selects`);
        const noConfig = upstream("1.30.3", "kiali").filter((o) => o.kind !== "ConfigMap");
        expect(() => hardenAddon("kiali", noConfig, "k.yaml")).to.throw("k.yaml: no ConfigMap kiali");
    });

    it("reduces any RBAC rule to reading, keeping only the named exceptions", () => {
        expect(readOnlyRules([
            { apiGroups: ["apps"], resources: ["deployments"], verbs: ["*"] },
            { apiGroups: [""], resources: ["secrets"], verbs: ["create", "delete"] },
            { nonResourceURLs: ["/metrics"], verbs: ["get"] },
            { apiGroups: [""], resources: ["pods", "pods/portforward"], verbs: ["get", "create"] },
            { apiGroups: [""], resources: ["pods/portforward"], verbs: ["create"] },
        ], [{ apiGroup: "", resource: "pods/portforward", verbs: ["create"] }])).to.deep.equal([
            { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "watch"] },
            { nonResourceURLs: ["/metrics"], verbs: ["get"] },
            { apiGroups: [""], resources: ["pods", "pods/portforward"], verbs: ["get"] },
            { apiGroups: [""], resources: ["pods/portforward"], verbs: ["create"] },
        ]);
    });

    it("generates 32-character secrets, different every time, and says how to log in", () => {
        const values = Array.from({ length: 20 }, randomSecretValue);
        expect(new Set(values).size).to.equal(20);
        expect(values.every((v) => /^[A-Za-z0-9_-]{32}$/.test(v))).to.equal(true);
        expect(addonLogin("grafana")).to.equal(`user admin, password: kubectl -n istio-system get secret ${GRAFANA_ADMIN_SECRET.name} -o jsonpath='{.data.admin-password}' | base64 -d`);
        expect(addonLogin("kiali")).to.equal("token: kubectl -n istio-system create token kiali");
        expect(addonLogin("prometheus")).to.equal(undefined);
    });
});
