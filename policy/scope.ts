/**
 * Rules that only make sense for production (named hosts, a protected cluster): they apply to production stacks,
 * and to every stack when the pack's configuration sets their `everyStack`.
 */
import { PolicyConfigSchema, ResourceValidationArgs } from "@pulumi/policy";
import { PackEnvironment } from "./environment";

/** The configuration of a production-only rule. */
export interface ProductionScopeConfig {
    /** Apply the rule to every stack, not only to production stacks. */
    everyStack?: boolean;
}

export const productionScopeSchema: PolicyConfigSchema = {
    properties: {
        everyStack: { type: "boolean", default: false, description: "Apply this rule to every stack, not only to production stacks." },
    },
};

/** Ends the check as not applicable outside production unless the rule's `everyStack` is set. */
export function requireProductionScope(environment: PackEnvironment, args: Pick<ResourceValidationArgs, "getConfig" | "notApplicable">): void {
    if (!environment.production && !args.getConfig<ProductionScopeConfig>().everyStack) {
        args.notApplicable(`stack ${environment.stack} is not a production stack (set everyStack to apply this rule to it)`);
    }
}
