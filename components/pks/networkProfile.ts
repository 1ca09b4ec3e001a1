import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { PKSCTL_INTERPRETER, PksConnectionArgs, PksOwnershipArgs, claimOf, ownershipEnvironment, pksctlEnvironment } from "./connection";
import { ClaimDocument, NetworkProfileDocument, NetworkProfileParameters, NetworkProfileSummary, PKSCTL_ENV } from "../../programs/pksctl/contract";
import { parseReport, reportEvents } from "./report";

export type { LoadBalancerSize, NetworkProfileParameters } from "../../programs/pksctl/contract";

export interface PksNetworkProfileArgs extends PksOwnershipArgs {
    /** How to reach and log in to the PKS API. */
    connection: PksConnectionArgs;
    /** Free-text description shown by `pks network-profiles`. */
    description?: string;
    /** The profile's parameters. */
    parameters: NetworkProfileParameters;
}

/**
 * A PKS network profile (`pks create-network-profile FILE`). The resource name is the profile's name in PKS.
 *
 * PKS profiles are immutable: changing the description or a parameter replaces the profile, deleting the old
 * one first (which PKS refuses while a cluster uses it). To move a cluster onto changed settings, give the new
 * profile a new name: it is created, the cluster is switched with `update-cluster --network-profile`, and the
 * old profile is deleted last. Before the first create the stack claims the name (a child `<name>-claim`
 * recording whether PKS already had such a profile): creating adopts an existing profile with identical settings
 * only if it appeared after the claim (the stack's own interrupted create) or `adoptExisting` says so, and fails,
 * listing the differences, on one that differs; delete acts only on the profile whose uuid the stack recorded.
 * What pksctl did that matters after the run (an adoption, retries) is reported with `pulumi.log` on this
 * component and kept in `events`.
 */
export class PksNetworkProfile extends pulumi.ComponentResource {
    /** The profile's name in PKS; depending on it orders clusters after the profile (and before its deletion). */
    public readonly profileName: pulumi.Output<string>;
    /** The profile's uuid in PKS. */
    public readonly uuid: pulumi.Output<string>;
    /** The document given to `pks create-network-profile`. */
    public readonly document: NetworkProfileDocument;
    /** What pksctl's create of the profile reported. */
    public readonly events: pulumi.Output<string[]>;

    constructor(name: string, args: PksNetworkProfileArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:pks:PksNetworkProfile", name, {}, opts);
        const constructedAt = Date.now();

        this.document = { name, description: args.description ?? "", parameters: { ...args.parameters } };
        const documentJson = JSON.stringify(this.document);
        const environment = { ...pksctlEnvironment(args.connection), [PKSCTL_ENV.networkProfile]: documentJson };
        // The stack's claim on the name, recorded before the first create and never run again.
        const claim = new command.local.Command(`${name}-claim`, {
            interpreter: PKSCTL_INTERPRETER,
            create: "claim-network-profile",
            environment,
            logging: "stderr",
            addPreviousOutputInEnv: false,
        }, { parent: this, ignoreChanges: ["environment"] });
        const claimed = parseReport<ClaimDocument>(claim.stdout);
        const profile = new command.local.Command(name, {
            interpreter: PKSCTL_INTERPRETER,
            create: "create-network-profile",
            delete: "delete-network-profile",
            environment: {
                ...environment,
                [PKSCTL_ENV.ownership]: claimed.apply((c) => ownershipEnvironment(args, { claim: claimOf(c), tag: false })),
            },
            // Immutable in PKS: any change of the document is a replacement.
            triggers: [documentJson],
            logging: "stderr",
            // Delete reads the uuid the stack recorded from the previous run's document.
            addPreviousOutputInEnv: true,
        }, { parent: this, deleteBeforeReplace: true });

        const created = parseReport<NetworkProfileSummary>(profile.stdout);
        this.profileName = created.apply((p) => p.name);
        this.uuid = created.apply((p) => p.uuid);
        this.events = pulumi.all([reportEvents(claimed, this, constructedAt), reportEvents(created, this, constructedAt)]).apply((lists) => lists.flat());
        this.registerOutputs({ profileName: this.profileName, uuid: this.uuid, events: this.events });
    }
}
