/**
 * `npm run bump-ami -- <env>`: moves a pinned AMI (app.ami al2023, pinned by default in
 * production) to the newest Amazon Linux 2023 at the next apply, by setting app.amiPinnedAt in
 * environments/<env>/config.yaml. Review the roll with `npm run plan -- <env>`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_ROOT } from "../src/project-root";
import { replaceFile } from "../src/replace-file";
import { bumpAmiPin, bumpedMessage } from "../src/ops/ami-pin";
import { displayPath, listEnvironmentFolders } from "../src/config/load";

const root = PROJECT_ROOT;
const args = process.argv.slice(2);
if (args.includes("--help") || args.includes("-h")) {
  console.log(
    "usage: npm run bump-ami -- <env>: the environment's pinned AMI moves to the newest Amazon Linux 2023 at the next apply",
  );
  process.exit(0);
}
const name = args[0];
const dir = process.env.ENVIRONMENTS_DIR ?? path.join(root, "environments");
const file = path.join(dir, name ?? "", "config.yaml");
try {
  if (args.length !== 1)
    throw new Error(`usage: npm run bump-ami -- <env> (one environment, no options; got ${args.join(" ") || "none"})`);
  // an environment's name, not a path (prod/ or ../other-checkout/environments/prod edited a file
  // the plan it suggests cannot name: review BR)
  const known = listEnvironmentFolders(dir);
  if (!known.includes(name) || !fs.existsSync(file))
    throw new Error(`usage: npm run bump-ami -- <env> (unknown environment "${name}"; known: ${known.join(", ")})`);
  const where = displayPath(file);
  const text = fs.readFileSync(file, "utf8");
  replaceFile(file, bumpAmiPin(text, new Date(), where));
  console.log(bumpedMessage(text, name, where));
} catch (error) {
  console.error(`bump-ami: ${(error as Error).message}`);
  process.exit(1);
}
