/**
 * The Kubernetes Gateway API's CRDs, which Istio's charts do not install: which release of its standard channel an
 * Istio release expects, where its files come from (the release's tag on GitHub, a mirror, or an air-gapped
 * directory), how each file is checked before anything of it is applied (its pinned sha256, read and verified as
 * the telemetry add-ons are: verification.ts), and what may happen to the objects a cluster already has
 * (`planInstall`: installed unless present and new enough, never downgraded, never taken over unless adopting).
 */
import { ManifestObject, manifestLocation, parseManifest } from "../../components/telemetry/manifests";
import { ReadOptions, readManifest, verifyManifest } from "../../components/telemetry/verification";

/** The group of the Gateway API's resources. */
export const GATEWAY_API_GROUP = "gateway.networking.k8s.io";
/** The annotations every object of a Gateway API release carries. */
export const BUNDLE_VERSION_ANNOTATION = `${GATEWAY_API_GROUP}/bundle-version`;
export const CHANNEL_ANNOTATION = `${GATEWAY_API_GROUP}/channel`;

/** One release of the Gateway API's standard channel: its files (config/crd/standard) and their sha256. */
export interface GatewayApiRelease {
    /** The Istio minors that build against it (the `sigs.k8s.io/gateway-api` requirement of their go.mod). */
    istioMinors: readonly string[];
    /** File → sha256, in the order of the release's kustomization (CRDs first, the admission policy last). */
    files: Readonly<Record<string, string>>;
}

/**
 * The releases the program installs, each file's sha256 as the release's git tag has it (the files of the module
 * `sigs.k8s.io/gateway-api` at the tag, which the Go checksum database vouches for, are the same bytes; a unit test
 * compares these pins with them). Istio 1.30 builds against v1.5 (v1.5.1), 1.31 against v1.6 (v1.6.3 is that
 * line's latest patch).
 */
export const GATEWAY_API_RELEASES: Readonly<Record<string, GatewayApiRelease>> = {
    "v1.5.1": {
        istioMinors: ["1.30"],
        files: {
            "gateway.networking.k8s.io_gatewayclasses.yaml": "234ad4b2757ee1b3596a4187bb98df071c5bbdd9e1806f692f2dbf8387e6bef4",
            "gateway.networking.k8s.io_gateways.yaml": "7416e8300eb4d8c0a71a23445609075bbacbe8bc80104584b019cfe1ebe77c31",
            "gateway.networking.k8s.io_grpcroutes.yaml": "979f4125d44d3df24659ba00d1d04ff8e76c45423193e8aae82dd5810d7827df",
            "gateway.networking.k8s.io_httproutes.yaml": "682203b109baecb18d38073a578f7bc2c17d22fe9b0c27bf030850abe014c370",
            "gateway.networking.k8s.io_referencegrants.yaml": "a8902c486eed0b7339f5bb8a476ccaba0918eb038048402bdc01cbb69b0fbb51",
            "gateway.networking.k8s.io_backendtlspolicies.yaml": "9b8818172153d72f9c84032db0be0a4a657277d13f5bbc22226ad9481ff57971",
            "gateway.networking.k8s.io_listenersets.yaml": "9221468d19fdfbb0026113b1ef64abac64f27607975aff2410361b8b38f0e0bb",
            "gateway.networking.k8s.io_tlsroutes.yaml": "818e4827c469a40e2527a2851591e656782c50fea8dd44812c900d219da09345",
            "gateway.networking.k8s.io_vap_safeupgrades.yaml": "981a4da92706cb567c051e006ff229429947f054b90cd0719c297abe14f958a1",
        },
    },
    "v1.6.3": {
        istioMinors: ["1.31"],
        files: {
            "gateway.networking.k8s.io_gatewayclasses.yaml": "d32070cb6930273a07c5ca183135712b1918cc140c6d9b6cef441cdf0e562345",
            "gateway.networking.k8s.io_gateways.yaml": "905c89d8fefaab9088bf9d0a8d47ebd7ec4e653a914d4bfaa575a7716f07a828",
            "gateway.networking.k8s.io_grpcroutes.yaml": "a96b307008290c194ad346f9bb9346dd560c12e4d4e7dfbdbe7d2fb5e812d62e",
            "gateway.networking.k8s.io_httproutes.yaml": "a89d17ff5ed060fa0eac015524f9252bb291f616412c13ac8cb952ed9c25c5ad",
            "gateway.networking.k8s.io_referencegrants.yaml": "ff8db85aaacc91fb4096975afb5782540572bf2f04842a258094cd7f50c7f38a",
            "gateway.networking.k8s.io_backendtlspolicies.yaml": "d9824b82db284bdea67d2eb0297952be51e0e7a394f02daef0d6f3fefa5d01c0",
            "gateway.networking.k8s.io_listenersets.yaml": "b81f1771dcd96dfb3bb500e07dafef79a2aa58c4a9b4b366d54ca29e8ecccb5e",
            "gateway.networking.k8s.io_tcproutes.yaml": "5d2891484c870865e9ae61402b412a8b81eea381fbb71fdc56406e533c9643f1",
            "gateway.networking.k8s.io_tlsroutes.yaml": "b9277b755ee0f33dd245d3497ba842922ff2e2efe5070b0911e58d072d55ed9c",
            "gateway.networking.k8s.io_udproutes.yaml": "a552a9aa3726367c392000a45d13e6ba07985117a5e6826364640bedfeb5e922",
            "gateway.networking.k8s.io_vap_safeupgrades.yaml": "66b1d7b2c392c0e4dd4b2950e2af62811f8288a65e50708e2b3d26d4433af84c",
        },
    },
};

/** The Gateway API release an Istio minor (`1.31`) expects, or undefined when the program pins none for it. */
export function gatewayApiVersionFor(minor: string): string | undefined {
    return Object.entries(GATEWAY_API_RELEASES).find(([, r]) => r.istioMinors.includes(minor))?.[0];
}

/** The Istio minors the program has a Gateway API release for, for messages. */
export function gatewayApiMinors(): string[] {
    return Object.values(GATEWAY_API_RELEASES).flatMap((r) => r.istioMinors);
}

/** Where the Gateway API publishes a release's standard channel: its git tag's config/crd/standard. */
export function publishedGatewayApi(version: string): string {
    return `https://raw.githubusercontent.com/kubernetes-sigs/gateway-api/${version}/config/crd/standard`;
}

/** A release's objects, read from a source and verified. */
export interface GatewayApiBundle {
    version: string;
    /** Where the files were read (the source). */
    source: string;
    /** The objects in the release's order: its CRDs, then the admission policy and its binding. */
    objects: ManifestObject[];
}

/** An object's identity for messages and lookups: `<Kind> <name>`. */
export const objectKey = (o: { kind: string; metadata: { name: string } }) => `${o.kind} ${o.metadata.name}`;

/** The kinds a Gateway API release ships (its CRDs, and the admission policy guarding their upgrades). */
const BUNDLE_KINDS: Readonly<Record<string, string>> = {
    CustomResourceDefinition: "apiextensions.k8s.io/v1",
    ValidatingAdmissionPolicy: "admissionregistration.k8s.io/v1",
    ValidatingAdmissionPolicyBinding: "admissionregistration.k8s.io/v1",
};

/**
 * Checks what a verified file holds: only the release's kinds, each carrying the release's bundle-version and
 * the standard channel, and CRDs of the Gateway API's group only.
 */
function checkObjects(objects: ManifestObject[], version: string, location: string): void {
    const problems: string[] = [];
    for (const o of objects) {
        const annotations = (o.metadata.annotations ?? {}) as Record<string, string>;
        if (BUNDLE_KINDS[o.kind] !== o.apiVersion) {
            problems.push(`${o.apiVersion} ${objectKey(o)} is not an object of a Gateway API release`);
        } else if (o.kind === "CustomResourceDefinition" && (o.spec as { group?: string } | undefined)?.group !== GATEWAY_API_GROUP) {
            problems.push(`${objectKey(o)} is not of the group ${GATEWAY_API_GROUP}`);
        }
        // The CRDs carry the release's version; its admission policy may carry a development version of the same
        // minor (v1.5.1's says v1.5.0-dev).
        const bundleVersion = annotations[BUNDLE_VERSION_ANNOTATION];
        const sameRelease = o.kind === "CustomResourceDefinition" ? bundleVersion === version : sameMinor(bundleVersion, version);
        if (!sameRelease || annotations[CHANNEL_ANNOTATION] !== "standard") {
            problems.push(`${objectKey(o)} is of release ${annotations[BUNDLE_VERSION_ANNOTATION] ?? "(none)"}, channel ${annotations[CHANNEL_ANNOTATION] ?? "(none)"}, not ${version}, standard`);
        }
    }
    if (objects.length === 0) {
        problems.push("no object");
    }
    if (problems.length > 0) {
        throw new Error(`${location} is not the Gateway API's ${version} standard channel, and is not applied: ${problems.join("; ")}`);
    }
}

/**
 * A Gateway API release's standard channel from `source` (an https base URL or a local directory holding the
 * files of its config/crd/standard): each file read (no redirect followed, at most 2 MiB), checked against its
 * pinned sha256 and for holding only that release's standard objects; fails naming the file and the reason.
 */
export async function loadGatewayApi(version: string, source: string, options: ReadOptions = {}): Promise<GatewayApiBundle> {
    const release = GATEWAY_API_RELEASES[version];
    if (release === undefined) {
        throw new Error(`the program pins no Gateway API release ${version} (it pins ${Object.keys(GATEWAY_API_RELEASES).join(", ")})`);
    }
    const naming: ReadOptions = { what: "the Gateway API CRD file", sourceKey: "gatewayApiCrdsSource", ...options };
    const objects: ManifestObject[] = [];
    for (const [file, sha256] of Object.entries(release.files)) {
        const location = manifestLocation(source, file);
        const text = verifyManifest(await readManifest(source, file, naming), { sha256, pinnedBy: `Gateway API ${version}'s config/crd/standard/${file}` },
            location, "the Gateway API CRDs are not applied");
        const parsed = parseManifest(text, location);
        checkObjects(parsed, version, location);
        objects.push(...parsed);
    }
    return { version, source, objects };
}

/** What a cluster has of an object of the release. */
export interface InstalledObject {
    /** Its `gateway.networking.k8s.io/bundle-version` annotation, if any. */
    bundleVersion?: string;
    /** Its `gateway.networking.k8s.io/channel` annotation, if any. */
    channel?: string;
    /** The stack mark it carries (`pks-istio-mesh/stack`), if any. */
    mark?: string;
}

/** What the program does with one object of the release. */
export interface PlannedObject {
    kind: string;
    name: string;
    /** `create`: absent; `upgrade`: this stack's (or adopted) and older; `keep`: present and not older. */
    action: "create" | "upgrade" | "keep";
    /** What was there, for the report: e.g. `v1.5.1 (standard, this stack's)`. */
    found?: string;
}

/** The installation plan, or the reasons it is refused (nothing is written then). */
export interface InstallPlan {
    objects: PlannedObject[];
    refusals: string[];
}

/** A release version (`v1.6.3`, `v1.6.0-rc.1`) as numbers, or undefined when it is not one. */
function versionParts(version: string | undefined): [number, number, number] | undefined {
    const m = /^v(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?$/.exec(version ?? "");
    return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** Whether two release versions are of the same minor (`v1.5.0-dev`, `v1.5.1`). */
function sameMinor(a: string | undefined, b: string): boolean {
    const [x, y] = [versionParts(a), versionParts(b)];
    return x !== undefined && y !== undefined && x[0] === y[0] && x[1] === y[1];
}

/** Whether release `a` is older than `b` (a pre-release counts as its release). */
function older(a: [number, number, number], b: [number, number, number]): boolean {
    for (let i = 0; i < 3; i++) {
        if (a[i] !== b[i]) {
            return a[i] < b[i];
        }
    }
    return false;
}

/**
 * What to do with each object of the release, given what the cluster has (`installed`, by `objectKey`; absent
 * objects are missing from it): an absent object is created; one present at the same release or a newer one
 * (either channel: experimental is a superset) is kept, never downgraded; an older one is upgraded only when this
 * stack installed it (`mark`) or `adopt`, and never when it is of the experimental channel, whose fields the
 * standard one would drop. Otherwise the plan is refused, naming every such object.
 */
export function planInstall(bundle: GatewayApiBundle, installed: ReadonlyMap<string, InstalledObject>, mark: string, adopt: boolean): InstallPlan {
    const objects: PlannedObject[] = [];
    const refusals: string[] = [];
    for (const o of bundle.objects) {
        // What the release itself says of the object (its admission policy may say a development version).
        const wanted = versionParts(((o.metadata.annotations ?? {}) as Record<string, string>)[BUNDLE_VERSION_ANNOTATION]) ?? versionParts(bundle.version)!;
        const key = objectKey(o);
        const found = installed.get(key);
        if (found === undefined) {
            objects.push({ kind: o.kind, name: o.metadata.name, action: "create" });
            continue;
        }
        const ours = found.mark === mark;
        const description = `${found.bundleVersion ?? "no bundle-version"} (${found.channel ?? "no channel"}${ours ? ", this stack's" : found.mark ? `, stack ${found.mark}'s` : ""})`;
        const have = versionParts(found.bundleVersion);
        if (have !== undefined && !older(have, wanted)) {
            objects.push({ kind: o.kind, name: o.metadata.name, action: "keep", found: description });
        } else if (found.channel === "experimental") {
            refusals.push(`${key} is ${description}, older than ${bundle.version}, of the experimental channel: the program installs only the standard channel, ` +
                "which would drop the experimental fields; upgrade the experimental channel yourself");
        } else if (ours || adopt) {
            objects.push({ kind: o.kind, name: o.metadata.name, action: "upgrade", found: description });
        } else {
            refusals.push(`${key} is ${description}, older than ${bundle.version}, and this stack did not install it: upgrade the cluster's Gateway API ` +
                `CRDs to ${bundle.version} or later, or set pks-istio-mesh:adoptExistingObjects to true to let the program upgrade them`);
        }
    }
    return { objects, refusals };
}
