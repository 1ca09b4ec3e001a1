/**
 * The add-on manifests' verification against Istio's own files (1.30.3 and 1.31.0-rc.0, from the upstream
 * snapshots): the pinned digests are those of Istio's files at each tag; a local mirror and an https mirror are
 * both checked against them; redirects, oversized answers, non-regular files and plain http are refused; a
 * verified manifest must hold exactly the add-on's objects.
 */
import { execFileSync } from "child_process";
import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { ManifestObject, TELEMETRY_ADDONS, TelemetryAddonName, parseManifest } from "../../components/telemetry/manifests";
import {
    EXPECTED_OBJECTS, MAX_MANIFEST_BYTES, PINNED_ADDON_SHA256, checkAddonObjects, loadAddon, manifestPin, readManifest, verifyManifest,
} from "../../components/telemetry/verification";
import { HttpsMirror, ISTIO_SNAPSHOTS, istioAddons } from "../support/upstream";

const ADDON_NAMES = Object.keys(TELEMETRY_ADDONS) as TelemetryAddonName[];
const RELEASES = Object.keys(ISTIO_SNAPSHOTS);
const failure = async (promise: Promise<unknown>) => promise.then(() => "no error", (e: Error) => e.message);
const sha256 = (bytes: Buffer | string) => crypto.createHash("sha256").update(bytes).digest("hex");
const original = (release: string, addon: TelemetryAddonName) => fs.readFileSync(path.join(istioAddons(release), TELEMETRY_ADDONS[addon].file));
/** Kiali's manifest with one more object: cluster-admin for its service account. */
const tampered = (release: string) => Buffer.concat([original(release, "kiali"), Buffer.from(YAML.stringify({
    apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: "kiali-admin" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
    subjects: [{ kind: "ServiceAccount", name: "kiali", namespace: "istio-system" }],
}).replace(/^/, "---\n"))]);

describe("pinned add-on manifests", function () {
    this.timeout(30_000);

    it("pin, for every supported release, the sha256 of Istio's own samples/addons files at its tag", () => {
        expect(Object.keys(PINNED_ADDON_SHA256)).to.deep.equal(RELEASES);
        for (const release of RELEASES) {
            for (const addon of ADDON_NAMES) {
                expect(PINNED_ADDON_SHA256[release][addon], `${release} ${addon}`).to.equal(sha256(original(release, addon)));
            }
        }
        // The releases differ where Istio changed the add-ons (Kiali 2.26 → 2.27, Jaeger 2.14 → 2.17).
        expect(PINNED_ADDON_SHA256["1.30.3"].kiali).to.not.equal(PINNED_ADDON_SHA256["1.31.0-rc.0"].kiali);
    });

    it("take the user's pin over the program's, and refuse a release without any, naming telemetryAddonsSha256", () => {
        expect(manifestPin("kiali", "1.30.3")).to.deep.equal({ sha256: PINNED_ADDON_SHA256["1.30.3"].kiali, pinnedBy: "Istio 1.30.3's samples/addons/kiali.yaml" });
        expect(manifestPin("kiali", "1.31.4", "AB".repeat(32))).to.deep.equal({ sha256: "ab".repeat(32), pinnedBy: "telemetryAddonsSha256.kiali" });
        expect(() => manifestPin("grafana", "1.31.4")).to.throw("telemetryAddonsSha256 has no sha256 for grafana.yaml of Istio 1.31.4, whose add-on " +
            "manifests this program does not pin (it pins those of 1.30.3, 1.31.0-rc.0), and it never applies an unverified manifest");
        expect(() => manifestPin("grafana", "1.31.4")).to.throw("pulumi config set --path telemetryAddonsSha256.grafana $(tar -xzOf istio-1.31.4-linux-amd64.tar.gz istio-1.31.4/samples/addons/grafana.yaml | sha256sum | cut -d' ' -f1)");
    });

    it("verify each byte: a changed manifest is refused with both digests", () => {
        const pin = manifestPin("kiali", "1.30.3");
        expect(verifyManifest(original("1.30.3", "kiali"), pin, "kiali.yaml")).to.equal(original("1.30.3", "kiali").toString("utf8"));
        const changed = Buffer.from(original("1.30.3", "kiali").toString("utf8").replace("strategy: anonymous", "strategy: anonymous "));
        expect(() => verifyManifest(changed, pin, "/m/kiali.yaml")).to.throw(`/m/kiali.yaml does not match its pinned sha256 (Istio 1.30.3's samples/addons/kiali.yaml): ` +
            `expected ${pin.sha256}, got ${sha256(changed)}; the add-on is not applied`);
        // Another release's file is not this release's.
        expect(() => verifyManifest(original("1.31.0-rc.0", "kiali"), pin, "kiali.yaml")).to.throw("does not match its pinned sha256");
    });
});

describe("reading add-on manifests", function () {
    this.timeout(30_000);
    let dir: string;
    let mirror: HttpsMirror;
    before(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "addons-"));
        mirror = await HttpsMirror.start(dir);
    });
    after(() => mirror.close());

    it("read a local mirror directory, and refuse a missing file, a pipe and an oversized file without reading it", async () => {
        fs.copyFileSync(path.join(istioAddons("1.30.3"), "kiali.yaml"), path.join(dir, "kiali.yaml"));
        expect(sha256(await readManifest(dir, "kiali.yaml"))).to.equal(PINNED_ADDON_SHA256["1.30.3"].kiali);
        expect(await failure(readManifest(dir, "grafana.yaml"))).to.equal(`cannot read the add-on manifest ${path.join(dir, "grafana.yaml")}: ENOENT`);
        execFileSync("mkfifo", [path.join(dir, "prometheus.yaml")]);
        expect(await failure(readManifest(dir, "prometheus.yaml"))).to.equal(`cannot read the add-on manifest ${path.join(dir, "prometheus.yaml")}: not a regular file`);
        fs.writeFileSync(path.join(dir, "jaeger.yaml"), Buffer.alloc(MAX_MANIFEST_BYTES + 1, "#"));
        expect(await failure(readManifest(dir, "jaeger.yaml"))).to.equal(`cannot read the add-on manifest ${path.join(dir, "jaeger.yaml")}: ` +
            `${MAX_MANIFEST_BYTES + 1} bytes, more than the ${MAX_MANIFEST_BYTES} it may have`);
        expect(await failure(readManifest(dir, "jaeger.yaml", { maxBytes: 10 * MAX_MANIFEST_BYTES }))).to.equal("no error");
    });

    it("read an https mirror, and refuse redirects (without following them), errors, oversized answers and plain http", async () => {
        mirror.serve("/addons/kiali.yaml", original("1.30.3", "kiali"));
        expect(sha256(await readManifest(mirror.url("/addons"), "kiali.yaml", { ca: mirror.ca }))).to.equal(PINNED_ADDON_SHA256["1.30.3"].kiali);

        mirror.redirect("/moved/kiali.yaml", mirror.url("/addons/kiali.yaml"));
        mirror.redirect("/downgrade/kiali.yaml", "http://127.0.0.1:9/addons/kiali.yaml", 301);
        mirror.requested.length = 0;
        expect(await failure(readManifest(mirror.url("/moved"), "kiali.yaml", { ca: mirror.ca }))).to.equal(
            `cannot fetch the add-on manifest ${mirror.url("/moved/kiali.yaml")}: HTTP 302, a redirect to ${mirror.url("/addons/kiali.yaml")}: ` +
            "redirects are refused; set telemetryAddonsSource to the final https location");
        expect(await failure(readManifest(mirror.url("/downgrade"), "kiali.yaml", { ca: mirror.ca }))).to.match(/HTTP 301, a redirect to http:\/\/127\.0\.0\.1:9\/addons\/kiali\.yaml: redirects are refused/);
        expect(mirror.requested, "the redirects were not followed").to.deep.equal(["/moved/kiali.yaml", "/downgrade/kiali.yaml"]);

        expect(await failure(readManifest(mirror.url("/none"), "kiali.yaml", { ca: mirror.ca }))).to.equal(`cannot fetch the add-on manifest ${mirror.url("/none/kiali.yaml")}: HTTP 404`);
        const big = Buffer.alloc(MAX_MANIFEST_BYTES + 1, "#");
        mirror.serve("/big/grafana.yaml", big);
        mirror.serve("/streamed/grafana.yaml", big, true);
        expect(await failure(readManifest(mirror.url("/big"), "grafana.yaml", { ca: mirror.ca }))).to.match(/: 2097153 bytes, more than the 2097152 it may have$/);
        expect(await failure(readManifest(mirror.url("/streamed"), "grafana.yaml", { ca: mirror.ca }))).to.match(/: more than the 2097152 bytes it may have$/);
        mirror.handle("/slow/jaeger.yaml", (res) => res.writeHead(200).write("# never ends\n"));
        expect(await failure(readManifest(mirror.url("/slow"), "jaeger.yaml", { ca: mirror.ca, timeoutMs: 1000 }))).to.match(/jaeger\.yaml: no complete answer within 1 s$/);
        // Without the mirror's certificate authority, its certificate is not trusted.
        expect(await failure(readManifest(mirror.url("/addons"), "kiali.yaml"))).to.match(/kiali\.yaml: DEPTH_ZERO_SELF_SIGNED_CERT$/);
        expect(await failure(readManifest("https://127.0.0.1:9/addons", "kiali.yaml", { timeoutMs: 5000 }))).to.match(/^cannot fetch the add-on manifest https:\/\/127\.0\.0\.1:9\/addons\/kiali\.yaml: ECONNREFUSED$/);
        expect(await failure(readManifest("http://127.0.0.1:9/addons", "kiali.yaml"))).to.equal("cannot fetch the add-on manifest http://127.0.0.1:9/addons/kiali.yaml: only https is allowed");
    });

    for (const release of RELEASES) {
        it(`load Istio ${release}'s four add-ons from either kind of mirror, and refuse a tampered one from either`, async () => {
            mirror.serveDir(`/${release}`, istioAddons(release));
            for (const addon of ADDON_NAMES) {
                const pin = manifestPin(addon, release);
                const fromDir = await loadAddon(addon, istioAddons(release), pin);
                expect(fromDir.map((o) => `${o.kind}/${o.metadata.name}`).sort(), addon).to.deep.equal(EXPECTED_OBJECTS[addon].map((e) => `${e.kind}/${e.name}`).sort());
                expect(await loadAddon(addon, mirror.url(`/${release}`), pin, { ca: mirror.ca })).to.deep.equal(fromDir);
            }
            const tamperedDir = fs.mkdtempSync(path.join(os.tmpdir(), "tampered-"));
            fs.writeFileSync(path.join(tamperedDir, "kiali.yaml"), tampered(release));
            mirror.serve(`/tampered-${release}/kiali.yaml`, tampered(release));
            const pin = manifestPin("kiali", release);
            const refused = `does not match its pinned sha256 (Istio ${release}'s samples/addons/kiali.yaml): expected ${pin.sha256}, got ${sha256(tampered(release))}; the add-on is not applied`;
            expect(await failure(loadAddon("kiali", tamperedDir, pin))).to.equal(`${path.join(tamperedDir, "kiali.yaml")} ${refused}`);
            expect(await failure(loadAddon("kiali", mirror.url(`/tampered-${release}`), pin, { ca: mirror.ca }))).to.equal(`${mirror.url(`/tampered-${release}/kiali.yaml`)} ${refused}`);
        });
    }
});

describe("a verified manifest's objects", () => {
    const objects = (addon: TelemetryAddonName) => parseManifest(original("1.30.3", addon).toString("utf8"), addon);
    const problems = (addon: TelemetryAddonName, change: (objects: ManifestObject[]) => ManifestObject[]) => {
        try {
            checkAddonObjects(addon, change(objects(addon)), `${addon}.yaml`);
            return "no error";
        } catch (e) {
            return (e as Error).message;
        }
    };
    const edit = (kind: string, name: string, f: (o: ManifestObject & Record<string, unknown>) => void) => (list: ManifestObject[]) => {
        f(list.find((o) => o.kind === kind && o.metadata.name === name)! as ManifestObject & Record<string, unknown>);
        return list;
    };
    const podSpec = (o: Record<string, unknown>) => (o.spec as { template: { spec: Record<string, unknown> } }).template.spec;

    it("are exactly the add-on's, in istio-system, for every add-on of every release", () => {
        for (const release of RELEASES) {
            for (const addon of ADDON_NAMES) {
                expect(problems(addon, () => parseManifest(original(release, addon).toString("utf8"), addon)), `${release} ${addon}`).to.equal("no error");
            }
        }
    });

    it("refuse another object, a missing or repeated one, another namespace, and RBAC beyond the add-on's own", () => {
        const extra = YAML.parse(tampered("1.30.3").toString("utf8").split("---\n").pop()!) as ManifestObject;
        expect(problems("kiali", (l) => [...l, extra])).to.equal("kiali.yaml is not what the add-on kiali is known to be, and is not applied: " +
            "objects this add-on does not have: rbac.authorization.k8s.io/v1 ClusterRoleBinding kiali-admin");
        expect(problems("jaeger", (l) => l.filter((o) => o.metadata.name !== "zipkin"))).to.match(/: missing objects: v1 Service zipkin$/);
        expect(problems("jaeger", (l) => [...l, l[0]])).to.match(/: repeated objects: apps\/v1 Deployment jaeger$/);
        expect(problems("grafana", edit("ConfigMap", "grafana", (o) => { o.metadata.namespace = "kube-system"; }))).to.match(/: ConfigMap grafana is in namespace kube-system, not istio-system$/);
        expect(problems("grafana", edit("Service", "grafana", (o) => { delete o.metadata.namespace; }))).to.match(/: Service grafana is in namespace \(none\), not istio-system$/);
        expect(problems("prometheus", edit("ClusterRole", "prometheus", (o) => { o.metadata.namespace = "istio-system"; }))).to.match(/: ClusterRole prometheus is cluster-scoped but names namespace istio-system$/);
        expect(problems("prometheus", edit("ClusterRoleBinding", "prometheus", (o) => { (o.roleRef as { name: string }).name = "cluster-admin"; })))
            .to.match(/: ClusterRoleBinding prometheus must grant ClusterRole prometheus to service account istio-system\/prometheus and nothing else$/);
        expect(problems("kiali", edit("ClusterRoleBinding", "kiali", (o) => { (o.subjects as unknown[]).push({ kind: "Group", name: "system:authenticated" }); })))
            .to.match(/: ClusterRoleBinding kiali must grant ClusterRole kiali to service account istio-system\/kiali and nothing else$/);
        expect(problems("kiali", edit("Deployment", "kiali", (o) => { o.apiVersion = "apps/v1beta2"; }))).to.include("objects this add-on does not have: apps/v1beta2 Deployment kiali; missing objects: apps/v1 Deployment kiali");
    });

    it("refuse pods with host access, privilege or another service account", () => {
        expect(problems("jaeger", edit("Deployment", "jaeger", (o) => Object.assign(podSpec(o), { hostNetwork: true, hostPID: true }))))
            .to.match(/: Deployment jaeger sets hostNetwork; Deployment jaeger sets hostPID$/);
        expect(problems("jaeger", edit("Deployment", "jaeger", (o) => (podSpec(o).volumes as unknown[]).push({ name: "root", hostPath: { path: "/" } }))))
            .to.match(/: Deployment jaeger mounts the host path of volume root$/);
        expect(problems("grafana", edit("Deployment", "grafana", (o) => { (podSpec(o).containers as Array<{ securityContext: unknown }>)[0].securityContext = { privileged: true }; })))
            .to.match(/: Deployment grafana runs container grafana privileged$/);
        expect(problems("kiali", edit("Deployment", "kiali", (o) => { podSpec(o).serviceAccountName = "istiod"; }))).to.match(/: Deployment kiali runs as service account istiod, not its own$/);
        expect(problems("jaeger", edit("Deployment", "jaeger", (o) => { podSpec(o).serviceAccountName = "kiali"; }))).to.match(/: Deployment jaeger runs as service account kiali, not its own$/);
    });
});
