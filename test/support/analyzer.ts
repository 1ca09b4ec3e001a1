/**
 * Runs the policy pack's rules on resources the way the analyzer does (@pulumi/policy's server): each resource's
 * properties behind @pulumi/policy's `unknownCheckingProxy`, so that a rule reading a value a preview does not know
 * fails as it would there; a rule's configuration is its schema's defaults under the pack configuration given
 * (as the engine reconciles them); a violation takes the rule's configured level, else the rule's, else the
 * pack's. @pulumi/policy 1.21.0 ships no test helpers of its own beyond the proxy; the argument bags follow its
 * `ResourceValidationArgs` and `StackValidationArgs`.
 */
import {
    EnforcementLevel, Policies, Policy, PolicyResource, ResourceValidationArgs, StackValidationArgs, StackValidationPolicy,
    UnknownValueError, unknownCheckingProxy,
} from "@pulumi/policy";

/** A resource as the engine hands it to the pack: type, name, properties (unknowns as the engine's sentinels). */
export interface AnalyzedResource {
    type: string;
    name: string;
    props: Record<string, unknown>;
    /** Defaults to a URN made of the type and name. */
    urn?: string;
    protect?: boolean;
}

export interface Violation {
    policy: string;
    level: EnforcementLevel;
    message: string;
    urn: string;
}

export interface Analysis {
    violations: Violation[];
    /** Rules that declared themselves not applicable, with their reason. */
    notApplicable: Array<{ policy: string; reason: string }>;
    /** Rules that read a value the preview does not know (the analyzer reports these as advisory). */
    unknownReads: Array<{ policy: string; message: string }>;
}

/** What the pack's configuration says per rule (`--policy-pack-config`): a level and properties. */
export type PackConfig = Record<string, { enforcementLevel?: EnforcementLevel } & Record<string, unknown>>;

class NotApplicable extends Error {
    constructor(public readonly reason: string) {
        super(reason);
    }
}

export const urnOf = (r: AnalyzedResource): string => r.urn ?? `urn:pulumi:test::pks-istio-mesh::${r.type}::${r.name}`;

/** A rule's configuration: its schema's defaults, then the pack configuration's properties. */
function configOf(policy: Policy, config: PackConfig): object {
    const defaults = Object.fromEntries(Object.entries(policy.configSchema?.properties ?? {})
        .filter(([, schema]) => "default" in schema).map(([key, schema]) => [key, schema.default]));
    const { enforcementLevel: _level, ...properties } = config[policy.name] ?? {};
    return { ...defaults, ...properties };
}

function opts(r: AnalyzedResource): ResourceValidationArgs["opts"] {
    return { protect: r.protect ?? false, ignoreChanges: [], aliases: [], additionalSecretOutputs: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 } };
}

/**
 * Runs every rule of `policies` on `resources`, with `packLevel` as the pack's default level. In a stack's first
 * preview (`firstPreview`) the engine hands the stack checks no properties: it checks outputs, and nothing exists
 * yet (what the Pulumi CLI does, seen in test/e2e/policy.e2e.ts).
 */
export async function analyze(policies: Policies, resources: AnalyzedResource[], packLevel: EnforcementLevel, config: PackConfig = {}, firstPreview = false): Promise<Analysis> {
    const analysis: Analysis = { violations: [], notApplicable: [], unknownReads: [] };
    const notApplicable = (reason?: string): never => {
        throw new NotApplicable(reason ?? "");
    };
    const stackTags: ReadonlyMap<string, string> = new Map();
    for (const policy of policies) {
        const level = config[policy.name]?.enforcementLevel ?? config.all?.enforcementLevel ?? policy.enforcementLevel ?? packLevel;
        if (level === "disabled") {
            continue;
        }
        const getConfig = <T extends object>(): T => configOf(policy, config) as T;
        const run = async (check: () => unknown) => {
            try {
                await check();
            } catch (e) {
                if (e instanceof NotApplicable) {
                    analysis.notApplicable.push({ policy: policy.name, reason: e.reason });
                } else if (e instanceof UnknownValueError) {
                    analysis.unknownReads.push({ policy: policy.name, message: (e as Error).message });
                } else {
                    throw e;
                }
            }
        };
        if ("validateResource" in policy && policy.validateResource) {
            const validations = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
            for (const r of resources) {
                const urn = urnOf(r);
                const report = (message: string) => analysis.violations.push({ policy: policy.name, level, message, urn });
                const args: ResourceValidationArgs = {
                    type: r.type, props: unknownCheckingProxy(r.props), urn, name: r.name, opts: opts(r), stackTags, getConfig, notApplicable,
                    isType: () => false, asType: () => undefined,
                };
                for (const validate of validations) {
                    await run(() => validate(args, report));
                }
            }
        }
        if ("validateStack" in policy) {
            const stackResources: PolicyResource[] = resources.map((r) => ({
                type: r.type, props: unknownCheckingProxy(firstPreview ? {} : r.props), urn: urnOf(r), name: r.name, opts: opts(r),
                dependencies: [], propertyDependencies: {}, isType: () => false, asType: () => undefined,
            }));
            const args: StackValidationArgs = { resources: stackResources, stackTags, getConfig, notApplicable };
            const report = (message: string, urn?: string) => analysis.violations.push({ policy: policy.name, level, message, urn: urn ?? "" });
            await run(() => (policy as StackValidationPolicy).validateStack(args, report));
        }
    }
    return analysis;
}
