/**
 * What the project's cluster scripts (namespaceLabels.ts, meshInventory.ts) share: loading the kubeconfig they
 * get in their environment, and turning the Kubernetes client's failures into one line naming the step.
 */
import { KubeConfig } from "@kubernetes/client-node";

/** An expected failure; `main` prints `<script>: <message>` and exits 1, never a stack trace. */
export class StepError extends Error {}

/** The value of a required environment variable. */
export function requiredEnv(name: string): string {
    const value = process.env[name];
    if (!value) {
        throw new StepError(`reading inputs: ${name} is not set`);
    }
    return value;
}

/** A KubeConfig from the kubeconfig text in the environment variable `name`. */
export function kubeconfigFromEnv(name: string): KubeConfig {
    const kubeconfig = new KubeConfig();
    try {
        kubeconfig.loadFromString(requiredEnv(name));
    } catch (e) {
        throw e instanceof StepError ? e : new StepError(`reading the kubeconfig: ${(e as Error).message.split("\n")[0]}`);
    }
    if (!kubeconfig.getCurrentCluster()) {
        throw new StepError("reading the kubeconfig: it has no current context with a cluster");
    }
    return kubeconfig;
}

/** The API server's message of a failed call (its Status `message`), else the error's own. */
export function apiMessage(e: unknown): string {
    const body = (e as { body?: unknown }).body;
    if (typeof body === "string") {
        try {
            return (JSON.parse(body) as { message?: string }).message ?? body;
        } catch {
            return body;
        }
    }
    return (e as Error).message;
}

/** Whether a failed call was answered 404. */
export function isNotFound(e: unknown): boolean {
    return (e as { code?: number }).code === 404;
}

/** Runs a script's main function: one line `<script>: <message>` and exit status 1 on failure. */
export function runScript(script: string, main: () => Promise<void>): void {
    main().catch((e: unknown) => {
        process.stderr.write(`${script}: ${e instanceof StepError ? e.message : (e as Error).message}\n`);
        process.exitCode = 1;
    });
}
