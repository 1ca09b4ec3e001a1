import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IstioControlPlane } from "../istio/controlPlane";
import { ADDON_SECRETS, addonLogin, addonNetworkPolicy, hardenAddon, randomSecretValue } from "./hardening";
import {
    ADDONS_NAMESPACE, AddonUi, ManifestObject, TELEMETRY_ADDONS, TelemetryAddonName, addonUi, imagesOf, manifestLocation, publishedAddons, withImageHub,
} from "./manifests";
import { PINNED_ADDON_SHA256, loadAddon, manifestPin } from "./verification";

export interface TelemetryAddonArgs {
    /** The Kubernetes provider of the target cluster. */
    provider: k8s.Provider;
    /** The control plane: its namespace (`istio-system`, where the manifests put the add-on) must exist first. */
    controlPlane: IstioControlPlane;
    /** Which add-on. */
    addon: TelemetryAddonName;
    /**
     * Where the manifests are: an https base URL (a mirror of Istio's `samples/addons`) or a local directory
     * holding `prometheus.yaml`, `grafana.yaml`, `kiali.yaml`, `jaeger.yaml` (air-gapped sites); a relative
     * directory is relative to the project directory. Defaults to Istio's published samples for `istioVersion`.
     * Whatever the source, the manifest must match its pinned sha256.
     */
    source?: string;
    /** The Istio release whose add-ons (and so versions and pinned digests) to install, e.g. `1.30.3`. */
    istioVersion: string;
    /**
     * The sha256 the manifest must have, replacing the program's pin for `istioVersion` (`PINNED_ADDON_SHA256`);
     * required for a release the program does not pin. Hex, 64 digits.
     */
    sha256?: string;
    /**
     * A registry that holds the add-on images under their upstream repository paths and tags: it replaces the
     * registry of every image, e.g. `docker.io/prom/prometheus:v3.10.0` → `<imageHub>/prom/prometheus:v3.10.0`.
     * Unset: the manifests' own registries.
     */
    imageHub?: string;
}

/**
 * One of Istio's telemetry add-ons (Prometheus, Grafana with Istio's dashboards, Kiali, Jaeger), installed from
 * the manifest of Istio's `samples/addons` for the configured release, read at run time from where the user keeps
 * it and applied only once it matches its pinned sha256 and holds exactly the add-on's objects (verification.ts);
 * then hardened (hardening.ts: no anonymous or write access, generated credentials, read-only RBAC) with the image
 * registry moved to `imageHub`. Its NetworkPolicy and generated Secret exist before its pods. The objects are
 * applied as one `yaml/v2` ConfigGroup, whose Deployments `pulumi up` waits for until they are ready; `pulumi
 * destroy` (or turning the add-on off) deletes every object, the cluster-wide RBAC included, and the
 * NetworkPolicy after the pods.
 */
export class TelemetryAddon extends pulumi.ComponentResource {
    /** Which add-on. */
    public readonly addon: TelemetryAddonName;
    /** Where the manifest was read. */
    public readonly location: string;
    /** The sha256 the manifest was checked against. */
    public readonly sha256: string;
    /** The objects as applied (verified, hardened, images moved to the hub). */
    public readonly objects: pulumi.Output<ManifestObject[]>;
    /** The container images the add-on runs, for mirroring. */
    public readonly images: pulumi.Output<string[]>;
    /** The NetworkPolicy that keeps every other pod away from the add-on's UI. */
    public readonly networkPolicy: k8s.networking.v1.NetworkPolicy;
    /** The generated credential (Grafana's admin password, Kiali's signing key), for the add-ons that have one. */
    public readonly secret?: k8s.core.v1.Secret;
    /** The applied objects. */
    public readonly resources: k8s.yaml.v2.ConfigGroup;
    /** How to open the add-on's UI (and log in). */
    public readonly ui: pulumi.Output<AddonUi>;

    constructor(name: string, args: TelemetryAddonArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:telemetry:TelemetryAddon", name, {}, opts);
        this.addon = args.addon;
        const info = TELEMETRY_ADDONS[args.addon];
        const source = args.source ?? publishedAddons(args.istioVersion);
        this.location = manifestLocation(source, info.file);
        const pin = manifestPin(args.addon, args.istioVersion, args.sha256);
        this.sha256 = pin.sha256;
        const istios = PINNED_ADDON_SHA256[args.istioVersion]?.[args.addon];
        if (istios !== undefined && istios !== pin.sha256) {
            pulumi.log.warn(`${pin.pinnedBy} replaces the sha256 of Istio ${args.istioVersion}'s own ${info.file}: the ${info.title} applied is not Istio's`, this);
        }
        const after = { parent: this, provider: args.provider, dependsOn: [args.controlPlane.release] };

        this.networkPolicy = new k8s.networking.v1.NetworkPolicy(name, {
            metadata: { name: args.addon, namespace: ADDONS_NAMESPACE },
            spec: addonNetworkPolicy(args.addon),
        }, after);
        const secret = ADDON_SECRETS[args.addon];
        if (secret !== undefined) {
            // Generated once: later runs keep the stored value (`data`, as the provider stores a Secret's inputs).
            this.secret = new k8s.core.v1.Secret(`${name}-${secret.name}`, {
                metadata: { name: secret.name, namespace: ADDONS_NAMESPACE },
                type: "Opaque",
                data: { [secret.key]: pulumi.secret(Buffer.from(randomSecretValue()).toString("base64")) },
            }, { ...after, ignoreChanges: ["data"] });
        }

        // The objects wait for the NetworkPolicy and the Secret to exist (their URNs resolve once they are created),
        // so that no pod of the add-on starts unprotected or without its credential.
        const verified = pulumi.output(loadAddon(args.addon, source, pin));
        this.objects = pulumi.all([verified, this.networkPolicy.urn, this.secret?.urn])
            .apply(([objects]) => withImageHub(hardenAddon(args.addon, objects, this.location), args.imageHub));
        this.images = this.objects.apply(imagesOf);
        this.ui = this.objects.apply((objects) => addonUi(objects, info, this.location, addonLogin(args.addon)));

        this.resources = new k8s.yaml.v2.ConfigGroup(name, {
            objs: this.objects,
        }, { ...after, dependsOn: [args.controlPlane.release, this.networkPolicy, ...this.secret ? [this.secret] : []] });

        this.registerOutputs({ location: this.location, images: this.images, ui: this.ui });
    }
}
