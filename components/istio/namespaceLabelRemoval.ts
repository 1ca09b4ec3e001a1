import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { RemovedLabels } from "../../programs/mesh/namespaceLabels";
import { launcherInterpreter } from "../../programs/launcher/interpreter";

export interface NamespaceLabelRemovalArgs {
    /** The kubeconfig of the cluster (a secret); it reaches the script in its environment. */
    kubeconfig: pulumi.Input<string>;
    /** The existing namespace. */
    namespace: pulumi.Input<string>;
    /** The labels to remove: key → the one value that may stay (`null`: remove whatever the value). */
    labels: Record<string, string | null>;
    /**
     * The exact field-manager names of the program's own label patches: a label that only they set is the
     * program's (of an earlier configuration), removed but not put back on destroy.
     */
    ownFieldManagers: string[];
}

/**
 * Removes labels from a namespace that Pulumi does not own, for as long as the stack needs them gone, and puts
 * the original values back when it is destroyed (or no longer needs them removed).
 *
 * Istio's revision webhooks select only namespaces without an `istio-injection` label, so using an existing
 * namespace labelled `istio-injection=enabled` with a control-plane revision would silently inject nothing; a
 * Kubernetes patch resource cannot delete a label another field manager owns, nor restore it later, so this is
 * a command (programs/mesh/namespaceLabels.ts) that records what it removed, and the namespace's uid, in its
 * stdout: labels go back only onto that namespace, never onto one created again under the same name.
 */
export class NamespaceLabelRemoval extends pulumi.ComponentResource {
    /** The namespace's name, available once the labels are gone: depend on it to come after the removal. */
    public readonly namespaceName: pulumi.Output<string>;
    /** The labels it removed, with their original values. */
    public readonly removed: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: NamespaceLabelRemovalArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:istio:NamespaceLabelRemoval", name, {}, opts);
        const removal = new command.local.Command(name, {
            interpreter: launcherInterpreter("components/istio/namespaceLabels.ts"),
            create: "remove",
            update: "remove",
            delete: "restore",
            environment: {
                NAMESPACE_LABELS_KUBECONFIG: pulumi.secret(args.kubeconfig),
                NAMESPACE_LABELS_NAMESPACE: args.namespace,
                NAMESPACE_LABELS_REMOVE: JSON.stringify(args.labels),
                NAMESPACE_LABELS_OWN_MANAGERS: JSON.stringify(args.ownFieldManagers),
            },
            logging: "stderr",
        }, { parent: this });
        const result = pulumi.unsecret(removal.stdout).apply((stdout) => JSON.parse(stdout) as RemovedLabels);
        this.namespaceName = result.apply((r) => r.namespace);
        this.removed = result.apply((r) => r.removed);
        this.registerOutputs({ namespaceName: this.namespaceName, removed: this.removed });
    }
}
