/** The pack's rules, for one stack's environment. */
import { Policies } from "@pulumi/policy";
import { bookinfoAuthorization } from "./authorization";
import { PackEnvironment } from "./environment";
import { hostsNotWildcard } from "./hosts";
import { imagesFromConfiguredHub } from "./images";
import { istioReleaseWithoutBulletin } from "./istioRelease";
import { meshMtlsRequired, mtlsStrict } from "./mtls";
import { pksClusterProtected, pksTlsVerified } from "./pks";

export function meshPolicies(environment: PackEnvironment): Policies {
    return [
        mtlsStrict,
        meshMtlsRequired,
        hostsNotWildcard(environment),
        pksTlsVerified,
        pksClusterProtected(environment),
        istioReleaseWithoutBulletin,
        imagesFromConfiguredHub(environment),
        bookinfoAuthorization,
    ];
}
