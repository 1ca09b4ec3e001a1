/**
 * End to end, the default validation webhook without a race: on a cluster where istiod is slow to secure its
 * webhooks — the local control plane with istiod's writes to ValidatingWebhookConfigurations (its CA patch and
 * its switch to fail-closed) held back for a while (apiDelay.ts) — `pulumi up` of the default configuration
 * (Istio 1.31 from the tool cache, `clusterSource: existing`) creates every Istio object at its first attempt,
 * then the webhook ends up failing closed, as istiod makes it. Before the program created the webhook failing open,
 * as upstream does, every Istio object written in that window was refused.
 */
import { Stack } from "@pulumi/pulumi/automation";
import { expect } from "chai";
import * as crypto from "crypto";
import * as path from "path";
import { eventually, recorder } from "../support/engine";
import { LocalCluster } from "../../local/localCluster";
import { useLocalCluster } from "../support/suite";
import { localIstio, meshStack, requireTools, toolVersions, toolsBin } from "../../local/workspace";

const P = "pks-istio-mesh:";
const TOOLS_BIN = toolsBin();
const ISTIO = toolVersions().ISTIO_VERSION;
const DELAY_MS = 60_000;
const VALIDATOR = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/istiod-default-validator";

interface Webhook {
    name: string;
    failurePolicy: string;
    clientConfig: { caBundle?: string };
    objectSelector?: unknown;
}

/** An invalid VirtualService (a wildcard host), which istiod's validation refuses. */
const invalidVirtualService = (name: string, labels: Record<string, string> = {}) => ({
    apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name, labels },
    spec: { hosts: ["*"], http: [{ route: [{ destination: { host: "productpage", port: { number: 9080 } } }] }] },
});

describe("end to end: the default validator while istiod has not yet secured its webhook", function () {
    this.timeout(15 * 60_000);
    before(() => requireTools(TOOLS_BIN, ["pulumi", "pulumi-resource-kubernetes", `pilot-discovery-${ISTIO}`, `istio-charts-${ISTIO}`]));
    const suite = useLocalCluster("validator", TOOLS_BIN, { istiodWebhookWriteDelayMs: DELAY_MS });
    let cluster: LocalCluster;
    let stack: Stack;

    before(async () => {
        cluster = suite.cluster;
        stack = await meshStack({ dir: path.join(suite.dir, "pulumi"), toolsBin: TOOLS_BIN, stackName: "validator", passphrase: crypto.randomBytes(12).toString("hex") });
        await stack.setAllConfig({
            [`${P}clusterSource`]: { value: "existing" },
            [`${P}kubeconfig`]: { value: cluster.kubeconfig(), secret: true },
            ...localIstio(TOOLS_BIN),
            [`${P}verifyProductPage`]: { value: String(cluster.servesProductPage) },
        });
    });

    it("creates every Istio object at its first attempt while istiod's CA is not in the webhook, which then fails closed", async () => {
        // What the validator looked like whenever the program created an Istio object.
        const seen: Array<{ at: number; failurePolicy: string; caBundle: boolean }> = [];
        const watching = setInterval(() => {
            cluster.json<{ webhooks: Webhook[] }>(VALIDATOR).then((v) => seen.push({
                at: Date.now(), failurePolicy: v.webhooks[0].failurePolicy, caBundle: (v.webhooks[0].clientConfig.caBundle ?? "") !== "",
            }), () => undefined);
        }, 250);
        const r = recorder();
        const started = Date.now();
        const up = await stack.up({ onEvent: r.onEvent, onOutput: r.onOutput }).finally(() => clearInterval(watching));
        console.log(`      up: ${JSON.stringify(up.summary.resourceChanges)} in ${Math.round((Date.now() - started) / 1000)}s`);

        // Then istiod wrote its CA in, checked its webhook and switched it to fail closed.
        const closed = await eventually(async () => {
            const v = await cluster.json<{ webhooks: Webhook[] }>(VALIDATOR);
            return v.webhooks[0].failurePolicy === "Fail" && (v.webhooks[0].clientConfig.caBundle ?? "") !== "";
        }, DELAY_MS + 60_000, 500);
        expect(closed, "istiod made the default validator fail closed").to.equal(true);

        // istiod's first write to the webhook was held back, and went through only after the Istio objects existed.
        const delay = cluster.webhookWriteDelay!;
        console.log(`      istiod's webhook writes: ${delay.held.map((w) => `${w.method} ${w.path.split("?")[0]} held ${Math.round(((w.released ?? Date.now()) - w.arrived) / 1000)}s`).join("; ")}`);
        const caArrived = Math.min(...delay.held.map((w) => w.released ?? Infinity));
        expect(caArrived, "istiod's CA patch went through").to.be.lessThan(Infinity);
        const objects = [
            "/apis/security.istio.io/v1/namespaces/istio-system/peerauthentications/default",
            "/apis/networking.istio.io/v1/namespaces/bookinfo/gateways/bookinfo-gateway",
            "/apis/networking.istio.io/v1/namespaces/bookinfo/virtualservices/bookinfo",
            "/apis/networking.istio.io/v1/namespaces/bookinfo/destinationrules/reviews",
            "/apis/security.istio.io/v1/namespaces/bookinfo/authorizationpolicies/default-deny",
        ];
        for (const object of objects) {
            const created = Date.parse((await cluster.json<{ metadata: { creationTimestamp: string } }>(object)).metadata.creationTimestamp);
            // creationTimestamp has whole seconds: created at least a second before istiod's CA reached the webhook.
            expect(created, `${object} was created before istiod's CA reached the webhook`).to.be.lessThan(caArrived - 1000);
        }
        const window = seen.filter((s) => s.at < caArrived);
        expect(window.length, "the validator was watched during the window").to.be.greaterThan(0);
        expect(window.every((s) => s.failurePolicy === "Ignore" && !s.caBundle), JSON.stringify(window.slice(0, 3))).to.equal(true);
        // Each object was admitted at its first attempt: neither the provider nor the program retried a create.
        const retries = r.diagnostics.filter((d) => /Retry #|creation failed|failed calling webhook/.test(d.message));
        expect(retries.map((d) => d.message)).to.deep.equal([]);
        expect(r.output.join("")).to.not.match(/Retry #|failed calling webhook/);
    });

    it("had a window in which a webhook created failing closed refused Istio objects", async () => {
        // What the program created before: the same webhook failing closed, without istiod's CA. A copy of it, for
        // objects labelled race=fail-closed only, shows what it did to the objects above.
        const created = await cluster.request("POST", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", {
            apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingWebhookConfiguration", metadata: { name: "fail-closed-without-ca" },
            webhooks: [{
                name: "validation.istio.io", failurePolicy: "Fail", sideEffects: "None", admissionReviewVersions: ["v1"],
                clientConfig: { service: { name: "istiod", namespace: "istio-system", path: "/validate" } },
                rules: [{ operations: ["CREATE"], apiGroups: ["networking.istio.io"], apiVersions: ["*"], resources: ["*"] }],
                objectSelector: { matchLabels: { race: "fail-closed" } },
            }],
        });
        expect(created.status).to.equal(201);
        try {
            const valid = { ...invalidVirtualService("valid", { race: "fail-closed" }), spec: { hosts: ["productpage"], http: [{ route: [{ destination: { host: "productpage" } }] }] } };
            const refused = await eventually(async () => {
                const res = await cluster.request("POST", "/apis/networking.istio.io/v1/namespaces/bookinfo/virtualservices", valid);
                return res.status === 500 && res.body.includes("failed calling webhook") && res.body.includes("x509");
            }, 10_000, 500);
            expect(refused, "a valid VirtualService is refused: the API server cannot verify istiod's certificate").to.equal(true);
        } finally {
            await cluster.request("DELETE", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/fail-closed-without-ca");
        }
    });

    it("calls istiod as the chart's own validator does: same service, path, rules, side effects and review versions", async () => {
        type Webhook = { clientConfig: { service: unknown }; rules: unknown; sideEffects: string; admissionReviewVersions: string[]; objectSelector: unknown };
        const pick = (w: Webhook) => ({ service: w.clientConfig.service, rules: w.rules, sideEffects: w.sideEffects, admissionReviewVersions: w.admissionReviewVersions });
        const chart = (await cluster.json<{ webhooks: Webhook[] }>(`/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/istio-validator-istio-system`)).webhooks[0];
        const ours = (await cluster.json<{ webhooks: Webhook[] }>(VALIDATOR)).webhooks[0];
        expect(pick(ours)).to.deep.equal(pick(chart));
        // The revision's own validator takes the objects labelled for it; the default one those without a label.
        expect(chart.objectSelector).to.deep.equal({ matchExpressions: [{ key: "istio.io/rev", operator: "In", values: ["default"] }] });
        expect(ours.objectSelector).to.deep.equal({ matchExpressions: [{ key: "istio.io/rev", operator: "DoesNotExist" }] });
    });

    it("validates what carries no revision label, and leaves objects labelled for another revision to that revision", async () => {
        const refused = await cluster.request("POST", "/apis/networking.istio.io/v1/namespaces/bookinfo/virtualservices", invalidVirtualService("unlabelled"));
        expect(refused.status).to.equal(400);
        expect(refused.body).to.include('admission webhook \\"validation.istio.io\\" denied the request');
        // No control plane of revision "retired" runs here, and the default revision's validator does not select it.
        const elsewhere = await cluster.request("POST", "/apis/networking.istio.io/v1/namespaces/bookinfo/virtualservices", invalidVirtualService("labelled", { "istio.io/rev": "retired" }));
        expect(elsewhere.status, elsewhere.body).to.equal(201);
        await cluster.request("DELETE", "/apis/networking.istio.io/v1/namespaces/bookinfo/virtualservices/labelled");
    });

    it("previews no changes although istiod changed the webhook, also after a refresh", async () => {
        await stack.refresh({ onOutput: recorder().onOutput });
        const preview = await stack.preview({ expectNoChanges: true });
        expect(Object.keys(preview.changeSummary).sort()).to.deep.equal(["read", "same"]);
    });

    it("is destroyed", async () => {
        await stack.destroy({ onOutput: recorder().onOutput });
        expect(await cluster.names("/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations")).to.deep.equal([]);
    });
});
