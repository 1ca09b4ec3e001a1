import PROGRAMS from "./programs.json";

/**
 * The launcher as Command resources name it: its released path, a stub that runs programs/launcher/run.js. Part of
 * every Command's inputs, so it never changes (see DEVELOPMENT.md, "Conventions").
 */
export const LAUNCHER = "components/launcher/run.js";

/** A program the command provider runs, by its stable id (programs.json maps each to its file). */
export type ProgramId = keyof typeof PROGRAMS;

/** The file of a program, relative to the project root. */
export function programFile(id: ProgramId): string {
    return PROGRAMS[id];
}

/**
 * How the command provider runs one of the project's TypeScript programs (pksctl, the cluster scripts, the
 * product page check): Node with the launcher, which runs the program's cached JavaScript, from the project
 * directory (the provider's working directory). No shell is involved, so nothing is ever quoted or expanded.
 */
export function launcherInterpreter(id: ProgramId): string[] {
    return ["node", LAUNCHER, id];
}
