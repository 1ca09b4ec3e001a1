/**
 * pksctl's inputs: the PKSCTL_* environment variables, checked with one zod schema before anything runs. A bad
 * input ends the run with one line naming each variable and what is wrong with it (never the value of a
 * secret). Names that reach the CLI as arguments follow PKS's rules, so none can be read as a flag.
 */
import * as fs from "fs";
import * as path from "path";
import { z } from "zod";
import { ClusterSpec, NetworkProfileDocument, OWNER_TAG, PKSCTL_ENV } from "./contract";
import { describeIssues, parseJson } from "./documents";
import { MalformedOutput, PksctlError } from "./errors";
import { DEFAULT_RETRY, RetryPolicy } from "./retry";
import { BOSH_RESERVED_TAGS, PKS_NAME, PKS_NAME_RULE, PKS_TAG_KEY, PKS_TAG_PART } from "./names";

/** The operations pksctl performs, one per command-provider lifecycle step. */
export const OPERATIONS = [
    "claim-network-profile", "create-network-profile", "delete-network-profile",
    "claim-cluster", "create-cluster", "update-cluster", "delete-cluster", "get-credentials", "cluster-status",
] as const;

/** The operations on a network profile (the others are on a cluster). */
const PROFILE_OPERATIONS: readonly PksctlOperation[] = ["claim-network-profile", "create-network-profile", "delete-network-profile"];

export type PksctlOperation = (typeof OPERATIONS)[number];

/** How to reach and log in to the PKS API. Exactly one of password or client secret is set. */
export interface PksLogin {
    /** The CLI, as a path pksctl can execute. */
    cli: string;
    api: string;
    username?: string;
    password?: string;
    clientName?: string;
    clientSecret?: string;
    /** PEM text of the CA that signed the PKS API certificate; without it, the login skips validation (`-k`). */
    caCert?: string;
}

/** Everything a run needs, checked. */
export interface PksctlInputs {
    login: PksLogin;
    /** The profile (network-profile operations) or the cluster (the others). */
    profile?: NetworkProfileDocument;
    cluster?: ClusterSpec;
    /** How to tell the stack's own profile or cluster from someone else's. */
    ownership: Ownership;
    /** The step's deadline: how long the whole operation may take. */
    timeoutMs: number;
    /** How long an upgrade-cluster may take, on top of `timeoutMs`. */
    upgradeTimeoutMs: number;
    /** Time between two status polls. */
    pollMs: number;
    retry: RetryPolicy;
}

const show = (value: unknown) => JSON.stringify(value);

/** A single-line value that cannot be taken for a flag. */
const ARGUMENT = /^[^-\s]([^\r\n]*\S)?$/;
const ARGUMENT_RULE = "one line that does not start with '-' or a space";

const pksName = (what: string) =>
    z.string().regex(PKS_NAME, { error: (issue) => `${show(issue.input)} is not a valid ${what} name: expected ${PKS_NAME_RULE}` });
const argument = (what: string) =>
    z.string().regex(ARGUMENT, { error: (issue) => `${show(issue.input)} is not a valid ${what}: expected ${ARGUMENT_RULE}` });

const clusterSpec = z.strictObject({
    name: pksName("cluster"),
    externalHostname: argument("external hostname").max(64),
    plan: argument("plan name"),
    numNodes: z.number().int().min(1).optional(),
    networkProfile: pksName("network profile").optional(),
    tags: z.record(
        z.string().regex(PKS_TAG_KEY, { error: "tag keys must be non-empty, not start with '-' and contain no '\"', ':' or ','" })
            .refine((k) => !BOSH_RESERVED_TAGS.includes(k.toLowerCase()), { error: (issue) => `${show(issue.input)} is one of BOSH's reserved tag names (${BOSH_RESERVED_TAGS.join(", ")}), which TKGI ignores` })
            .refine((k) => k !== OWNER_TAG, { error: `${OWNER_TAG} is the ownership tag pksctl sets itself` }),
        z.string().regex(PKS_TAG_PART, { error: "tag values must be non-empty and contain no '\"', ':' or ','" }).max(80),
    ).optional(),
    upgradeTo: argument("TKGI version").optional(),
    tilePodIpBlockId: argument("Pods IP Block ID").optional(),
});

const ownershipDocument = z.strictObject({
    claim: z.strictObject({ marker: z.string().regex(PKS_TAG_PART), existingUuid: z.string().min(1).optional() }).optional(),
    uuid: z.string().min(1).optional(),
    adopt: z.boolean(),
    tag: z.boolean(),
});

/** How pksctl tells the stack's own objects from others (PKSCTL_OWNERSHIP); also what the previous run printed. */
export interface Ownership extends z.infer<typeof ownershipDocument> {
    /** The uuid of the object as the stack recorded it: `uuid`, or the previous run's document (PULUMI_COMMAND_STDOUT). */
    recordedUuid?: string;
}

/** Without PKSCTL_OWNERSHIP (pksctl run by hand): adopt nothing, tag what is created. */
const NO_OWNERSHIP = { adopt: false, tag: true };

const profileDocument = z.strictObject({
    name: pksName("network profile"),
    description: z.string().regex(/^[^\r\n]*$/, { error: "must be one line" }),
    parameters: z.record(z.string(), z.unknown(), { error: (issue) => (issue.input === undefined ? "is required" : "expected an object") }),
});

// --- Variables: each a string when set; an empty one counts as unset. ------------------------------------------

const unset = (value: unknown) => (value === "" ? undefined : value);
const required = <T extends z.ZodType>(schema: T) => z.preprocess(unset, schema);
const optional = <T extends z.ZodType>(schema: T) => z.preprocess(unset, schema.optional());
const notSet = (issue: { input?: unknown }) => (issue.input === undefined ? "is not set" : "expected text");

/** A value that must not be mistaken for a flag (API, user or client name). */
const argumentVariable = z.string({ error: notSet }).regex(ARGUMENT, { error: (issue) => `${show(issue.input)} is not allowed: expected ${ARGUMENT_RULE}` });
/** A secret typed at the CLI's prompt: one line. Messages never show it. */
const secretVariable = z.string({ error: notSet }).regex(/^[^\r\n]+$/, { error: "must be one line (it is typed at the CLI's prompt)" });
/** A positive number of seconds, in milliseconds. */
const secondsVariable = z.string().transform((text, ctx) => {
    const seconds = Number(text);
    if (!Number.isFinite(seconds) || seconds <= 0) {
        ctx.addIssue({ code: "custom", message: `must be a positive number of seconds, not ${show(text)}` });
        return z.NEVER;
    }
    return seconds * 1000;
});
/** A whole number of attempts. */
const attemptsVariable = z.string().transform((text, ctx) => {
    const attempts = Number(text);
    if (!Number.isInteger(attempts) || attempts < 1) {
        ctx.addIssue({ code: "custom", message: `must be a whole number of at least 1, not ${show(text)}` });
        return z.NEVER;
    }
    return attempts;
});
/** A JSON object in a variable, checked against its schema. */
const jsonVariable = <T>(schema: z.ZodType<T>) => z.string({ error: notSet }).transform((text, ctx): T => {
    let value: unknown;
    try {
        value = parseJson(text);
    } catch (e) {
        ctx.addIssue({ code: "custom", message: e instanceof MalformedOutput ? e.message : String(e) });
        return z.NEVER;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
        ctx.addIssue({ code: "custom", message: `must be a JSON object, not ${value === null ? "null" : Array.isArray(value) ? "an array" : show(value)}` });
        return z.NEVER;
    }
    const result = schema.safeParse(value);
    if (!result.success) {
        ctx.addIssue({ code: "custom", message: `does not have the expected shape (${describeIssues(result.error)})` });
        return z.NEVER;
    }
    return result.data;
});

/** The CLI as an executable path: a path (relative to the working directory) or a name looked up on PATH. */
const cliVariable = (searchPath: string) => z.string().default("pks").transform((cli, ctx) => {
    const candidates = cli.includes("/") || cli.includes(path.sep)
        ? [path.resolve(cli)]
        : searchPath.split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, cli));
    const found = candidates.find((file) => fs.statSync(file, { throwIfNoEntry: false })?.isFile());
    if (!found) {
        ctx.addIssue({ code: "custom", message: `'${cli}' was not found${candidates.length === 1 ? "" : " on PATH"}; install the pks or tkgi CLI, or set pksCli to its path` });
        return z.NEVER;
    }
    try {
        fs.accessSync(found, fs.constants.X_OK);
    } catch {
        ctx.addIssue({ code: "custom", message: `'${cli}' is not executable; make it executable (chmod +x) or set pksCli to the pks or tkgi CLI` });
        return z.NEVER;
    }
    return found;
});

/** The environment of `operation`: its document (profile or cluster), the login and the timing. */
function environment(onProfile: boolean, searchPath: string) {
    return z.object({
        [PKSCTL_ENV.networkProfile]: onProfile ? required(jsonVariable(profileDocument)) : z.unknown().optional(),
        [PKSCTL_ENV.cluster]: onProfile ? z.unknown().optional() : required(jsonVariable(clusterSpec)),
        [PKSCTL_ENV.ownership]: optional(jsonVariable(ownershipDocument)),
        [PKSCTL_ENV.timeoutSeconds]: optional(secondsVariable),
        [PKSCTL_ENV.upgradeTimeoutSeconds]: optional(secondsVariable),
        [PKSCTL_ENV.pollSeconds]: optional(secondsVariable),
        [PKSCTL_ENV.callTimeoutSeconds]: optional(secondsVariable),
        [PKSCTL_ENV.retryDelaySeconds]: optional(secondsVariable),
        [PKSCTL_ENV.retryAttempts]: optional(attemptsVariable),
        [PKSCTL_ENV.cli]: z.preprocess(unset, cliVariable(searchPath)),
        [PKSCTL_ENV.api]: required(argumentVariable),
        [PKSCTL_ENV.skipTlsValidation]: optional(z.enum(["true", "false"], { error: (issue) => `must be true or false, not ${show(issue.input)}` })),
        [PKSCTL_ENV.caCert]: optional(z.string().includes("-----BEGIN CERTIFICATE-----", { error: "is not a PEM certificate (no -----BEGIN CERTIFICATE----- line)" })),
        [PKSCTL_ENV.clientName]: optional(argumentVariable),
        [PKSCTL_ENV.clientSecret]: optional(secretVariable),
        [PKSCTL_ENV.username]: optional(argumentVariable),
        [PKSCTL_ENV.password]: optional(secretVariable),
    }).superRefine((env, ctx) => {
        const problem = (variable: string, message: string) => ctx.addIssue({ code: "custom", path: [variable], message });
        if (env[PKSCTL_ENV.caCert] === undefined && env[PKSCTL_ENV.skipTlsValidation] !== "true") {
            // Certificate validation is only ever skipped when asked for.
            problem(PKSCTL_ENV.caCert, `is not set and ${PKSCTL_ENV.skipTlsValidation} is not true: give the PKS API's CA certificate, or skip validation explicitly`);
        }
        if (env[PKSCTL_ENV.clientName] !== undefined) {
            if (env[PKSCTL_ENV.clientSecret] === undefined) {
                problem(PKSCTL_ENV.clientSecret, `is not set (needed with ${PKSCTL_ENV.clientName})`);
            }
        } else if (env[PKSCTL_ENV.username] === undefined) {
            problem(PKSCTL_ENV.username, `is not set (or log in as a client with ${PKSCTL_ENV.clientName})`);
        } else if (env[PKSCTL_ENV.password] === undefined) {
            problem(PKSCTL_ENV.password, `is not set (needed with ${PKSCTL_ENV.username})`);
        }
    });
}

/**
 * The uuid in the document the previous run of this resource printed, which the command provider hands an update
 * or delete in PULUMI_COMMAND_STDOUT; undefined when there is none (or it is not one of pksctl's documents).
 */
function previousUuid(env: NodeJS.ProcessEnv): string | undefined {
    try {
        const previous = JSON.parse(env.PULUMI_COMMAND_STDOUT ?? "") as { uuid?: unknown };
        return typeof previous.uuid === "string" && previous.uuid !== "" ? previous.uuid : undefined;
    } catch {
        return undefined;
    }
}

/** Reads and checks every input of `operation`; a PksctlError names each problem. */
export function readInputs(operation: PksctlOperation, env: NodeJS.ProcessEnv): PksctlInputs {
    const onProfile = PROFILE_OPERATIONS.includes(operation);
    const checked = environment(onProfile, env.PATH ?? "").safeParse(env);
    if (!checked.success) {
        throw new PksctlError("reading inputs", describeIssues(checked.error));
    }
    const v = checked.data;
    const clientName = v[PKSCTL_ENV.clientName];
    return {
        profile: onProfile ? v[PKSCTL_ENV.networkProfile] as NetworkProfileDocument : undefined,
        cluster: onProfile ? undefined : v[PKSCTL_ENV.cluster] as ClusterSpec,
        ownership: { ...(v[PKSCTL_ENV.ownership] ?? NO_OWNERSHIP), recordedUuid: v[PKSCTL_ENV.ownership]?.uuid ?? previousUuid(env) },
        timeoutMs: v[PKSCTL_ENV.timeoutSeconds] ?? 45 * 60_000,
        upgradeTimeoutMs: v[PKSCTL_ENV.upgradeTimeoutSeconds] ?? 120 * 60_000,
        pollMs: v[PKSCTL_ENV.pollSeconds] ?? 30_000,
        retry: {
            ...DEFAULT_RETRY,
            attempts: v[PKSCTL_ENV.retryAttempts] ?? DEFAULT_RETRY.attempts,
            firstDelayMs: v[PKSCTL_ENV.retryDelaySeconds] ?? DEFAULT_RETRY.firstDelayMs,
            callTimeoutMs: v[PKSCTL_ENV.callTimeoutSeconds] ?? DEFAULT_RETRY.callTimeoutMs,
        },
        login: {
            cli: v[PKSCTL_ENV.cli],
            api: v[PKSCTL_ENV.api],
            caCert: v[PKSCTL_ENV.caCert],
            ...(clientName !== undefined
                ? { clientName, clientSecret: v[PKSCTL_ENV.clientSecret] }
                : { username: v[PKSCTL_ENV.username], password: v[PKSCTL_ENV.password] }),
        },
    };
}
