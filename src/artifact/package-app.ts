import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { VERSION_PATTERN } from "../userdata/app-host";
import { APP_LOCK_FILE, appDependencies } from "./app-dependencies";

/**
 * The files of the app that make a release; anything else in the folder stays out. With them
 * goes `node_modules`: the production dependencies exactly as the lock file pins them
 * (`appDependencies`), never the app folder's own.
 */
export const APP_FILES = ["package.json", APP_LOCK_FILE, "server.js", "db.js", "migrate.js", "migrations.js"] as const;

/** Files of the dependencies that stay out of a release. */
export const SKIPPED_PATTERNS = ["*.ts", "*.mts", "*.cts", "*.map"] as const;

export interface PackagedApp {
  /** The version, from the app's package.json. */
  readonly version: string;
  /** The tarball: `<outDir>/app-<version>.tar.gz`. */
  readonly file: string;
  /** Hex SHA-256 of the tarball, also written next to it as `<file>.sha256`. */
  readonly sha256: string;
  readonly bytes: number;
}

/** The tarball name of a version; the stack uploads `<dist>/<this>` as `app/<version>.tar.gz`. */
export function artifactFileName(version: string): string {
  return `app-${version}.tar.gz`;
}

/**
 * Packs the app into a versioned tarball, byte-for-byte reproducible: files in a fixed order,
 * fixed owner and modification time, gzip without a timestamp. The same source and lock file give
 * the same SHA-256, so a release is identified by its content as well as its version. The
 * dependencies ship inside it: a server never runs npm.
 */
export function packageApp(appDir: string, outDir: string, dependencyCache?: string): PackagedApp {
  const manifest = JSON.parse(fs.readFileSync(path.join(appDir, "package.json"), "utf8"));
  const version: unknown = manifest.version;
  if (typeof version !== "string" || !VERSION_PATTERN.test(version)) {
    throw new Error(`${appDir}/package.json: version must match ${VERSION_PATTERN} (got ${JSON.stringify(version)})`);
  }
  for (const file of APP_FILES) {
    if (!fs.existsSync(path.join(appDir, file))) throw new Error(`${appDir}: missing ${file}`);
  }
  const dependencies = appDependencies(appDir, dependencyCache);
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, artifactFileName(version));
  const tarball = execFileSync(
    "tar",
    [
      "--create",
      "--sort=name",
      "--mtime=1970-01-01 00:00:00Z",
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      "--mode=u=rwX,go=rX",
      // TypeScript sources, declarations and source maps of the dependencies: Node never loads
      // them, and they are half of the bytes (mysql2 brings all of @types/node).
      ...SKIPPED_PATTERNS.map((pattern) => `--exclude=${pattern}`),
      "--directory",
      appDir,
      ...APP_FILES,
      ...(dependencies ? ["--directory", path.dirname(dependencies), "node_modules"] : []),
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const gz = execFileSync("gzip", ["--no-name", "--best", "--stdout"], { input: tarball, maxBuffer: 64 * 1024 * 1024 });
  fs.writeFileSync(file, gz);
  const sha256 = createHash("sha256").update(gz).digest("hex");
  fs.writeFileSync(`${file}.sha256`, `${sha256}  ${path.basename(file)}\n`);
  return { version, file, sha256, bytes: gz.length };
}
