/**
 * The JSON documents the CLI prints, checked for shape before anything uses them: cluster and network profile
 * objects. A document that is not JSON, nests absurdly deep or lacks a field pksctl relies on is rejected with a
 * message that says what was wrong (a MalformedOutput: the call is tried again). Also the JSON helpers that
 * pksctl's own inputs (inputs.ts) use.
 */
import { z } from "zod";
import { MalformedOutput } from "./errors";

/** Deeper than this, a document is refused (rendering or comparing it could exhaust the stack). */
export const MAX_DEPTH = 64;

/** How deep a JSON value nests, counted without recursion; stops counting past `limit`. */
function depthOf(value: unknown, limit: number): number {
    let deepest = 0;
    const stack: Array<[unknown, number]> = [[value, 1]];
    while (stack.length > 0) {
        const [current, depth] = stack.pop()!;
        if (current === null || typeof current !== "object") {
            continue;
        }
        deepest = Math.max(deepest, depth);
        if (deepest > limit) {
            return deepest;
        }
        for (const child of Object.values(current as Record<string, unknown>)) {
            stack.push([child, depth + 1]);
        }
    }
    return deepest;
}

/**
 * Parses JSON text, refusing what is not JSON or nests deeper than MAX_DEPTH with a MalformedOutput whose message
 * completes a sentence about the text: `is not JSON: …`, `nests deeper than 64 levels`.
 */
export function parseJson(text: string): unknown {
    let value: unknown;
    try {
        value = JSON.parse(text);
    } catch {
        const shown = text.trim().replace(/\s+/g, " ");
        throw new MalformedOutput(`is not JSON${shown ? `: ${shown.length > 120 ? `${shown.slice(0, 117)}...` : shown}` : " (it is empty)"}`);
    }
    if (depthOf(value, MAX_DEPTH) > MAX_DEPTH) {
        throw new MalformedOutput(`nests deeper than ${MAX_DEPTH} levels`);
    }
    return value;
}

/** One line naming every problem zod found, e.g. `uuid: is required; parameters: expected an object`. */
export function describeIssues(error: z.ZodError): string {
    return error.issues.map((issue) => {
        const where = issue.path.map(String).join(".");
        // A record key's own problem is more telling than "Invalid key in record".
        const text = issue.code === "invalid_key" && issue.issues.length > 0 ? issue.issues[0].message : issue.message;
        const message = /received undefined$/.test(text) ? "is required" : text.replace(/^Invalid input: /, "");
        return where ? `${where}: ${message}` : message;
    }).join("; ");
}

/** A CLI document, parsed and checked against its schema; `what` names it in messages. */
function parseDocument<T>(schema: z.ZodType<T>, text: string, what: string): T {
    let value: unknown;
    try {
        value = parseJson(text);
    } catch (e) {
        throw e instanceof MalformedOutput ? new MalformedOutput(`${what} ${e.message}`) : e;
    }
    const result = schema.safeParse(value);
    if (!result.success) {
        throw new MalformedOutput(`${what} does not have the expected shape (${describeIssues(result.error)})`);
    }
    return result.data;
}

/** A JSON object whose keys map to anything. */
const jsonObject = z.record(z.string(), z.unknown());

/**
 * A profile's `parameters`: an object, or (as PKS's API types it) a string holding a JSON object.
 */
const profileParameters = z.unknown().transform((value, ctx): Record<string, unknown> => {
    let parsed = value;
    if (typeof value === "string") {
        try {
            parsed = parseJson(value);
        } catch {
            parsed = undefined;
        }
    }
    const object = jsonObject.safeParse(parsed);
    if (object.success) {
        return object.data;
    }
    ctx.addIssue({
        code: "custom",
        message: value === undefined ? "is required"
            : typeof value === "string" ? "a string that does not hold a JSON object" : "expected an object (or a string holding a JSON object)",
    });
    return z.NEVER;
});

/** The fields of `pks cluster NAME --json` (and of each item of `pks clusters --json`) that pksctl reads. */
export const clusterObject = z.object({
    name: z.string().min(1),
    plan_name: z.string(),
    uuid: z.string().min(1),
    last_action: z.string(),
    last_action_state: z.string(),
    last_action_description: z.string().nullish().transform((d) => d ?? ""),
    kubernetes_master_ips: z.array(z.string()).nullish(),
    network_profile_name: z.string().nullish(),
    // The cluster's versions and the upgrades the control plane offers it: field names of the PKS API's cluster
    // model (the documents show the values in text: `TKGI Version`, `K8s Version`, "Upgrade is available to").
    pks_version: z.string().nullish(),
    k8s_version: z.string().nullish(),
    available_upgrades: z.array(z.object({ component: z.string().nullish(), version: z.string().nullish() })).nullish(),
    parameters: z.object({
        kubernetes_master_host: z.string(),
        kubernetes_master_port: z.number().int().nullish(),
        kubernetes_worker_instances: z.number().int(),
        cluster_tags: z.array(z.object({ name: z.string(), value: z.string() })).nullish(),
    }),
});

/** A PKS cluster as pksctl reads it. */
export type ClusterObject = z.infer<typeof clusterObject>;

/** The fields of `pks network-profile NAME --json` that pksctl reads. */
export const profileObject = z.object({
    name: z.string().min(1),
    uuid: z.string().nullish().transform((u) => u ?? ""),
    description: z.string().nullish().transform((d) => d ?? ""),
    parameters: profileParameters,
});

/** A PKS network profile as pksctl reads it. */
export type ProfileObject = z.infer<typeof profileObject>;

/** `pks cluster NAME --json`. */
export function parseCluster(text: string): ClusterObject {
    return parseDocument(clusterObject, text, "the CLI's cluster document");
}

/** `pks clusters --json`. */
export function parseClusters(text: string): ClusterObject[] {
    return parseDocument(z.array(clusterObject), text, "the CLI's cluster list");
}

/** `pks network-profile NAME --json`. */
export function parseProfile(text: string): ProfileObject {
    return parseDocument(profileObject, text, "the CLI's network profile document");
}

/** `pks network-profiles --json`. */
export function parseProfiles(text: string): ProfileObject[] {
    return parseDocument(z.array(profileObject), text, "the CLI's network profile list");
}
