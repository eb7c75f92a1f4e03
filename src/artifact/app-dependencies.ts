import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PROJECT_ROOT } from "../project-root";

/** The app's pinned dependency tree: npm's lock file beside its package.json. */
export const APP_LOCK_FILE = "package-lock.json";

/** Where installed dependency trees are kept, one per lock file content, under the project. */
export const DEPENDENCY_CACHE = path.join(PROJECT_ROOT, "node_modules", ".cache", "sample-app-dependencies");

/**
 * The app's production dependencies, installed exactly as `package-lock.json` pins them
 * (`npm ci --omit=dev --ignore-scripts`: the locked versions and integrity hashes, no install
 * scripts), in a folder of their own keyed by the lock file's SHA-256, and reused while the lock
 * is the same. Returns that folder's `node_modules`, or undefined when the app has no dependencies.
 *
 * Installed from npm's cache when it holds the packages (`--prefer-offline`), from the registry
 * otherwise. Never the app folder's own `node_modules`, which a developer may have changed: a
 * release must contain what the lock says and nothing else. Safe when two processes install the
 * same lock at once (each installs into a temporary folder, the first rename wins).
 */
export function appDependencies(appDir: string, cacheRoot = DEPENDENCY_CACHE): string | undefined {
  const manifest = JSON.parse(fs.readFileSync(path.join(appDir, "package.json"), "utf8"));
  if (Object.keys(manifest.dependencies ?? {}).length === 0) return undefined;
  const lockFile = path.join(appDir, APP_LOCK_FILE);
  if (!fs.existsSync(lockFile)) {
    throw new Error(
      `${appDir}: dependencies without ${APP_LOCK_FILE}; run npm install in ${appDir} and commit the lock file`,
    );
  }
  const lock = fs.readFileSync(lockFile);
  const key = createHash("sha256").update(lock).digest("hex").slice(0, 32);
  const target = path.join(cacheRoot, key);
  const modules = path.join(target, "node_modules");
  if (fs.existsSync(modules)) return modules;

  fs.mkdirSync(cacheRoot, { recursive: true });
  const staging = fs.mkdtempSync(path.join(cacheRoot, `.${key}-`));
  try {
    fs.copyFileSync(path.join(appDir, "package.json"), path.join(staging, "package.json"));
    fs.writeFileSync(path.join(staging, APP_LOCK_FILE), lock);
    const npm = spawnSync(
      "npm",
      ["ci", "--omit=dev", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"],
      {
        cwd: staging,
        encoding: "utf8",
        env: { ...process.env, npm_config_update_notifier: "false" },
        timeout: 300_000,
      },
    );
    if (npm.status !== 0) {
      throw new Error(
        `npm ci for the app's dependencies failed (${npm.error?.message ?? `exit ${npm.status}`}):\n${npm.stderr}`,
      );
    }
    try {
      fs.renameSync(staging, target);
    } catch (error) {
      // Another process installed the same lock first: theirs is identical.
      if (!fs.existsSync(modules)) throw error;
      fs.rmSync(staging, { recursive: true, force: true });
    }
  } catch (error) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw error;
  }
  return modules;
}

/** Every regular file under `dir`, as paths relative to it with `/`, sorted; symbolic links are refused. */
export function filesUnder(dir: string, prefix = ""): string[] {
  const files: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) files.push(...filesUnder(path.join(dir, entry.name), relative));
    else if (entry.isFile()) files.push(relative);
    else throw new Error(`${path.join(dir, entry.name)}: only files and folders go into a release`);
  }
  return files.sort();
}

/** A temporary folder for `fn`, removed afterwards. */
export function withTempDir<T>(prefix: string, fn: (dir: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  try {
    return fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
