/**
 * A cluster's kubeconfig as the program reads it: the API server of its current context, and whether it verifies
 * who answers there (a kubeconfig that does not is refused unless allowInsecureKubeconfig).
 */
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { ConfigError, PROJECT } from "./schema";

/** The cluster of a kubeconfig's current context (what a client connects to). */
interface KubeconfigCluster {
    server: string;
    "insecure-skip-tls-verify"?: boolean;
}

/** Reads a kubeconfig; returns its current context's cluster, or throws naming `origin`. */
function currentCluster(kubeconfig: string, origin: string): KubeconfigCluster {
    let doc: unknown;
    try {
        doc = YAML.parse(kubeconfig);
    } catch (e) {
        throw new Error(`${origin} is not valid YAML: ${(e as Error).message.split("\n")[0]}`);
    }
    const config = doc as { "current-context"?: string; contexts?: Array<{ name: string; context?: { cluster?: string } }>; clusters?: Array<{ name: string; cluster?: Partial<KubeconfigCluster> }> } | null;
    const contextName = config?.["current-context"];
    const context = config?.contexts?.find((c) => c.name === contextName);
    const cluster = config?.clusters?.find((c) => c.name === context?.context?.cluster)?.cluster;
    if (!contextName || !cluster?.server) {
        throw new Error(`${origin} has no current-context with a cluster server URL`);
    }
    return { ...cluster, server: cluster.server };
}

/** Reads and checks the kubeconfig of an existing cluster; returns its current context's API server URL. */
export function kubeconfigServer(kubeconfig: string, origin: string): string {
    return currentCluster(kubeconfig, origin).server;
}

/**
 * Why a kubeconfig does not verify who answers as the API server, or undefined when it does: its current cluster
 * skips TLS verification (`insecure-skip-tls-verify: true`), or its server is plain `http://`. Such a connection
 * hands the cluster-admin credentials and everything the program deploys to whoever answers.
 */
export function insecureKubeconfig(kubeconfig: string, origin: string): string | undefined {
    const cluster = currentCluster(kubeconfig, origin);
    if (/^http:\/\//i.test(cluster.server)) {
        return `${origin} reaches the API server over plain http (${cluster.server})`;
    }
    const skip = cluster["insecure-skip-tls-verify"] as unknown;
    if (skip === true || skip === "true") {
        return `${origin} skips verifying the API server's certificate (insecure-skip-tls-verify: true)`;
    }
    return undefined;
}

/** The refusal of a kubeconfig that does not verify the API server. */
export function insecureKubeconfigRefusal(reason: string): string {
    return `${reason}: give it the cluster's CA (certificate-authority-data) so that the API server is verified, ` +
        `or set ${PROJECT}:allowInsecureKubeconfig to true to accept it`;
}

export function insecureKubeconfigWarning(reason: string): string {
    return `${reason}; accepted because ${PROJECT}:allowInsecureKubeconfig is true`;
}

/**
 * A cluster kubeconfig that is only known while the program runs (PKS's `get-credentials`), checked as
 * `loadConfig` checks an existing cluster's: one that does not verify the API server fails the program, naming
 * the setting, unless `allowInsecure`, which warns instead.
 */
export function verifiedKubeconfig(kubeconfig: string, origin: string, allowInsecure: boolean): string {
    const insecure = insecureKubeconfig(kubeconfig, origin);
    if (insecure !== undefined && !allowInsecure) {
        throw new ConfigError(insecureKubeconfigRefusal(insecure));
    }
    if (insecure !== undefined) {
        pulumi.log.warn(insecureKubeconfigWarning(insecure));
    }
    return kubeconfig;
}
