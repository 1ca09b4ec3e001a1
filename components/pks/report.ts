/**
 * The components' side of pksctl's stdout documents: parsing them, and reporting the events of the run that
 * printed them with `pulumi.log`, so that adoptions, re-logins, retries and why a wait ended stay in the
 * deployment's output after its progress lines are gone.
 */
import * as pulumi from "@pulumi/pulumi";
import { PksctlReport, WARNING } from "../../programs/pksctl/contract";

/** A pksctl document (a Command's stdout, which carries nothing secret), parsed; the report fields defaulted. */
export function parseReport<T extends PksctlReport>(stdout: pulumi.Output<string>): pulumi.Output<T> {
    return pulumi.unsecret(stdout).apply((text) => {
        const document = JSON.parse(text) as T;
        // A document stored in the state by an earlier pksctl has no report fields.
        return { ...document, events: Array.isArray(document.events) ? document.events : [], finishedAt: document.finishedAt ?? "" };
    });
}

/**
 * Reports the events of a pksctl run with `pulumi.log` (warnings as warnings), attached to `resource`; resolves
 * to the events. Only a run that finished during this deployment (at or after `since`, the component's
 * construction) is reported: a document kept in the state since an earlier run is not reported again.
 */
export function reportEvents(report: pulumi.Output<PksctlReport>, resource: pulumi.Resource, since: number): pulumi.Output<string[]> {
    return report.apply(({ events, finishedAt }) => {
        if (Date.parse(finishedAt) >= since) {
            for (const event of events) {
                if (event.startsWith(WARNING)) {
                    void pulumi.log.warn(event.slice(WARNING.length), resource);
                } else {
                    void pulumi.log.info(event, resource);
                }
            }
        }
        return events;
    });
}
