/**
 * The automated form of "reload the product page": polls Bookinfo's product page until it answers HTTP 200 with
 * the title `Simple Bookstore App`, printing one progress line per attempt to stderr.
 *
 * Run by `ProductPageCheck` through the command provider as
 *   node components/launcher/run.js components/bookinfo/checkProductPage.ts
 * with PRODUCTPAGE_URL, PRODUCTPAGE_TIMEOUT_SECONDS and PRODUCTPAGE_INTERVAL_SECONDS in the environment.
 * On success it prints a JSON `ProductPageResult` on stdout; on timeout it exits 1 naming the last answer.
 */

export const EXPECTED_TITLE = "Simple Bookstore App";

/** What the check found. */
export interface ProductPageResult {
    url: string;
    status: number;
    title: string;
    attempts: number;
    elapsedSeconds: number;
}

export interface CheckOptions {
    url: string;
    timeoutMs: number;
    intervalMs: number;
    log: (line: string) => void;
}

function titleOf(html: string): string {
    return /<title>([^<]*)<\/title>/i.exec(html)?.[1].trim() ?? "";
}

export async function checkProductPage(options: CheckOptions): Promise<ProductPageResult> {
    const started = Date.now();
    let attempts = 0;
    let last = "no answer yet";
    for (;;) {
        attempts += 1;
        const remaining = options.timeoutMs - (Date.now() - started);
        try {
            const response = await fetch(options.url, { signal: AbortSignal.timeout(Math.max(1000, Math.min(10_000, remaining))), redirect: "manual" });
            const title = titleOf(await response.text());
            last = `HTTP ${response.status}${title ? `, title "${title}"` : ""}`;
            if (response.status === 200 && title === EXPECTED_TITLE) {
                const elapsedSeconds = Math.round((Date.now() - started) / 1000);
                options.log(`productpage: ${options.url} answered ${last} after ${attempts} attempt(s), ${elapsedSeconds}s`);
                return { url: options.url, status: response.status, title, attempts, elapsedSeconds };
            }
        } catch (e) {
            const cause = (e as { cause?: { code?: string } }).cause?.code;
            last = cause ?? (e as Error).message;
        }
        const elapsed = Date.now() - started;
        options.log(`productpage: ${options.url}: ${last} (${Math.round(elapsed / 1000)}s elapsed)`);
        if (elapsed + options.intervalMs > options.timeoutMs) {
            throw new Error(`no HTTP 200 with title "${EXPECTED_TITLE}" from ${options.url} within ${Math.round(options.timeoutMs / 1000)}s; last answer: ${last}`);
        }
        await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
    }
}

if (require.main === module) {
    const url = process.env.PRODUCTPAGE_URL ?? "";
    checkProductPage({
        url,
        timeoutMs: Number(process.env.PRODUCTPAGE_TIMEOUT_SECONDS ?? 600) * 1000,
        intervalMs: Number(process.env.PRODUCTPAGE_INTERVAL_SECONDS ?? 10) * 1000,
        log: (line) => process.stderr.write(`${line}\n`),
    }).then((result) => {
        process.stdout.write(`${JSON.stringify(result)}\n`);
    }, (e: Error) => {
        process.stderr.write(`productpage check failed: ${e.message}\n`);
        process.exitCode = 1;
    });
}
