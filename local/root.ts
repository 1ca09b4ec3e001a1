import * as path from "path";

/** The project's root directory (this file is local/root.ts): the one definition the tools and tests share. */
export const ROOT = path.resolve(__dirname, "..");
