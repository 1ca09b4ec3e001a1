/**
 * Reading the resources the engine hands to the policies: their type tokens, values that a preview does not know
 * yet, and the pieces of Kubernetes objects and Helm releases the rules look at.
 *
 * In a preview, an input computed from another resource's output may be unknown; @pulumi/policy then throws an
 * `UnknownValueError` as soon as a rule reads it. A rule cannot decide on a value it does not see, so it reads
 * through `at`, which gives `UNKNOWN` instead, and lets `pulumi up` (where every input is known) decide.
 */
import { UnknownValueError } from "@pulumi/policy";
import * as fs from "fs";
import * as path from "path";

/** A value not known yet (in a preview). */
export const UNKNOWN = Symbol("unknown");
export type Maybe<T> = T | typeof UNKNOWN;

/** The value at `keys` below `value` (undefined where a level is missing), or `UNKNOWN` if it is not known yet. */
export function at(value: unknown, ...keys: Array<string | number>): unknown {
    try {
        let current = value;
        for (const key of keys) {
            if (typeof current !== "object" || current === null) {
                return undefined;
            }
            current = (current as Record<string | number, unknown>)[key];
        }
        return current;
    } catch (e) {
        if (e instanceof UnknownValueError) {
            return UNKNOWN;
        }
        throw e;
    }
}

/** The string at `keys`, `UNKNOWN`, or undefined for anything else. */
export function stringAt(value: unknown, ...keys: Array<string | number>): Maybe<string | undefined> {
    const v = at(value, ...keys);
    return v === UNKNOWN ? UNKNOWN : typeof v === "string" ? v : undefined;
}

/** The elements of the array at `keys` (none when it is missing or unknown). */
export function elementsAt(value: unknown, ...keys: Array<string | number>): unknown[] {
    const v = at(value, ...keys);
    if (!Array.isArray(v)) {
        return [];
    }
    return v.map((_, i) => at(v, i));
}

/** The entries of the object at `keys` (none when it is missing or unknown). */
export function entriesAt(value: unknown, ...keys: Array<string | number>): Array<[string, unknown]> {
    const v = at(value, ...keys);
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
        return [];
    }
    return Object.keys(v).map((k) => [k, at(v, k)]);
}

/** `namespace/name` of a Kubernetes object, as far as it is known. */
export function describe(props: unknown): string {
    const name = stringAt(props, "metadata", "name");
    const namespace = stringAt(props, "metadata", "namespace");
    const show = (v: typeof name) => (v === UNKNOWN ? "(unknown)" : v ?? "(none)");
    return namespace === undefined ? show(name) : `${show(namespace)}/${show(name)}`;
}

/**
 * Whether the engine handed a stack check no properties of a resource: in a preview it has none for a resource it
 * would create (the check sees outputs, which do not exist yet). Stack rules then recognise the program's resources
 * by their names in the program, and count on `pulumi up`, where the outputs are known, for the rest.
 */
export function propertiesUnknown(props: unknown): boolean {
    return typeof props === "object" && props !== null && Object.keys(props).length === 0;
}

/** Type tokens of the Istio custom resources, in every API version Istio serves them. */
export const ISTIO_TYPES = {
    peerAuthentication: /^kubernetes:security\.istio\.io\/v1(beta1)?:PeerAuthentication$/,
    authorizationPolicy: /^kubernetes:security\.istio\.io\/v1(beta1)?:AuthorizationPolicy$/,
    destinationRule: /^kubernetes:networking\.istio\.io\/v1(beta1|alpha3)?:DestinationRule$/,
    gateway: /^kubernetes:networking\.istio\.io\/v1(beta1|alpha3)?:Gateway$/,
    virtualService: /^kubernetes:networking\.istio\.io\/v1(beta1|alpha3)?:VirtualService$/,
} as const;

export const HELM_RELEASE = "kubernetes:helm.sh/v3:Release";
export const COMMAND = "command:local:Command";

/** Kubernetes workloads and where their pod spec is. */
const POD_SPEC_PATHS: Record<string, string[]> = {
    "kubernetes:core/v1:Pod": ["spec"],
    "kubernetes:apps/v1:Deployment": ["spec", "template", "spec"],
    "kubernetes:apps/v1:DaemonSet": ["spec", "template", "spec"],
    "kubernetes:apps/v1:StatefulSet": ["spec", "template", "spec"],
    "kubernetes:apps/v1:ReplicaSet": ["spec", "template", "spec"],
    "kubernetes:batch/v1:Job": ["spec", "template", "spec"],
    "kubernetes:batch/v1:CronJob": ["spec", "jobTemplate", "spec", "template", "spec"],
};

/** Every container image of a workload's pod spec (`UNKNOWN` for images not known yet); none for other types. */
export function containerImages(type: string, props: unknown): Array<Maybe<string | undefined>> {
    const specPath = POD_SPEC_PATHS[type];
    if (specPath === undefined) {
        return [];
    }
    return ["initContainers", "containers", "ephemeralContainers"]
        .flatMap((list) => elementsAt(props, ...specPath, list))
        .map((container) => stringAt(container, "image"));
}

/** Istio's charts, by the name Istio publishes them under. */
export const ISTIO_CHARTS = ["base", "istiod", "gateway", "cni", "ztunnel"] as const;
export type IstioChartName = typeof ISTIO_CHARTS[number];

/** What a Helm release of one of Istio's charts installs. */
export interface IstioChartRelease {
    chart: IstioChartName;
    /** `chart` as the release names it: a chart name, an `oci://` reference or a local directory. */
    reference: string;
    /** The Istio release (the chart's version), `UNKNOWN`, or undefined when it cannot be read. */
    version: Maybe<string | undefined>;
    /** Where a version that cannot be read was looked for. */
    versionSource: string;
}

/**
 * The Istio chart a Helm release installs, if it is one: the chart's name is one of Istio's and it comes from an
 * Istio repository or registry (its URL names istio), or from a local directory whose Chart.yaml is Istio's. The
 * version is the release's `version`; a local chart carries its own in Chart.yaml (read from the directory,
 * relative paths from the directory `pulumi` was started in).
 */
export function istioChartRelease(type: string, props: unknown, cwd: string = process.env.PWD ?? process.cwd()): IstioChartRelease | undefined {
    if (type !== HELM_RELEASE) {
        return undefined;
    }
    const reference = stringAt(props, "chart");
    if (reference === UNKNOWN || reference === undefined) {
        return undefined;
    }
    const chart = ISTIO_CHARTS.find((c) => reference === c || reference.endsWith(`/${c}`));
    if (chart === undefined) {
        return undefined;
    }
    const version = stringAt(props, "version");
    const repository = stringAt(props, "repositoryOpts", "repo");
    if (reference.startsWith("oci://") || typeof repository === "string" || reference === chart) {
        const source = reference.startsWith("oci://") ? reference : typeof repository === "string" ? repository : "";
        return /istio/i.test(source) || repository === UNKNOWN ? { chart, reference, version, versionSource: "the release's version" } : undefined;
    }
    const chartYaml = path.resolve(cwd, reference, "Chart.yaml");
    let text: string;
    try {
        text = fs.readFileSync(chartYaml, "utf8");
    } catch {
        // A chart whose Chart.yaml cannot be read: Istio's by its name and path, of an unknown release.
        return /istio/i.test(reference) ? { chart, reference, version: version ?? undefined, versionSource: chartYaml } : undefined;
    }
    if (!/istio\.io/.test(text)) {
        return undefined;
    }
    const declared = /^version:\s*["']?([^"'\s]+)["']?\s*$/m.exec(text)?.[1];
    return { chart, reference, version: declared ?? version ?? undefined, versionSource: chartYaml };
}
