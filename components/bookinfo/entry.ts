import * as pulumi from "@pulumi/pulumi";
import { AuthorizationPolicySpec } from "../istio/resources";

/**
 * What Bookinfo's authorization needs of the gateway that lets the outside in — the `istio/gateway` chart's with
 * an Istio `Gateway` and `VirtualService` (`BookinfoIngress`), or the one istiod deploys for a Gateway API
 * `Gateway` with an `HTTPRoute` (`BookinfoGatewayApiIngress`): the identity it calls the product page with, the
 * paths it routes there, and where a policy on the gateway itself goes.
 */
export interface BookinfoEntry {
    /** `<namespace>/<name>` of the gateway proxy's service account, known once the gateway exists. */
    serviceAccountId: pulumi.Output<string>;
    /** The paths the gateway routes to the product page, as AuthorizationPolicy paths; undefined: every path. */
    productPagePaths: pulumi.Output<string[] | undefined>;
    /** The namespace of the gateway's pods. */
    gatewayNamespace: pulumi.Output<string>;
    /** What a policy on the gateway itself applies to: its pods' labels, or its Gateway API `Gateway`. */
    gatewayTarget: Pick<AuthorizationPolicySpec, "selector" | "targetRefs">;
    /** The gateway container's port for plain HTTP (what a policy on the gateway matches). */
    gatewayPort: number;
    /** What must exist before the service account can be read and a policy on the gateway written. */
    readyBefore: pulumi.Resource[];
    /** `http://<gateway address>/productpage`, once the gateway has an address. */
    productPageUrl: pulumi.Output<string | undefined>;
}
