/**
 * The PKS layer: the CLI verifies the PKS API's certificate, and production clusters cannot be deleted by a stray
 * `pulumi destroy`. The PKS components run pksctl as command-provider Commands; their environment carries
 * pksctl's inputs (components/pks/contract.ts), which these rules read.
 */
import { ResourceValidationPolicy } from "@pulumi/policy";
import { PKSCTL_ENV } from "../programs/pksctl/contract";
import { PackEnvironment } from "./environment";
import { COMMAND, at, stringAt } from "./resources";
import { productionScopeSchema, requireProductionScope } from "./scope";

/**
 * What a pksctl Command manages, from its environment and verb: a cluster, a network profile, the stack's claim on
 * one of their names (`claim-*`: logs in, creates and deletes nothing), or neither.
 */
function pksctlObject(props: unknown): "cluster" | "network profile" | "claim" | undefined {
    const object = at(props, "environment", PKSCTL_ENV.cluster) !== undefined ? "cluster"
        : at(props, "environment", PKSCTL_ENV.networkProfile) !== undefined ? "network profile" : undefined;
    const verb = stringAt(props, "create");
    return object !== undefined && typeof verb === "string" && verb.startsWith("claim-") ? "claim" : object;
}

export const pksTlsVerified: ResourceValidationPolicy = {
    name: "pks-tls-verified",
    description: "pksctl verifies the PKS API certificate: pksSkipTlsValidation is off.",
    remediationSteps: "Set pksCaCert to the PEM of the CA that signed the PKS API certificate and pksSkipTlsValidation to false.",
    severity: "high",
    validateResource: (args, report) => {
        if (args.type !== COMMAND || pksctlObject(args.props) === undefined) {
            return;
        }
        const skip = stringAt(args.props, "environment", PKSCTL_ENV.skipTlsValidation);
        if (skip === "true") {
            const api = stringAt(args.props, "environment", PKSCTL_ENV.api);
            report(`pksctl logs in to the PKS API${typeof api === "string" ? ` at ${api}` : ""} without verifying its certificate (pksSkipTlsValidation: true, \`login -k\`).`);
        }
    },
};

export function pksClusterProtected(environment: PackEnvironment): ResourceValidationPolicy {
    return {
        name: "pks-cluster-protected",
        description: "In production, the PKS cluster is protected: `pulumi destroy` or a replacement cannot delete it (clusterProtect).",
        remediationSteps: "Set clusterProtect to true (pulumi config set clusterProtect true) and run pulumi up.",
        severity: "high",
        configSchema: productionScopeSchema,
        validateResource: (args, report) => {
            if (args.type !== COMMAND || pksctlObject(args.props) !== "cluster") {
                return;
            }
            requireProductionScope(environment, args);
            if (!args.opts.protect) {
                report("the PKS cluster is not protected: `pulumi destroy` (or a change that replaces it) would run delete-cluster.");
            }
        },
    };
}
