/**
 * The automated form of "reload the product page": polls Bookinfo's product page until it answers HTTP 200 with
 * the title `Simple Bookstore App`, printing one progress line per attempt to stderr.
 *
 * Run by `ProductPageCheck` through the command provider as
 *   node components/launcher/run.js components/bookinfo/checkProductPage.ts
 * with PRODUCTPAGE_URL, PRODUCTPAGE_TIMEOUT_SECONDS and PRODUCTPAGE_INTERVAL_SECONDS (and PRODUCTPAGE_HOST, the
 * Host header, when the gateway serves named hosts) in the environment.
 * On success it prints a JSON `ProductPageResult` on stdout; on timeout it exits 1 naming the last answer.
 */
import * as http from "http";

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
    /** The Host header to send (the gateway routes by it); unset: the URL's host. */
    host?: string;
    timeoutMs: number;
    intervalMs: number;
    log: (line: string) => void;
}

/** One GET without following redirects: its status and body. (fetch cannot set a Host header.) */
function get(url: string, host: string | undefined, timeoutMs: number): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const request = http.get(url, { headers: host ? { host } : {}, signal: AbortSignal.timeout(timeoutMs) }, (response) => {
            const chunks: Buffer[] = [];
            response.on("data", (chunk: Buffer) => chunks.push(chunk));
            response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
            response.on("error", reject);
        });
        request.on("error", reject);
    });
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
            const response = await get(options.url, options.host, Math.max(1000, Math.min(10_000, remaining)));
            const title = titleOf(response.body);
            last = `HTTP ${response.status}${title ? `, title "${title}"` : ""}`;
            if (response.status === 200 && title === EXPECTED_TITLE) {
                const elapsedSeconds = Math.round((Date.now() - started) / 1000);
                options.log(`productpage: ${options.url} answered ${last} after ${attempts} attempt(s), ${elapsedSeconds}s`);
                return { url: options.url, status: response.status, title, attempts, elapsedSeconds };
            }
        } catch (e) {
            last = (e as { code?: string }).code ?? (e as Error).message;
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
        host: process.env.PRODUCTPAGE_HOST || undefined,
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
