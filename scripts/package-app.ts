/**
 * `npm run package-app`: packs `app/` as it is into `dist/app-<version>.tar.gz` (+ `.sha256`),
 * byte for byte as a release of it would be (in Node, the same on any machine), to inspect or
 * compare. Deploying needs no dist/: synth rebuilds each environment's release from
 * releases.yaml (`npm run release` records one).
 */
import * as path from "node:path";
import { packageApp } from "../src/artifact/package-app";
import { PROJECT_ROOT } from "../src/project-root";
import { HelpRequested, noArguments } from "../src/ops/usage";

try {
  noArguments("package-app", process.argv.slice(2));
  const packaged = packageApp(path.join(PROJECT_ROOT, "app"), path.join(PROJECT_ROOT, "dist"));
  console.log(
    `packaged app ${packaged.version}: ${path.relative(PROJECT_ROOT, packaged.file)} (${packaged.bytes} bytes, sha256 ${packaged.sha256})`,
  );
} catch (error) {
  if (error instanceof HelpRequested) {
    console.log(error.usage);
    process.exit(0);
  }
  console.error(`package-app: ${(error as Error).message}`);
  process.exit(1);
}
