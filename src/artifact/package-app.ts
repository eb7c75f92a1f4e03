import * as fs from "node:fs";
import * as path from "node:path";
import { replaceFiles } from "../replace-file";
import { artifactFileName, packDirectory } from "./releases";

export interface PackagedApp {
  /** The version, from the app's package.json. */
  readonly version: string;
  /** The tarball: `<outDir>/app-<version>.tar.gz`. */
  readonly file: string;
  /** Hex SHA-256 of the tarball, also written next to it as `<file>.sha256`. */
  readonly sha256: string;
  readonly bytes: number;
}

/**
 * Packs every file of `appDir` into `<outDir>/app-<version>.tar.gz` (+ `.sha256`), in Node and
 * byte-for-byte reproducible on any machine (see `tarGz`): the same files give the same SHA-256.
 * This is how a release is packed; `npm run release` records one, and synth rebuilds it.
 */
export function packageApp(appDir: string, outDir: string): PackagedApp {
  const packed = packDirectory(appDir);
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, artifactFileName(packed.version));
  // together: a tarball beside another's checksum would fail `sha256sum -c` (review BR)
  replaceFiles([
    [file, packed.bytes],
    [`${file}.sha256`, `${packed.sha256}  ${path.basename(file)}\n`],
  ]);
  return { version: packed.version, file, sha256: packed.sha256, bytes: packed.bytes.length };
}
