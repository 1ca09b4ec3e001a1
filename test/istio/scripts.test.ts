/**
 * The cluster scripts the components run through the command provider, run as the provider runs them (the
 * launcher, from the project directory), on bad input: one line naming the step, exit status 1, no stack trace.
 * Their work on a real API server is covered by the end-to-end suites.
 */
import { expect } from "chai";
import { spawnSync } from "child_process";
import { ROOT } from "../stacks";

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
});
