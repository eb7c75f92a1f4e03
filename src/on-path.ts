import * as fs from "node:fs";
import * as path from "node:path";

/**
 * Whether `command` names an executable file: in one of PATH's folders (with PATHEXT's extensions
 * on Windows), or at that path when it has a folder in it. Nothing is run.
 */
export function onPath(command: string, env: NodeJS.ProcessEnv = process.env, platform = process.platform): boolean {
  return pathOf(command, env, platform) !== undefined;
}

/** The executable file `command` names, as `onPath` finds it (the first on PATH); undefined when none. */
export function pathOf(
  command: string,
  env: NodeJS.ProcessEnv = process.env,
  platform = process.platform,
): string | undefined {
  if (command.includes("/") || command.includes(path.sep)) return isExecutableFile(command) ? command : undefined;
  const extensions = platform === "win32" ? ["", ...(env.PATHEXT ?? ".EXE;.CMD;.BAT").split(";")] : [""];
  return (env.PATH ?? "")
    .split(path.delimiter)
    .filter(Boolean)
    .flatMap((dir) => extensions.map((extension) => path.join(dir, command + extension)))
    .find(isExecutableFile);
}

function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
