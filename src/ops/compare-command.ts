import { compareEnvironments, formatDifferences } from "./compare";
import { environmentNamed, projectEnvironments, UsageError } from "./script-runner";

const COMPARE_USAGE = "usage: npm run compare -- <environment> <environment>";

/**
 * `npm run compare -- dev prod`: the settings that differ between two environments, after
 * defaults are applied (production's stricter defaults show), as an aligned table. Exit 0 whether
 * or not they differ; 1 on a wrong argument or an invalid environment folder.
 */
export function compareCommand(names: readonly string[]): void {
  if (names.includes("--help") || names.includes("-h")) {
    process.stdout.write(`${COMPARE_USAGE}\n`);
    return;
  }
  if (names.length !== 2) {
    throw new UsageError(`${COMPARE_USAGE} (got ${names.length} argument(s))`);
  }
  const environments = projectEnvironments();
  const [left, right] = names.map((name) => environmentNamed(environments, name));
  process.stdout.write(formatDifferences(left.name, right.name, compareEnvironments(left, right)));
}
