/**
 * Which environment a stack is, and what that means for the pack: every rule is mandatory in a production stack
 * and advisory elsewhere, unless the pack's configuration (`--policy-pack-config`) sets a rule's level.
 */
import { EnforcementLevel } from "@pulumi/policy";

/** The program's name: its configuration keys are `pks-istio-mesh:<key>`. */
export const PROGRAM = "pks-istio-mesh";

/** A production stack's name: `prod` or `production`, alone or as the first or last part (`prod-eu`, `eu-prod`). */
export const PRODUCTION_STACK = /^(prod|production)([-_.].+)?$|^.+[-_.](prod|production)$/i;

/** What the pack knows about the stack it checks. */
export interface PackEnvironment {
    /** The stack's name; empty when the pack runs without one (e.g. `pulumi policy publish`). */
    stack: string;
    /** A production stack: its name says so (`PRODUCTION_STACK`), or there is no stack to tell. */
    production: boolean;
    /** The level of every rule unless the pack's configuration says otherwise. */
    enforcementLevel: EnforcementLevel;
    /** The stack's `imageHub`: the registry every image comes from unless the pack's configuration names one. */
    imageHub?: string;
}

/**
 * The environment of `stack`, with `config` reading the stack's configuration (the engine hands the stack's name
 * and configuration to the pack: `pulumi.getStack()` and `pulumi.Config`).
 */
export function packEnvironment(stack: string, config: (key: string) => string | undefined): PackEnvironment {
    const production = stack === "" || PRODUCTION_STACK.test(stack);
    const imageHub = config("imageHub");
    return {
        stack,
        production,
        enforcementLevel: production ? "mandatory" : "advisory",
        ...(imageHub ? { imageHub: imageHub.replace(/\/+$/, "") } : {}),
    };
}
