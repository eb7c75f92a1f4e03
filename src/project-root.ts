import * as fs from "node:fs";
import * as path from "node:path";

/**
 * The project's root folder (where cdktf.json, `environments/` and `app/` are), found by walking up
 * from this module: the same answer whether the code runs from its TypeScript sources (tests) or
 * from a bundle `scripts/run.js` caches under node_modules/.cache/, where `__dirname` is the cache
 * folder. A bundle cached elsewhere (CLASSIC_SERVERS_CACHE) finds it from the program that started
 * the process, the launcher in the project's scripts/.
 */
export const PROJECT_ROOT = findProjectRoot([__dirname, require.main?.filename]);

function findProjectRoot(starts: readonly (string | undefined)[]): string {
  for (const start of starts) {
    if (!start) continue;
    for (let dir = start; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
      if (fs.existsSync(path.join(dir, "cdktf.json"))) return dir;
    }
  }
  throw new Error(`no cdktf.json in ${starts.filter(Boolean).join(" or ")} or any folder above`);
}

/**
 * The command line that runs one of the project's TypeScript entry points (`main.ts`,
 * `scripts/plan.ts`, relative to the project root) as `npm run` does: through the bundling
 * launcher `scripts/run.js`, with the Node.js that runs this code.
 */
export function entryCommand(entry: string, args: readonly string[] = []): [string, string[]] {
  return [process.execPath, [path.join(PROJECT_ROOT, "scripts", "run.js"), path.join(PROJECT_ROOT, entry), ...args]];
}
