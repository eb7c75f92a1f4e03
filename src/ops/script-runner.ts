import * as path from "node:path";
import { ConfigError } from "../config/errors";
import { loadEnvironments, type EnvironmentConfig } from "../config/load";
import { PROJECT_ROOT } from "../project-root";
import { isFileSystemError, readableStack } from "../readable-stack";
import { HelpRequested, UsageError } from "./usage";

export { PROJECT_ROOT, UsageError };

/** Every environment folder, validated (`ENVIRONMENTS_DIR` points elsewhere, as for `npm run synth`). */
export function projectEnvironments(): EnvironmentConfig[] {
  return loadEnvironments({ dir: process.env.ENVIRONMENTS_DIR ?? path.join(PROJECT_ROOT, "environments") });
}

/** The environment called `name`, or a `UsageError` that lists the known ones. */
export function environmentNamed(environments: readonly EnvironmentConfig[], name: string): EnvironmentConfig {
  const found = environments.find((e) => e.name === name);
  if (!found) {
    const known = environments.map((e) => e.name).join(", ");
    throw new UsageError(`unknown environment "${name}" (known: ${known})`);
  }
  return found;
}

/**
 * Runs a script's `main` on its arguments and returns the exit code: 0, or 1 with a `ConfigError`
 * printed one problem per line and a `UsageError` as its message, prefixed by the script's name.
 */
export function scriptCommand(name: string, main: (args: readonly string[]) => void, args: readonly string[]): number {
  try {
    main(args);
    return 0;
  } catch (error) {
    if (error instanceof HelpRequested) {
      console.log(error.usage);
      return 0;
    }
    if (error instanceof ConfigError) {
      console.error(`${name}: ${error.problems.length} problem(s) in the environment folders:`);
      for (const problem of error.problems) console.error(`  ${problem}`);
    } else if (error instanceof UsageError || isFileSystemError(error)) {
      console.error(`${name}: ${error.message}`);
    } else {
      console.error(`${name}: ${readableStack(error)}`);
    }
    return 1;
  }
}

/** Runs a script's `main` on this process's arguments; a failure sets exit code 1. */
export function runScript(name: string, main: (args: readonly string[]) => void): void {
  process.exitCode = scriptCommand(name, main, process.argv.slice(2));
}
