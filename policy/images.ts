/**
 * Images only from the configured hub: every container image of a workload the stack declares, and the image hub
 * of every Istio chart that runs images, is the registry the platform team configured — the rule's `hub`, or else
 * the stack's own `imageHub`. A stack with neither pulls from the upstream registries, which this rule then does
 * not judge.
 */
import { ResourceValidationPolicy } from "@pulumi/policy";
import { PackEnvironment } from "./environment";
import { containerImages, describe, istioChartRelease, stringAt } from "./resources";

/** The configuration of the image rule. */
export interface ImageHubConfig {
    /** The registry (and path) every image must come from, e.g. harbor.example.com/istio. */
    hub?: string;
}

/** The image the injector fills in (the gateway chart's `image: auto`). */
const INJECTED = "auto";

/** Whether `image` is in `hub` (a registry and path without a trailing `/`). */
export function isFromHub(image: string, hub: string): boolean {
    return image.startsWith(`${hub}/`);
}

export function imagesFromConfiguredHub(environment: PackEnvironment): ResourceValidationPolicy {
    return {
        name: "images-from-configured-hub",
        description: "Every container image, and the image hub of every Istio chart, is the configured hub (the rule's hub, else the stack's imageHub).",
        remediationSteps: "Set imageHub to the registry that mirrors Istio's, Bookinfo's and the add-ons' images (pulumi config set imageHub harbor.example.com/istio).",
        severity: "high",
        configSchema: {
            properties: {
                hub: { type: "string", description: "The registry and path every image must come from; default: the stack's imageHub." },
            },
        },
        validateResource: (args, report) => {
            const configured = args.getConfig<ImageHubConfig>().hub?.replace(/\/+$/, "") ?? environment.imageHub;
            const release = istioChartRelease(args.type, args.props);
            const images = containerImages(args.type, args.props);
            if (release === undefined && images.length === 0) {
                return;
            }
            if (configured === undefined) {
                return args.notApplicable("no image hub is configured (the stack's imageHub or this rule's hub)");
            }
            for (const image of images) {
                if (typeof image === "string" && image !== INJECTED && !isFromHub(image, configured)) {
                    report(`${describe(args.props)} runs the image ${image}, which is not from ${configured}.`);
                }
            }
            if (release !== undefined && release.chart !== "base") {
                const hub = stringAt(args.props, "values", "global", "hub");
                // The gateway's proxy image is injected by istiod (the chart's image is `auto`) unless its hub is set.
                if (hub === undefined && release.chart !== "gateway") {
                    report(`the ${release.chart} chart runs its images from the chart's default registry, not from ${configured}: set global.hub (imageHub).`);
                } else if (typeof hub === "string" && hub.replace(/\/+$/, "") !== configured) {
                    report(`the ${release.chart} chart runs its images from ${hub}, not from ${configured}.`);
                }
            }
        },
    };
}
