/**
 * The network profile operations. Profiles are immutable in PKS: create adopts an identical profile and refuses
 * a different one of the same name; delete counts a profile that is gone (PKS's exact `Network profile NAME not
 * found`) as deleted and names the clusters that still use one. `create-network-profile` and
 * `delete-network-profile` are never repeated blindly: after a failure pksctl reads the profile again and decides.
 */
import * as fs from "fs";
import { NetworkProfileDocument } from "./contract";
import { describeDifferences, profileDifferences } from "./compare";
import { ProfileObject, parseClusters, parseProfile } from "./documents";
import { PksctlError, profileNotFound } from "./errors";
import { PksSession } from "./session";

/** `network-profile NAME --json`, retried; undefined on PKS's exact not-found answer. */
function readProfile(session: PksSession, name: string, decisive = false): Promise<ProfileObject | undefined> {
    return session.read(`reading network profile ${name}`, ["network-profile", name, "--json"], parseProfile, { notFound: profileNotFound(name), decisive });
}

function refuseDifferent(step: string, existing: ProfileObject, desired: NetworkProfileDocument, because?: string): void {
    const differences = profileDifferences(existing, desired);
    if (differences.length > 0) {
        throw new PksctlError(step, `${because ? `${because}; ` : ""}a profile with this name already exists with different settings (${describeDifferences(differences)}). ` +
            "Network profiles are immutable: give the changed profile a new name and the cluster moves onto it with update-cluster");
    }
}

/** Creates the profile, or adopts an identical one. */
export async function createNetworkProfile(session: PksSession, desired: NetworkProfileDocument): Promise<ProfileObject> {
    const { log } = session;
    const step = `creating network profile ${desired.name}`;
    const existing = await readProfile(session, desired.name);
    if (existing) {
        refuseDifferent(step, existing, desired);
        log.note(`network profile ${desired.name} already exists with the same settings; adopting it`);
        return existing;
    }
    // The file lives in the private home, which is removed however the run ends.
    const file = session.context.home.file("network-profile.json");
    fs.writeFileSync(file, JSON.stringify(desired, null, 2), { mode: 0o600 });
    const outcome = await session.call(["create-network-profile", file], { step });
    if (outcome.kind !== "ok") {
        // Never repeated: did the create go through (or did a concurrent run create the same profile)?
        const after = await readProfile(session, desired.name, true);
        if (!after) {
            throw new PksctlError(step, outcome.reason);
        }
        refuseDifferent(step, after, desired, outcome.reason);
        log.warn(`network profile ${desired.name}: create-network-profile reported '${outcome.reason}', but PKS has the profile with the same settings; adopting it`);
        return after;
    }
    log.line(`pks: network profile ${desired.name} created`);
    const created = await readProfile(session, desired.name);
    if (!created) {
        throw new PksctlError(step, `PKS accepted the profile but answers '${profileNotFound(desired.name)}'`);
    }
    return created;
}

/** Deletes the profile; one that is gone counts as deleted. */
export async function deleteNetworkProfile(session: PksSession, name: string): Promise<void> {
    const { log } = session;
    const step = `deleting network profile ${name}`;
    const outcome = await session.call(["delete-network-profile", name, "--non-interactive"], { notFound: profileNotFound(name), step });
    if (outcome.kind === "ok") {
        log.line(`pks: network profile ${name} deleted`);
        return;
    }
    if (outcome.kind === "not-found") {
        log.note(`network profile ${name} is already gone`);
        return;
    }
    if (!await readProfile(session, name, true)) {
        log.warn(`network profile ${name}: delete-network-profile reported '${outcome.reason}', and PKS now answers '${profileNotFound(name)}': counted as deleted`);
        return;
    }
    const clusters = await session.read("listing clusters", ["clusters", "--json"], parseClusters) ?? [];
    const users = clusters.filter((c) => c.network_profile_name === name).map((c) => c.name);
    const hint = users.length > 0
        ? `. It is still used by cluster(s) ${users.join(", ")}: a profile in use cannot be deleted; move those clusters to another profile or delete them first`
        : "";
    throw new PksctlError(step, outcome.reason + hint);
}
