import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ProductPageResult } from "../../programs/productPage/checkProductPage";
import { launcherInterpreter } from "../../programs/launcher/interpreter";

export interface ProductPageCheckArgs {
    /** The product page at the gateway's address, e.g. `BookinfoIngress.gatewayUrl`. */
    url: pulumi.Input<string>;
    /** The Host header the gateway routes by (`BookinfoIngress.host`); unset when it accepts any host. */
    host?: string;
    /** Give up after this many seconds. Defaults to 600. */
    timeoutSeconds?: number;
    /** Seconds between attempts, each of which prints a progress line. Defaults to 10. */
    intervalSeconds?: number;
}

/**
 * Checks after deployment that Bookinfo answers through the mesh: `GET <url>` must return 200 with the title
 * `Simple Bookstore App` within the timeout, or `pulumi up` fails. Runs again whenever the URL changes. The
 * component's `dependsOn` (everything the page needs: workloads, routing, mTLS rules) also orders the check.
 */
export class ProductPageCheck extends pulumi.ComponentResource {
    /** What the check found (status, title, attempts, seconds). */
    public readonly result: pulumi.Output<ProductPageResult>;

    constructor(name: string, args: ProductPageCheckArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pks-istio-mesh:bookinfo:ProductPageCheck", name, {}, opts);
        const check = new command.local.Command(`${name}`, {
            interpreter: launcherInterpreter("components/bookinfo/checkProductPage.ts"),
            create: "check",
            environment: {
                PRODUCTPAGE_URL: args.url,
                PRODUCTPAGE_TIMEOUT_SECONDS: String(args.timeoutSeconds ?? 600),
                PRODUCTPAGE_INTERVAL_SECONDS: String(args.intervalSeconds ?? 10),
                ...(args.host === undefined ? {} : { PRODUCTPAGE_HOST: args.host }),
            },
            logging: "stderr",
        }, { parent: this, dependsOn: opts?.dependsOn });
        this.result = check.stdout.apply((stdout) => JSON.parse(stdout) as ProductPageResult);
        this.registerOutputs({ result: this.result });
    }
}
