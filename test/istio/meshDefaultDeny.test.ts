/**
 * The mesh-wide default deny under Pulumi mocks: one allow-nothing AuthorizationPolicy in the root namespace,
 * admitted by istiod's webhook, created after the ALLOW policies it must not lock out, valid against Istio's CRDs.
 */
import * as k8s from "@pulumi/kubernetes";
import { expect } from "chai";
import { IstioBase } from "../../components/istio/base";
import { IstioControlPlane } from "../../components/istio/controlPlane";
import { IstioDefaultValidator } from "../../components/istio/defaultValidator";
import { MeshDefaultDeny } from "../../components/istio/meshDefaultDeny";
import { AuthorizationPolicy } from "../../components/istio/resources";
import { Recorder, mocks, useMocks } from "../support/harness";
import { validateManifests } from "../support/validate";

const charts = { repository: "https://blob.istio.io/istio-release/charts", version: "1.30.3" };
const POLICY = "kubernetes:security.istio.io/v1:AuthorizationPolicy";

describe("MeshDefaultDeny", () => {
    before(() => useMocks());
    beforeEach(() => mocks.reset());

    it("puts an allow-nothing policy in the root namespace, after the ALLOW policies it is given", async () => {
        const recorder = new Recorder();
        const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
        const base = new IstioBase("istio", { provider, charts });
        const controlPlane = new IstioControlPlane("istio", { provider, charts, base });
        const allow = new AuthorizationPolicy("allow", { metadata: { name: "allow", namespace: "shop" }, spec: { action: "ALLOW", rules: [{ to: [{ operation: { methods: ["GET"] } }] }] } }, { provider });
        const { validation } = new IstioDefaultValidator("istio", { provider, controlPlane });
        new MeshDefaultDeny("mesh", { provider, validation, after: [allow] }, recorder.opts());
        await recorder.settle();
        expect(mocks.find(POLICY, "mesh-default-deny").inputs).to.deep.equal({
            apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy", metadata: { name: "default-deny", namespace: "istio-system" }, spec: {},
        });
        expect(recorder.explicitDependencies(POLICY, "mesh-default-deny")).to.deep.equal([controlPlane.release, validation.readyBefore[1], allow]);
        validateManifests(mocks.ofType(POLICY));
    });
});
