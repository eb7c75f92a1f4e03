/**
 * `npm run iam-policies`: writes the CI roles' policies, iam/plan-role-policy.json (read-only:
 * pull requests, drift, the review before a deploy) and iam/deploy-role-policy-<env>.json (each
 * environment's deploy role, scoped to that environment's names), from the Terraform types the
 * stacks synthesize and the code can create, and removes the policy files of environments that
 * are gone. A test fails while the files are stale (docs/ci-cd.md#setting-up-aws-and-github).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_ROOT } from "../src/project-root";
import { pipelinePolicyFiles } from "../src/ops/pipeline-iam-files";

const root = PROJECT_ROOT;
const files = pipelinePolicyFiles(root);
for (const [file, content] of Object.entries(files)) {
  fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  fs.writeFileSync(path.join(root, file), content);
  console.log(`wrote ${file}`);
}
// a deploy role policy of an environment that is gone (no other file of the folder is touched)
for (const stale of fs.readdirSync(path.join(root, "iam")).map((name) => `iam/${name}`)) {
  if (/^iam\/deploy-role-policy-[^/]+\.json$/.test(stale) && !(stale in files)) {
    fs.rmSync(path.join(root, stale));
    console.log(`removed ${stale}`);
  }
}
