/**
 * The simulator's error texts. Each `CliError` names the page of TKGI's documentation (pivotal-cf/docs-pks,
 * branch 1.19 unless the name says otherwise) that shows its wording, or nothing: then the wording is ours.
 *
 * With the setting `wording: "altered"` every text the documents do not show is printed differently, and so is
 * PKS's documented not-found answer for a cluster: the tests run pksctl under it to prove that it decides what
 * exists and what state it is in from the documented JSON output only, never from an error's wording.
 */
import * as crypto from "crypto";

/** How the simulator words its errors. */
export type Wording = "documented" | "altered";

/** An error the CLI prints as `Error: <message>` (exit status 1). */
export class CliError extends Error {
    /**
     * @param documentedIn the docs-pks page that shows this wording; undefined when the wording is ours
     * @param existenceAnswer the text says that an object does not exist: altered even though it is documented
     */
    constructor(message: string, readonly documentedIn?: string, readonly existenceAnswer = false) {
        super(message);
    }
}

/** The line the CLI prints on stderr for `error` under `wording`. */
export function errorLine(error: CliError, wording: Wording): string {
    if (wording === "altered" && (error.documentedIn === undefined || error.existenceAnswer)) {
        const code = crypto.createHash("sha256").update(error.message).digest("hex").slice(0, 8);
        return `Error: the request did not succeed (altered wording ${code})`;
    }
    return `Error: ${error.message}`;
}

/** `Error: You are not currently authenticated. Please log in to continue` (troubleshoot-issues). */
export const notAuthenticated = () =>
    new CliError("You are not currently authenticated. Please log in to continue", "troubleshoot-issues.html.md.erb");

/** A rejected login (troubleshoot-issues, "Login Failed Error: Credentials were rejected"). */
export const credentialsRejected = () => new CliError("Credentials were rejected, please try again.", "troubleshoot-issues.html.md.erb");

/** Network profiles need `pks.clusters.admin` (network-profiles 1.2; k8s-profiles 1.19 shows the TKGI wording). */
export const notEnoughPrivileges = (product: string) =>
    new CliError(`You do not have enough privileges to perform this action. Please contact the ${product} administrator.`, "k8s-profiles.html.md.erb");

/** `Error: Cluster NAME not found` (delete-cluster). */
export const clusterNotFound = (name: string) => new CliError(`Cluster ${name} not found`, "delete-cluster.html.md.erb", true);

/** A profile swap that changes a field PKS does not update (network-profiles-define, "Update-Cluster … Validation Rules"). */
export const fieldConflict = (field: string) =>
    new CliError(`Error processing update parameters: field ${field} has conflict`, "network-profiles-define.html.md.erb");

/** Ours: the documents do not give this wording. */
export const undocumented = (message: string) => new CliError(message);
