import * as pulumi from "@pulumi/pulumi";
import { ClaimDocument, OwnershipInput, PKSCTL_ENV } from "../../programs/pksctl/contract";
import { launcherInterpreter } from "../../programs/launcher/interpreter";

/** How the PKS components reach and log in to the PKS API. */
export interface PksConnectionArgs {
    /**
     * The CLI to run: `pks` (PKS up to 1.7), `tkgi` (TKGI 1.7 and later: same commands and flags), or a path to
     * either. A relative path is resolved against the project directory. Defaults to `pks`.
     */
    cli?: string;
    /** The PKS API host or URL, as given to `pks login -a`, e.g. `api.pks.example.com`. */
    apiUrl: pulumi.Input<string>;
    /** A UAA user with `pks.clusters.admin` (network profiles need an administrator). */
    username?: pulumi.Input<string>;
    /** The user's password; pass a secret. It reaches the CLI on its password prompt (stdin), never as an argument. */
    password?: pulumi.Input<string>;
    /** A UAA client to log in with instead of a user (`--client-name`). */
    clientName?: pulumi.Input<string>;
    /**
     * The client's secret; pass a secret. TKGI documents it only as `--client-secret`: it is on the login call's
     * argument list (visible to the machine's other users while that call runs). Prefer a user login.
     */
    clientSecret?: pulumi.Input<string>;
    /** Log in with `-k`, skipping verification of the PKS API certificate. Use `caCert` in production. */
    skipTlsValidation?: boolean;
    /** PEM text of the CA that signed the PKS API certificate (`--ca-cert`). */
    caCert?: pulumi.Input<string>;
}

/** How the command provider starts pksctl (through the launcher: its JavaScript is transpiled once and cached). */
export const PKSCTL_INTERPRETER = launcherInterpreter("components/pks/pksctl.ts");

/** Tuning of the wait loops in pksctl. */
export interface PksWaitArgs {
    /** Give up waiting on a cluster operation after this many minutes. Defaults to 45 (creation can take 30). */
    timeoutMinutes?: number;
    /** Seconds between two `pks cluster` polls, each of which prints a progress line. Defaults to 30. */
    pollIntervalSeconds?: number;
}

/** The pksctl environment for a connection: login inputs as PKSCTL_* variables (secrets stay secret). */
export function pksctlEnvironment(connection: PksConnectionArgs, wait: PksWaitArgs = {}): Record<string, pulumi.Input<string>> {
    const env: Record<string, pulumi.Input<string>> = {
        [PKSCTL_ENV.cli]: connection.cli ?? "pks",
        [PKSCTL_ENV.api]: connection.apiUrl,
        [PKSCTL_ENV.skipTlsValidation]: connection.skipTlsValidation ? "true" : "false",
        [PKSCTL_ENV.timeoutSeconds]: String((wait.timeoutMinutes ?? 45) * 60),
        [PKSCTL_ENV.pollSeconds]: String(wait.pollIntervalSeconds ?? 30),
    };
    const optional: Array<[string, pulumi.Input<string> | undefined]> = [
        [PKSCTL_ENV.username, connection.username],
        [PKSCTL_ENV.password, connection.password === undefined ? undefined : pulumi.secret(connection.password)],
        [PKSCTL_ENV.clientName, connection.clientName],
        [PKSCTL_ENV.clientSecret, connection.clientSecret === undefined ? undefined : pulumi.secret(connection.clientSecret)],
        [PKSCTL_ENV.caCert, connection.caCert],
    ];
    for (const [name, value] of optional) {
        if (value !== undefined) {
            env[name] = value;
        }
    }
    return env;
}

/** Whether the PKS components may take over what the stack did not create. */
export interface PksOwnershipArgs {
    /**
     * Adopt a profile or cluster of this name that the stack did not create (and, later, delete it with the
     * stack), and manage one that was re-created outside the stack. Default false: pksctl refuses both.
     */
    adoptExisting?: boolean;
}

/** The claim part of PKSCTL_OWNERSHIP, from a claim's document. */
export function claimOf(claim: ClaimDocument): OwnershipInput["claim"] {
    return { marker: claim.marker, ...(claim.existingUuid === undefined ? {} : { existingUuid: claim.existingUuid }) };
}

/** PKSCTL_OWNERSHIP: the JSON that tells pksctl how to recognise the stack's own profile or cluster. */
export function ownershipEnvironment(args: PksOwnershipArgs, known: { claim?: OwnershipInput["claim"]; uuid?: string; tag: boolean }): string {
    const input: OwnershipInput = { adopt: args.adoptExisting ?? false, tag: known.tag };
    if (known.claim !== undefined) {
        input.claim = known.claim;
    }
    if (known.uuid !== undefined && known.uuid !== "") {
        input.uuid = known.uuid;
    }
    return JSON.stringify(input);
}
