/** Reading the project's stack files (Pulumi.<stack>.yaml) the way the Pulumi CLI hands config to a program. */
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { ROOT } from "../../local/root";

export { ROOT };

/** The stacks that have a Pulumi.<stack>.yaml in the project. */
export function stackNames(): string[] {
    return fs.readdirSync(ROOT).map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1]).filter((s): s is string => s !== undefined).sort();
}

/** A stack file's config as the program receives it: every value a string, objects as JSON text. */
export function stackConfig(stack: string): Record<string, string> {
    const doc = YAML.parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config?: Record<string, unknown> };
    const config: Record<string, string> = {};
    for (const [key, value] of Object.entries(doc.config ?? {})) {
        if (typeof value === "object" && value !== null && "secure" in value) {
            continue; // encrypted values are supplied by the test, as `pulumi config set --secret` would
        }
        config[key] = typeof value === "object" ? JSON.stringify(value) : String(value);
    }
    return config;
}

/** Secrets a user sets with `pulumi config set --secret` per stack (stack files hold none), by key without namespace. */
export const STACK_SECRETS: Record<string, Record<string, string>> = {
    dev: { pksPassword: "dev-pks-password" },
    local: { pksPassword: "admin-password" },
    prod: { pksPassword: "prod-user-password" },
};

/** A stack's configuration as the program receives it, its secrets included, and which keys are secret. */
export function stackRunConfig(stack: string): { config: Record<string, string>; secretKeys: string[] } {
    const secrets = Object.fromEntries(Object.entries(STACK_SECRETS[stack] ?? {}).map(([k, v]) => [`pks-istio-mesh:${k}`, v]));
    return { config: { ...stackConfig(stack), ...secrets }, secretKeys: Object.keys(secrets) };
}

/** The project's declared config (Pulumi.yaml `config:`), keys without namespace. */
export function declaredConfig(): Record<string, { type?: string; description?: string; default?: unknown; secret?: boolean; value?: unknown }> {
    const doc = YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as { config: Record<string, { type?: string; description?: string; default?: unknown; secret?: boolean; value?: unknown }> };
    return doc.config;
}
