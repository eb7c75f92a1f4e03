/**
 * `npm run release`: records app/ as committed at HEAD as the release of app/package.json's version
 * in releases.yaml (its git tree and tarball checksum). Commit releases.yaml, then set
 * `app.version` in an environment to deploy it (docs/releases.md).
 */
import { PROJECT_ROOT } from "../src/project-root";
import { recordRelease, RELEASES_FILE } from "../src/artifact/releases";
import { HelpRequested, noArguments } from "../src/ops/usage";

const root = PROJECT_ROOT;
try {
  noArguments("release", process.argv.slice(2));
  const { record, added } = recordRelease(root);
  console.log(
    added
      ? `released ${record.version} (tree ${record.tree}, sha256 ${record.sha256}) in ${RELEASES_FILE}: commit it, then set app.version: "${record.version}" where it should run`
      : `${record.version} is already released with exactly these files; nothing to do`,
  );
} catch (error) {
  if (error instanceof HelpRequested) {
    console.log(error.usage);
    process.exit(0);
  }
  console.error(`release: ${(error as Error).message}`);
  process.exit(1);
}
