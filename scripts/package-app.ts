/**
 * `npm run package-app`: packs `app/` into `dist/app-<version>.tar.gz` (+ `.sha256`). The version
 * is app/package.json's; set the same version as `app.version` in an environment folder and
 * `cdktf deploy <env>` uploads this file and rolls it out (README, "Deploying a new version").
 */
import * as path from "node:path";
import { packageApp } from "../src/artifact/package-app";
import { PROJECT_ROOT } from "../src/project-root";

try {
  const packaged = packageApp(path.join(PROJECT_ROOT, "app"), path.join(PROJECT_ROOT, "dist"));
  console.log(
    `packaged app ${packaged.version}: ${path.relative(PROJECT_ROOT, packaged.file)} (${packaged.bytes} bytes, sha256 ${packaged.sha256})`,
  );
} catch (error) {
  console.error(`package-app: ${(error as Error).message}`);
  process.exit(1);
}
