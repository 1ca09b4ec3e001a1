/**
 * How pksctl reads a CLI failure: the line that says what went wrong, and whether it is worth another try. What
 * exists, and in which state, pksctl never reads from a failure's wording (lookup.ts): only from the documented
 * JSON documents and listings.
 */

/** Raised for every expected failure; `step` names what pksctl was doing. Printed as `pksctl: <step>: <reason>`. */
export class PksctlError extends Error {
    constructor(readonly step: string, readonly reason: string) {
        super(`${step}: ${reason}`);
    }
}

/** A CLI answer that is not the document pksctl asked for (not JSON, HTML, the wrong shape): a transient fault. */
export class MalformedOutput extends Error {}

/** A prompt the CLI printed (`Password: `, `… (y/n): `); never the reason of a failure. */
const PROMPT = /^(password|client secret)\s*:\s*|^.*\(y\/n\)\s*:\s*/i;

/** The non-empty lines of a stream, without prompt text. */
function lines(text: string): string[] {
    return text.split(/\r?\n/).map((l) => l.replace(PROMPT, "").trim()).filter((l) => l !== "");
}

/** The text of an HTML page's title (or first heading), when the CLI relayed one from a proxy. */
function htmlTitle(text: string): string | undefined {
    if (!/<(!doctype\s+)?html[\s>]|<body[\s>]/i.test(text)) {
        return undefined;
    }
    const title = /<title>([^<]*)<\/title>/i.exec(text) ?? /<h1[^>]*>([^<]*)<\/h1>/i.exec(text);
    return `an HTML page${title ? ` (${title[1].trim()})` : ""} instead of an answer from PKS`;
}

/**
 * The most useful line of a CLI failure: an `Error:` line, else the last line on stderr, else the last line on
 * stdout; prompt text is skipped. At most 300 characters.
 */
export function errorText(result: { stdout: string; stderr: string }): string {
    const html = htmlTitle(`${result.stderr}\n${result.stdout}`);
    if (html) {
        return html;
    }
    const err = lines(result.stderr);
    const out = lines(result.stdout);
    const chosen = [...err, ...out].find((l) => /^error:/i.test(l)) ?? err[err.length - 1] ?? out[out.length - 1] ?? "the CLI failed without a message";
    const text = chosen.replace(/^error:\s*/i, "");
    return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

/**
 * Failures that a later try may not see: server errors (5xx, 429), broken or refused connections, network
 * timeouts, a proxy's own `404 page not found` and HTML pages (the CLI never got through to PKS).
 * Everything else (rejected credentials, unknown plan, validation errors, missing privileges) is permanent.
 */
const TRANSIENT: RegExp[] = [
    /\b(internal server error|bad gateway|service unavailable|gateway time-?out|too many requests)\b/i,
    /\bstatus(?: code)?:? ?(5\d\d|429)\b/i,
    /\b(connection refused|connection reset|broken pipe|no route to host|network is unreachable|i\/o timeout|tls handshake timeout|context deadline exceeded|client\.timeout exceeded|unexpected eof|temporary failure in name resolution|server closed idle connection)\b/i,
    /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN|EPIPE)\b/,
    /(^|[:\s])EOF$/,
    /\b404 page not found\b/i,
    /^an HTML page\b/,
];

/** Whether a failure's text (from `errorText`) is worth another try. */
export function isTransient(reason: string): boolean {
    return TRANSIENT.some((pattern) => pattern.test(reason));
}

/** PKS's answer for a request made without a valid session. */
export function isNotAuthenticated(reason: string): boolean {
    return /not currently authenticated|please log ?in/i.test(reason);
}
