/**
 * The PKS layer: the CLI verifies the PKS API's certificate, and production clusters cannot be deleted by a stray
 * `pulumi destroy`. The PKS components run pksctl as command-provider Commands; their environment carries
 * pksctl's inputs (components/pks/contract.ts), which these rules read.
 */
import { ResourceValidationPolicy } from "@pulumi/policy";
import { PKSCTL_ENV } from "../programs/pksctl/contract";
import type { PksctlOperation } from "../programs/pksctl/inputs";
import { PackEnvironment } from "./environment";
import { COMMAND, at, stringAt } from "./resources";
import { productionScopeSchema, requireProductionScope } from "./scope";

/** Whether a Command runs pksctl against a PKS API: its environment names the API pksctl logs in to. */
function runsPksctl(props: unknown): boolean {
    return at(props, "environment", PKSCTL_ENV.api) !== undefined;
}

/** Whether `pulumi destroy` (or a replacement) of a Command deletes a PKS cluster: its delete runs `delete-cluster`. */
function deletesCluster(props: unknown): boolean {
    const operation: PksctlOperation = "delete-cluster";
    return stringAt(props, "delete") === operation;
}

export const pksTlsVerified: ResourceValidationPolicy = {
    name: "pks-tls-verified",
    description: "pksctl verifies the PKS API certificate: pksSkipTlsValidation is off.",
    remediationSteps: "Set pksCaCert to the PEM of the CA that signed the PKS API certificate and pksSkipTlsValidation to false.",
    severity: "high",
    validateResource: (args, report) => {
        if (args.type !== COMMAND || !runsPksctl(args.props)) {
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
            if (args.type !== COMMAND || !deletesCluster(args.props)) {
                return;
            }
            requireProductionScope(environment, args);
            if (!args.opts.protect) {
                report("the PKS cluster is not protected: `pulumi destroy` (or a change that replaces it) would run delete-cluster.");
            }
        },
    };
}
