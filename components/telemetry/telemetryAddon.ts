import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IstioControlPlane } from "../istio/controlPlane";
import {
    AddonUi, ManifestObject, TELEMETRY_ADDONS, TelemetryAddonName, addonUi, imagesOf, loadAddon, manifestLocation, publishedAddons,
} from "./manifests";

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
     */
    source?: string;
    /** The Istio release whose add-ons (and so versions) to install when `source` is unset, e.g. `1.30.3`. */
    istioVersion: string;
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
 * it, with the image registry moved to `imageHub`. The objects are applied as one `yaml/v2` ConfigGroup, whose
 * Deployments `pulumi up` waits for until they are ready; `pulumi destroy` (or turning the add-on off) deletes
 * every object, the cluster-wide RBAC included.
 */
export class TelemetryAddon extends pulumi.ComponentResource {
    /** Which add-on. */
    public readonly addon: TelemetryAddonName;
    /** Where the manifest was read. */
    public readonly location: string;
    /** The objects as applied (images moved to the hub). */
    public readonly objects: pulumi.Output<ManifestObject[]>;
    /** The container images the add-on runs, for mirroring. */
    public readonly images: pulumi.Output<string[]>;
    /** The applied objects. */
    public readonly resources: k8s.yaml.v2.ConfigGroup;
    /** How to open the add-on's UI. */
    public readonly ui: pulumi.Output<AddonUi>;

    constructor(name: string, args: TelemetryAddonArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:telemetry:TelemetryAddon", name, {}, opts);
        this.addon = args.addon;
        const info = TELEMETRY_ADDONS[args.addon];
        const source = args.source ?? publishedAddons(args.istioVersion);
        this.location = manifestLocation(source, info.file);

        this.objects = pulumi.output(loadAddon(args.addon, source, args.imageHub)).apply((objects): ManifestObject[] => objects);
        this.images = this.objects.apply(imagesOf);
        this.ui = this.objects.apply((objects) => addonUi(objects, info, this.location));

        this.resources = new k8s.yaml.v2.ConfigGroup(name, {
            objs: this.objects,
        }, { parent: this, provider: args.provider, dependsOn: [args.controlPlane.release] });

        this.registerOutputs({ location: this.location, images: this.images, ui: this.ui });
    }
}
