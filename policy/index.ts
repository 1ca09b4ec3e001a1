/**
 * The pks-istio-mesh policy pack (CrossGuard): the guardrails a platform team holds every stack of the program to,
 * at `pulumi preview` and `pulumi up` (`--policy-pack policy`). Every rule is mandatory in a production stack and
 * advisory elsewhere; the pack's configuration (`--policy-pack-config`) overrides a rule's level and settings.
 * See README.md beside this file.
 */
import { PolicyPack } from "@pulumi/policy";
import * as pulumi from "@pulumi/pulumi";
import { PROGRAM, packEnvironment } from "./environment";
import { meshPolicies } from "./policies";

const environment = packEnvironment(pulumi.getStack(), (key) => new pulumi.Config(PROGRAM).get(key));

new PolicyPack("pks-istio-mesh", {
    description: "Mesh guardrails for pks-istio-mesh stacks: strict mutual TLS, named hosts, a verified and protected PKS cluster, no Istio release under a security bulletin, images from the configured hub, Bookinfo authorization.",
    enforcementLevel: environment.enforcementLevel,
    policies: meshPolicies(environment),
});
