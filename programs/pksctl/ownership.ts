/**
 * Whose a profile or cluster is. The stack adopts, updates and deletes only what it created itself, unless the
 * user opts in (pksAdoptExisting). What it created it recognises by what survives an interrupted `pulumi up`:
 *
 * - the **claim**, a resource of the stack recorded before the first create call: a random marker, and whether PKS
 *   already had an object of that name then (`claim-cluster`, `claim-network-profile`);
 * - the **ownership tag** `pks-istio-mesh-owner:<marker>` sent with create-cluster (where the platform takes
 *   tags: vSphere and Azure, tag-clusters.html.md.erb);
 * - the **uuid** the stack recorded once the create succeeded (its document in the state).
 *
 * A cluster found at create time is ours when it carries the claim's marker, or, where tags are off or PKS shows
 * none, when it did not exist when the stack claimed the name (the create the stack started before it was
 * interrupted). A profile, which takes no tags, is ours by the claim alone. At update, delete and
 * get-credentials the recorded uuid must be the one PKS has.
 */
import { OWNER_TAG } from "./contract";
import { ClusterObject, ProfileObject } from "./documents";
import { PksctlError } from "./errors";
import { Ownership } from "./inputs";
import { ProgressLog } from "./progress";

/** Whether an object is the stack's, and why (or why not). */
export interface Verdict {
    ours: boolean;
    why: string;
}

/** The cluster's ownership tag: its value, null when it has none, undefined when PKS shows no tags at all. */
export function ownerTagOf(cluster: ClusterObject): string | null | undefined {
    const tags = cluster.parameters.cluster_tags;
    return tags == null ? undefined : tags.find((t) => t.name === OWNER_TAG)?.value ?? null;
}

/** Ours by the claim's record: the name was free when the stack claimed it. */
function byClaim(ownership: Ownership): Verdict {
    if (ownership.claim === undefined) {
        return { ours: false, why: "the stack has no claim on this name" };
    }
    return ownership.claim.existingUuid === undefined
        ? { ours: true, why: "PKS did not have it when this stack claimed the name, before creating it" }
        : { ours: false, why: `PKS already had it (uuid ${ownership.claim.existingUuid}) when this stack claimed the name` };
}

/** Whether a cluster that PKS has under the stack's cluster name is the stack's. */
export function clusterVerdict(cluster: ClusterObject, ownership: Ownership): Verdict {
    if (ownership.recordedUuid !== undefined && ownership.recordedUuid === cluster.uuid) {
        return { ours: true, why: "the stack recorded its uuid" };
    }
    const tag = ownerTagOf(cluster);
    if (ownership.tag && tag !== undefined && ownership.claim !== undefined) {
        return tag === ownership.claim.marker
            ? { ours: true, why: `it carries this stack's ownership tag ${OWNER_TAG}:${tag}` }
            : { ours: false, why: tag === null ? `it has no ${OWNER_TAG} tag` : `its ${OWNER_TAG} tag is another stack's (${tag})` };
    }
    return byClaim(ownership);
}

/** Whether a profile that PKS has under the stack's profile name is the stack's. */
export function profileVerdict(profile: ProfileObject, ownership: Ownership): Verdict {
    if (ownership.recordedUuid !== undefined && profile.uuid !== "" && ownership.recordedUuid === profile.uuid) {
        return { ours: true, why: "the stack recorded its uuid" };
    }
    return byClaim(ownership);
}

/**
 * Goes on with an object found where the stack is about to create one: its own, or another's that the user
 * opted to adopt (said as a warning); refuses any other, saying how to go on.
 */
export function adoptOrRefuse(step: string, what: string, verdict: Verdict, ownership: Ownership, log: ProgressLog): void {
    if (verdict.ours) {
        return;
    }
    if (!ownership.adopt) {
        throw new PksctlError(step, `PKS already has a ${what} of this name that this stack did not create (${verdict.why}). ` +
            `Choose another name, or set pksAdoptExisting to true to adopt it (pulumi destroy then deletes it)`);
    }
    log.warn(`${what}: adopting one this stack did not create, as pksAdoptExisting allows (${verdict.why}); pulumi destroy will delete it`);
}

/**
 * Goes on with the object the stack recorded (update, delete, credentials) only if PKS still has that one: a
 * different uuid means it was deleted and created again outside the stack.
 */
export function requireRecorded(step: string, what: string, uuid: string, ownership: Ownership, log: ProgressLog): void {
    const recorded = ownership.recordedUuid;
    if (recorded === undefined || uuid === "" || recorded === uuid) {
        return;
    }
    const why = `PKS has uuid ${uuid}, the stack recorded ${recorded}: it was deleted and created again outside this stack`;
    if (!ownership.adopt) {
        throw new PksctlError(step, `the ${what} in PKS is not the one this stack created (${why}). Leave it alone and ` +
            "remove it from the stack (`pulumi state delete`), or set pksAdoptExisting to true to manage (and later delete) it");
    }
    log.warn(`${what}: managing one this stack did not create, as pksAdoptExisting allows (${why})`);
}
