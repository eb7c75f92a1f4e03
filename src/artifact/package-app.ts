import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { VERSION_PATTERN } from "../userdata/app-host";

/** The files of the app that make a release; anything else in the folder stays out. */
export const APP_FILES = ["package.json", "server.js"] as const;

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
 * fixed owner and modification time, gzip without a timestamp. The same source gives the same
 * SHA-256, so a release is identified by its content as well as its version.
 */
export function packageApp(appDir: string, outDir: string): PackagedApp {
  const manifest = JSON.parse(fs.readFileSync(path.join(appDir, "package.json"), "utf8"));
  const version: unknown = manifest.version;
  if (typeof version !== "string" || !VERSION_PATTERN.test(version)) {
    throw new Error(`${appDir}/package.json: version must match ${VERSION_PATTERN} (got ${JSON.stringify(version)})`);
  }
  for (const file of APP_FILES) {
    if (!fs.existsSync(path.join(appDir, file))) throw new Error(`${appDir}: missing ${file}`);
  }
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
      "--directory",
      appDir,
      ...APP_FILES,
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const gz = execFileSync("gzip", ["--no-name", "--best", "--stdout"], { input: tarball, maxBuffer: 64 * 1024 * 1024 });
  fs.writeFileSync(file, gz);
  const sha256 = createHash("sha256").update(gz).digest("hex");
  fs.writeFileSync(`${file}.sha256`, `${sha256}  ${path.basename(file)}\n`);
  return { version, file, sha256, bytes: gz.length };
}
