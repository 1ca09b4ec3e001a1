/**
 * The network profile operations, and the rules of moving a cluster between profiles. Profiles are immutable in
 * PKS: create adopts an identical profile the stack itself started (or one the user opted to adopt) and refuses a
 * different one of the same name; delete counts a profile that PKS no longer lists as deleted and names the
 * clusters that still use one. `create-network-profile` and `delete-network-profile` are never repeated blindly:
 * after a failure pksctl reads the profile again (lookup.ts: its document, else the listing) and decides.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import { ClaimDocument, ClusterSpec, NetworkProfileDocument, PksctlReport } from "./contract";
import { Difference, describeDifferences, profileDifferences } from "./compare";
import { ClusterObject, ProfileObject } from "./documents";
import { PksctlError } from "./errors";
import { Ownership } from "./inputs";
import { listClusters, readProfile } from "./lookup";
import { adoptOrRefuse, profileVerdict, requireRecorded } from "./ownership";
import { PksSession } from "./session";

function refuseDifferent(step: string, existing: ProfileObject, desired: NetworkProfileDocument, because?: string): void {
    const differences = profileDifferences(existing, desired);
    if (differences.length > 0) {
        throw new PksctlError(step, `${because ? `${because}; ` : ""}a profile with this name already exists with different settings (${describeDifferences(differences)}). ` +
            "Network profiles are immutable: give the changed profile a new name and the cluster moves onto it with update-cluster");
    }
}

/** Creates the profile, or adopts an identical one that is the stack's own (or that the user opted to adopt). */
export async function createNetworkProfile(session: PksSession, desired: NetworkProfileDocument, ownership: Ownership): Promise<ProfileObject> {
    const { log } = session;
    const step = `creating network profile ${desired.name}`;
    const existing = await readProfile(session, desired.name);
    if (existing) {
        adoptOrRefuse(step, "network profile", profileVerdict(existing, ownership), ownership, log);
        refuseDifferent(step, existing, desired);
        log.note(`network profile ${desired.name} already exists with the same settings; adopting it`);
        return existing;
    }
    // The file lives in the private home, which is removed however the run ends.
    const file = session.context.home.file("network-profile.json");
    fs.writeFileSync(file, JSON.stringify(desired, null, 2), { mode: 0o600 });
    const outcome = await session.call(["create-network-profile", file], { step });
    if (outcome.kind !== "ok") {
        // Never repeated: did the create go through (or did a concurrent run of this stack create the same profile)?
        const after = await readProfile(session, desired.name, true);
        if (!after) {
            throw new PksctlError(step, outcome.reason);
        }
        adoptOrRefuse(step, "network profile", profileVerdict(after, ownership), ownership, log);
        refuseDifferent(step, after, desired, outcome.reason);
        log.warn(`network profile ${desired.name}: create-network-profile reported '${outcome.reason}', but PKS has the profile with the same settings; adopting it`);
        return after;
    }
    log.line(`pks: network profile ${desired.name} created`);
    const created = await readProfile(session, desired.name);
    if (!created) {
        throw new PksctlError(step, "PKS accepted the profile but does not list it");
    }
    return created;
}

/** Deletes the stack's profile; one that PKS no longer lists counts as deleted. */
export async function deleteNetworkProfile(session: PksSession, name: string, ownership: Ownership): Promise<void> {
    const { log } = session;
    const step = `deleting network profile ${name}`;
    const existing = await readProfile(session, name);
    if (!existing) {
        log.note(`network profile ${name} is already gone: PKS does not list it`);
        return;
    }
    requireRecorded(step, "network profile", existing.uuid, ownership, log);
    const outcome = await session.call(["delete-network-profile", name, "--non-interactive"], { step });
    if (outcome.kind === "ok") {
        log.line(`pks: network profile ${name} deleted`);
        return;
    }
    if (!await readProfile(session, name, true)) {
        log.warn(`network profile ${name}: delete-network-profile reported '${outcome.reason}', and PKS no longer lists the profile: counted as deleted`);
        return;
    }
    const users = (await listClusters(session)).filter((c) => c.network_profile_name === name).map((c) => c.name);
    const hint = users.length > 0
        ? `. It is still used by cluster(s) ${users.join(", ")}: a profile in use cannot be deleted; move those clusters to another profile or delete them first`
        : "";
    throw new PksctlError(step, outcome.reason + hint);
}

/** The stack's claim on a profile name, recorded before its first create: a marker, and what PKS had then. */
export async function claimNetworkProfile(session: PksSession, name: string, report: () => PksctlReport): Promise<ClaimDocument> {
    const existing = await readProfile(session, name);
    if (existing) {
        session.log.note(`network profile ${name} already exists; this stack will not adopt it unless pksAdoptExisting is true`);
    }
    return { name, marker: crypto.randomBytes(8).toString("hex"), ...(existing ? { existingUuid: existing.uuid || "unknown" } : {}), ...report() };
}

/**
 * Refuses, before any call, a network profile move PKS does not take (network-profiles-define.html.md.erb):
 * detaching a cluster's profile (`update-cluster --network-profile ""` is not documented), and attaching a
 * profile that brings pod IP blocks to a cluster without one unless the profile also lists the tile's Pods IP
 * Block (PKS answers `field pod_ip_block_ids has conflict`).
 */
export async function checkProfileMove(session: PksSession, cluster: ClusterObject, spec: ClusterSpec, differences: Difference[]): Promise<void> {
    if (!differences.some((d) => d.field === "network profile")) {
        return;
    }
    const step = `updating network profile of cluster ${cluster.name}`;
    if (!spec.networkProfile) {
        throw new PksctlError(step, `the cluster uses network profile ${cluster.network_profile_name}, and TKGI documents no way to detach one. ` +
            "Keep networkProfileName (a new name with new parameters moves the cluster onto a new profile), or create the cluster anew under another clusterName");
    }
    if (cluster.network_profile_name) {
        return;
    }
    const profile = await readProfile(session, spec.networkProfile);
    const blocks = profile?.parameters.pod_ip_block_ids;
    if (!Array.isArray(blocks) || blocks.length === 0) {
        return;
    }
    const tile = spec.tilePodIpBlockId;
    if (tile === undefined || !blocks.includes(tile)) {
        throw new PksctlError(step, `cluster ${cluster.name} has no network profile, and network profile ${spec.networkProfile} brings pod IP blocks: ` +
            "PKS attaches such a profile only when its pod_ip_block_ids also lists the tile's Pods IP Block, else it answers 'field pod_ip_block_ids has conflict' " +
            "(network-profiles-define.html.md.erb, \"Add a New Network Profile to a Cluster that Does Not Have a Network Profile\"). " +
            (tile === undefined
                ? "Add the tile's Pods IP Block ID (TKGI tile > Networking) to networkProfileParameters.pod_ip_block_ids under a new networkProfileName, and set networkProfileTilePodIpBlockId to it"
                : `Add ${tile} (networkProfileTilePodIpBlockId) to networkProfileParameters.pod_ip_block_ids under a new networkProfileName`));
    }
}
