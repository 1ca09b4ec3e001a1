import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { launcherInterpreter } from "../../programs/launcher/interpreter";
import { GATEWAY_API_RELEASES, loadGatewayApi, objectKey, publishedGatewayApi } from "../../programs/mesh/gatewayApiBundle";
import { GatewayApiReport } from "../../programs/mesh/gatewayApiInstall";
import { labelFieldManager } from "./meshNamespace";
import { stackMark } from "./namespaceOwnership";

export interface GatewayApiCrdsArgs {
    /** The cluster's kubeconfig (a secret); it reaches the installer in its environment. */
    kubeconfig: pulumi.Input<string>;
    /** The Gateway API release, e.g. `v1.6.3` (`gatewayApiVersionFor` the newest control plane's Istio release). */
    version: string;
    /**
     * Where its standard channel's files are: an https base URL (a mirror of the release's config/crd/standard)
     * or a local directory holding them (air-gapped sites); a relative directory is relative to the project
     * directory. Defaults to the release's tag on GitHub (`publishedGatewayApi`). Whatever the source, every file
     * must match its pinned sha256.
     */
    source?: string;
    /** Upgrade objects that are older and not this stack's (adoptExistingObjects). Defaults to false. */
    adopt?: boolean;
    /** What must exist first (e.g. the revision guard's check, through the kubeconfig, or the control plane). */
    dependsOn?: pulumi.Resource[];
}

/**
 * The Kubernetes Gateway API's standard channel, which Istio's charts do not install and which Istio's gateway
 * controller and waypoints need: its CRDs (and the admission policy that guards their upgrades), at the release
 * the Istio release expects.
 *
 * Its files are read when the program runs (every preview and update), from the release's tag on GitHub, a mirror
 * or a local directory, and applied only when each matches its pinned sha256 and holds exactly that release's
 * standard objects (gatewayApiBundle.ts). Installing is a command (gatewayApiInstall.ts), because what it may do
 * depends on what the cluster already has, object by object: a missing object is created with this stack's mark;
 * one at this release or newer — whoever installed it, either channel — is kept as it is, never downgraded; an
 * older one is upgraded only when this stack installed it (or `adopt`), and otherwise the update stops, naming
 * it, before anything is written. The command runs again when the release (or the source) changes.
 *
 * `pulumi destroy` leaves the CRDs in the cluster, as Helm leaves Istio's: deleting a CRD deletes every object
 * of its kind, other teams' included (docs/ingress-and-data-plane.md says how to remove them once nothing uses
 * them); a later `pulumi up` of this stack finds them marked as its own and keeps or upgrades them.
 */
export class GatewayApiCrds extends pulumi.ComponentResource {
    /** The release installed, e.g. `v1.6.3`. */
    public readonly version: string;
    /** Where its files are read. */
    public readonly source: string;
    /** The verified release's objects, as `<Kind> <name>` (read at every preview and update). */
    public readonly objects: pulumi.Output<string[]>;
    /** The installer's run. */
    public readonly installation: command.local.Command;
    /** What the installer did with each object (`create`, `upgrade`, `keep`), once it ran. */
    public readonly report: pulumi.Output<GatewayApiReport>;
    /** What objects of the Gateway API's kinds must wait for. */
    public readonly readyBefore: pulumi.Resource[];

    constructor(name: string, args: GatewayApiCrdsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:istio:GatewayApiCrds", name, {}, opts);
        if (GATEWAY_API_RELEASES[args.version] === undefined) {
            throw new Error(`GatewayApiCrds ${name}: the program pins no Gateway API release ${args.version} (it pins ${Object.keys(GATEWAY_API_RELEASES).join(", ")})`);
        }
        this.version = args.version;
        this.source = args.source ?? publishedGatewayApi(args.version);
        // Read and verified in previews too: a bad source or a file that does not match its pin fails before anything changes.
        this.objects = pulumi.output(loadGatewayApi(this.version, this.source).then((b) => b.objects.map(objectKey)));
        this.installation = new command.local.Command(name, {
            interpreter: launcherInterpreter("programs/mesh/gatewayApiInstall.ts"),
            create: "apply",
            update: "apply",
            environment: {
                GATEWAY_API_KUBECONFIG: pulumi.secret(args.kubeconfig),
                GATEWAY_API_VERSION: this.version,
                GATEWAY_API_SOURCE: this.source,
                GATEWAY_API_MARK: stackMark(),
                GATEWAY_API_ADOPT: String(args.adopt ?? false),
                GATEWAY_API_FIELD_MANAGER: labelFieldManager(),
                // The verified objects: the installer runs again when the release's content changes.
                GATEWAY_API_OBJECTS: this.objects.apply((keys) => keys.join(",")),
            },
            logging: "stderr",
        }, { parent: this, dependsOn: args.dependsOn });
        this.report = pulumi.unsecret(this.installation.stdout).apply((stdout) => JSON.parse(stdout) as GatewayApiReport);
        this.readyBefore = [this.installation];
        this.registerOutputs({ version: this.version, report: this.report });
    }
}
