/**
 * What exists in PKS, and in which state, read only from the documented JSON output (cli/index.html.md.erb:
 * `cluster NAME --json`, `clusters --json`, `network-profile NAME --json`, `network-profiles --json`), never from
 * an error's wording. An object's own document is read first; when that read fails, the listing decides: the
 * object exists if the listing has it (its entry is the same document) and is gone only if a listing that
 * succeeded does not have it. A listing that failed is never "gone": the read is retried like any other and, at
 * the end, fails the step.
 */
import { ClusterObject, ProfileObject, parseCluster, parseClusters, parseProfile, parseProfiles } from "./documents";
import { Attempt, PksSession } from "./session";

/** Reads one object: its document, else the listing; undefined only when a listing that succeeded lacks it. */
function lookUp<T extends { name: string }>(session: PksSession, what: string, name: string, get: { args: string[]; parse: (text: string) => T },
    list: { args: string[]; parse: (text: string) => T[] }, decisive: boolean): Promise<T | undefined> {
    return session.retrying<T | undefined>(`reading ${what} ${name}`, async (timeoutMs): Promise<Attempt<T | undefined>> => {
        const own = await session.tryRead(get.args, get.parse, timeoutMs);
        if (own.ok && own.value.name === name) {
            return own;
        }
        // The listing gets what is left of the step's time (at least a second), like any other try.
        const listed = await session.tryRead(list.args, list.parse, Math.min(timeoutMs, Math.max(session.context.deadline.remainingMs(), 1000)));
        if (!listed.ok) {
            const reason = own.ok ? `the document names ${JSON.stringify(own.value.name)}` : own.reason;
            return { ok: false, reason: `${reason}; listing: ${listed.reason}`, transient: own.ok || own.transient || listed.transient };
        }
        return { ok: true, value: listed.value.find((o) => o.name === name) };
    }, decisive);
}

/**
 * The cluster as PKS has it, or undefined when PKS's cluster listing does not have it. A `decisive` read (deciding
 * what a failed create, update or delete did) gets one try even past the step's deadline.
 */
export function readCluster(session: PksSession, name: string, decisive = false): Promise<ClusterObject | undefined> {
    return lookUp(session, "cluster", name, { args: ["cluster", name, "--json"], parse: parseCluster },
        { args: ["clusters", "--json"], parse: parseClusters }, decisive);
}

/** Every cluster PKS lists (`clusters --json`), retried. */
export function listClusters(session: PksSession): Promise<ClusterObject[]> {
    return session.read("listing clusters", ["clusters", "--json"], parseClusters);
}

/** The network profile as PKS has it, or undefined when PKS's profile listing does not have it. */
export function readProfile(session: PksSession, name: string, decisive = false): Promise<ProfileObject | undefined> {
    return lookUp(session, "network profile", name, { args: ["network-profile", name, "--json"], parse: parseProfile },
        { args: ["network-profiles", "--json"], parse: parseProfiles }, decisive);
}
