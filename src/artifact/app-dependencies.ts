import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_ROOT } from "../project-root";
import { directoryEntries, type TarEntry } from "./tar";

/** The app's pinned dependency tree: npm's lock file beside its package.json. */
export const APP_LOCK_FILE = "package-lock.json";

/** Where installed dependency trees are kept, one per lock file content, under the project. */
export const DEPENDENCY_CACHE = path.join(PROJECT_ROOT, "node_modules", ".cache", "sample-app-dependencies");

/**
 * Files of the installed dependencies that stay out of a release: TypeScript sources,
 * declarations and source maps (Node never loads them, and they are half of the bytes: mysql2
 * brings all of @types/node), and npm's own record of the folder (`node_modules/.package-lock.json`,
 * whose format is npm's, not the lock's: it could differ between npm versions).
 */
const SKIPPED = /(\.d\.[cm]?ts|\.[cm]?ts|\.map)$|^node_modules\/\.package-lock\.json$/;

export class DependencyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DependencyError";
  }
}

/** The content of a file among `files`, or undefined. */
function fileContent(files: readonly TarEntry[], name: string): Buffer | undefined {
  const entry = files.find((e) => e.path === name && e.type === "file");
  return entry ? Buffer.from(entry.content ?? new Uint8Array()) : undefined;
}

/**
 * The production dependencies of the app whose files are `files` (its `package.json` and
 * `package-lock.json` among them), as release entries under `node_modules/`: installed exactly as
 * the lock pins them (`npm ci --omit=dev --ignore-scripts`: the locked versions and their
 * integrity hashes, no install scripts), so the same lock gives the same files on any machine,
 * and a server never runs npm. None when the app has no dependencies.
 *
 * Installed into a folder of their own keyed by the lock's SHA-256 (the app's own version left
 * out: dependencyKey) and reused while it is the same; from npm's cache when it holds the
 * packages, from the registry otherwise. Never the app folder's own `node_modules`, which a
 * developer may have changed. Safe when two processes
 * install the same lock at once (each into a temporary folder; the first rename wins).
 */
export function dependencyEntries(files: readonly TarEntry[], cacheRoot = DEPENDENCY_CACHE): TarEntry[] {
  const modules = installedDependencies(files, cacheRoot);
  if (!modules) return [];
  const tree = directoryEntries(
    path.dirname(modules),
    "node_modules",
    (entryPath) => SKIPPED.test(entryPath),
    (full) => {
      throw new DependencyError(`${full}: a dependency installs a link; only files and folders go into a release`);
    },
  );
  return [{ path: "node_modules", type: "directory" }, ...tree];
}

/**
 * The environment `npm ci` runs in: this process's, with NODE_EXTRA_CA_CERTS back when a caller set
 * it aside as SAVED_NODE_EXTRA_CA_CERTS (the test run does, so that its node processes, over 100,
 * do not each parse the file as they start; npm may download through the TLS-inspecting proxy the
 * file is for).
 */
export function npmEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const saved = env.SAVED_NODE_EXTRA_CA_CERTS;
  return {
    ...env,
    ...(saved && !env.NODE_EXTRA_CA_CERTS ? { NODE_EXTRA_CA_CERTS: saved } : {}),
    npm_config_update_notifier: "false",
  };
}

/**
 * How the tree installed in `root` differs from the production packages `lock` pins: each one
 * missing or at another version. Packages for another platform (optional, with `os` or `cpu`),
 * which npm leaves out here, are not asked for.
 */
export function lockProblems(lock: Buffer, root: string): string[] {
  const packages: Record<string, LockPackage> = JSON.parse(lock.toString("utf8")).packages ?? {};
  const problems: string[] = [];
  for (const [where, entry] of Object.entries(packages)) {
    if (!where.startsWith("node_modules/") || entry.dev || entry.devOptional || entry.link) continue;
    if (entry.optional && (entry.os || entry.cpu)) continue;
    const manifest = path.join(root, where, "package.json");
    const installed = fs.existsSync(manifest) ? JSON.parse(fs.readFileSync(manifest, "utf8")).version : undefined;
    if (installed !== entry.version) {
      problems.push(
        `${where.slice("node_modules/".length)} ${entry.version}: ${installed ? `${installed} installed` : "missing"}`,
      );
    }
  }
  return problems;
}

/** What a lock file says of one package (npm's lockfileVersion 2 and 3). */
interface LockPackage {
  readonly version?: string;
  readonly dev?: boolean;
  readonly devOptional?: boolean;
  readonly optional?: boolean;
  readonly link?: boolean;
  readonly os?: string[];
  readonly cpu?: string[];
}

/**
 * What of a lock file decides the installed tree: all of it but the app's own version (its top
 * `version` and its root package's), which every release changes while its dependencies stay; so
 * releases with the same dependencies share one install (the tree a release carries leaves out
 * npm's own record of the folder, the one file that names the app's version). A lock that is not
 * JSON is keyed as it is.
 */
function dependencyKey(lock: Buffer): string {
  try {
    const parsed = JSON.parse(lock.toString("utf8")) as {
      version?: unknown;
      packages?: Record<string, { version?: unknown }>;
    };
    delete parsed.version;
    if (parsed.packages?.[""]) delete parsed.packages[""].version;
    return JSON.stringify(parsed);
  } catch {
    return lock.toString("latin1");
  }
}

/**
 * The installed `node_modules` folder of the dependencies `files` pin (see `dependencyEntries`),
 * or undefined when the app has none. The integration tests link a release's `node_modules` to it.
 */
export function installedDependencies(files: readonly TarEntry[], cacheRoot = DEPENDENCY_CACHE): string | undefined {
  const manifestBytes = fileContent(files, "package.json");
  const manifest = manifestBytes ? JSON.parse(manifestBytes.toString("utf8")) : {};
  if (Object.keys(manifest.dependencies ?? {}).length === 0) return undefined;
  const lock = fileContent(files, APP_LOCK_FILE);
  if (!lock) {
    throw new DependencyError(
      `the app has dependencies but no ${APP_LOCK_FILE}: run npm install in app/ and commit the lock file`,
    );
  }
  const key = createHash("sha256").update(dependencyKey(lock)).digest("hex").slice(0, 32);
  const target = path.join(cacheRoot, key);
  const modules = path.join(target, "node_modules");
  if (fs.existsSync(modules)) {
    if (lockProblems(lock, target).length === 0) return modules;
    // a tree installed before npm's settings were pinned here, or changed by hand: installed again
    fs.rmSync(target, { recursive: true, force: true });
  }

  fs.mkdirSync(cacheRoot, { recursive: true });
  const staging = fs.mkdtempSync(path.join(cacheRoot, `.${key}-`));
  try {
    fs.writeFileSync(path.join(staging, "package.json"), manifestBytes!);
    fs.writeFileSync(path.join(staging, APP_LOCK_FILE), lock);
    // The npm that runs us (npm test, npm run), else the one beside this Node, else PATH's.
    const beside = path.join(path.dirname(process.execPath), "npm");
    const [command, prefix] = process.env.npm_execpath
      ? [process.execPath, [process.env.npm_execpath]]
      : [fs.existsSync(beside) ? beside : "npm", []];
    const npm = spawnSync(
      command,
      [
        ...prefix,
        "ci",
        "--omit=dev",
        // what the user's npm settings (~/.npmrc, npm_config_*) would otherwise change in the tree
        "--include=optional",
        "--install-strategy=hoisted",
        "--ignore-scripts",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
      ],
      {
        cwd: staging,
        encoding: "utf8",
        env: npmEnvironment(),
        timeout: 300_000,
      },
    );
    if (npm.status !== 0) {
      throw new DependencyError(
        `npm ci of the app's dependencies failed (${npm.error?.message ?? `exit ${npm.status}`}): ${npm.stderr.trim()} ` +
          "(npm reads them from its cache, else from the registry: run it online once)",
      );
    }
    const problems = lockProblems(lock, staging);
    if (problems.length > 0) {
      throw new DependencyError(
        `npm ci installed the app's dependencies other than its lock pins them (${problems.slice(0, 5).join("; ")}): ` +
          "an npm setting changes what it installs (npm config list shows them)",
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
