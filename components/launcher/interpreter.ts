/**
 * How the command provider runs one of the project's TypeScript programs (pksctl, the cluster scripts, the
 * product page check): Node with the launcher (run.js), which runs the file's cached JavaScript, from the project
 * directory (the provider's working directory). No shell is involved, so nothing is ever quoted or expanded.
 */
export function launcherInterpreter(file: string): string[] {
    return ["node", "components/launcher/run.js", file];
}
