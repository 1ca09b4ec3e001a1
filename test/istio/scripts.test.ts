/**
 * The cluster scripts the components run through the command provider, run as the provider runs them (the
 * launcher, from the project directory), on bad input: one line naming the step, exit status 1, no stack trace.
 * Their work on a real API server is covered by the end-to-end suites.
 */
import { expect } from "chai";
import { spawnSync } from "child_process";
import { V1ManagedFieldsEntry } from "@kubernetes/client-node";
import { onlyOwnManagersSet } from "../../programs/mesh/namespaceLabels";
import { ROOT } from "../support/stacks";

function run(script: string, args: string[], env: Record<string, string>): { status: number | null; stderr: string; stdout: string } {
    const result = spawnSync("node", ["components/launcher/run.js", script, ...args], {
        cwd: ROOT, encoding: "utf8", env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    });
    return { status: result.status, stderr: result.stderr, stdout: result.stdout };
}

describe("cluster scripts on bad input", function () {
    this.timeout(30_000);

    it("namespaceLabels names the missing input, the unreadable kubeconfig and the unknown operation", () => {
        const script = "components/istio/namespaceLabels.ts";
        expect(run(script, ["remove"], {})).to.deep.include({ status: 1, stdout: "", stderr: "namespace-labels: reading inputs: NAMESPACE_LABELS_NAMESPACE is not set\n" });
        const base = { NAMESPACE_LABELS_NAMESPACE: "shop", NAMESPACE_LABELS_REMOVE: '{"istio-injection":null}' };
        expect(run(script, ["remove"], { ...base, NAMESPACE_LABELS_REMOVE: "istio-injection" }).stderr)
            .to.equal("namespace-labels: reading inputs: NAMESPACE_LABELS_REMOVE is not a JSON object of label keys\n");
        expect(run(script, ["remove"], { ...base, NAMESPACE_LABELS_KUBECONFIG: "{not yaml: [" }).stderr).to.match(/^namespace-labels: reading the kubeconfig: .+\n$/);
        expect(run(script, ["remove"], { ...base, NAMESPACE_LABELS_KUBECONFIG: "apiVersion: v1\nkind: Config\nclusters: []\n" }).stderr)
            .to.equal("namespace-labels: reading the kubeconfig: it has no current context with a cluster\n");
        expect(run(script, ["remove"], { ...base, NAMESPACE_LABELS_OWN_MANAGERS: "pulumi-kubernetes" }).stderr)
            .to.equal("namespace-labels: reading inputs: NAMESPACE_LABELS_OWN_MANAGERS is not a JSON list of field-manager names\n");
        const wrong = run(script, ["rename"], base);
        expect(wrong).to.deep.include({ status: 1, stderr: "namespace-labels: unknown operation 'rename': expected remove or restore\n" });
    });

    it("namespaceLabels reports an unreachable API server as the step that failed", () => {
        const kubeconfig = "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n" +
            "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {token: t}}]\n";
        const result = run("components/istio/namespaceLabels.ts", ["remove"], {
            NAMESPACE_LABELS_NAMESPACE: "shop", NAMESPACE_LABELS_REMOVE: '{"istio-injection":null}', NAMESPACE_LABELS_KUBECONFIG: kubeconfig,
        });
        expect(result.status).to.equal(1);
        expect(result.stderr).to.match(/^namespace-labels: reading namespace shop: .*ECONNREFUSED.*\n$/);
    });

    it("meshInventory names the missing kubeconfig and the unknown operation", () => {
        const script = "components/istio/meshInventory.ts";
        expect(run(script, ["inventory"], {})).to.deep.include({ status: 1, stderr: "mesh-inventory: reading inputs: MESH_INVENTORY_KUBECONFIG is not set\n" });
        expect(run(script, ["list"], {})).to.deep.include({ status: 1, stderr: "mesh-inventory: unknown operation 'list': expected inventory\n" });
    });

    it("namespaceLabels counts a label as the program's own only when field managers of exactly its names set it", () => {
        const setting = (manager: string, ...labels: string[]): V1ManagedFieldsEntry => ({
            manager, operation: "Apply", fieldsV1: { "f:metadata": { "f:labels": Object.fromEntries(labels.map((l) => [`f:${l}`, {}])) } },
        });
        const own = ["pks-istio-mesh/dev"];
        expect(onlyOwnManagersSet([setting("pks-istio-mesh/dev", "istio-injection")], "istio-injection", own)).to.equal(true);
        // Another Pulumi program's patch, another stack of this one, and a prefix are not the program's own.
        expect(onlyOwnManagersSet([setting("pulumi-kubernetes-1a2b3c4d", "istio-injection")], "istio-injection", own)).to.equal(false);
        expect(onlyOwnManagersSet([setting("pks-istio-mesh/prod", "istio-injection")], "istio-injection", own)).to.equal(false);
        expect(onlyOwnManagersSet([setting("pks-istio-mesh/dev-2", "istio-injection")], "istio-injection", own)).to.equal(false);
        // Set by the program and by someone else: not the program's alone.
        expect(onlyOwnManagersSet([setting("pks-istio-mesh/dev", "istio-injection"), setting("kubectl-label", "istio-injection")], "istio-injection", own)).to.equal(false);
        // Nobody's record: not the program's.
        expect(onlyOwnManagersSet([setting("pks-istio-mesh/dev", "team")], "istio-injection", own)).to.equal(false);
    });
});
