import * as fs from "node:fs";
import * as path from "node:path";
import { README_ENVIRONMENT, staleArchitectureDocs, writeArchitectureDocs } from "../src/ops/architecture-docs";
import { PROJECT_ROOT, projectEnvironments, runScript } from "../src/ops/script-runner";
import { synthesizeDocuments } from "../src/ops/synthesized";
import { noArguments } from "../src/ops/usage";

// `npm run diagram`: synthesizes every environment (into a temporary folder) and writes
// docs/architecture-<env>.md for each, with its Mermaid diagram, and copies the prod diagram into
// README.md between <!-- diagram:prod:start --> and <!-- diagram:prod:end -->.
// A test fails while any of them differs from what this would write (or is missing, for a new
// environment folder: run this once after adding one). A page it wrote for an environment whose
// folder is gone is removed.

runScript("diagram", (args) => {
  noArguments("diagram", args);
  const environments = projectEnvironments();
  const written = writeArchitectureDocs(PROJECT_ROOT, environments, synthesizeDocuments(environments));
  // as npm run iam-policies says of its files: a page already as it would be written is left alone
  for (const { file, changed } of written) console.log(`${changed ? "wrote" : "unchanged"} ${file}`);
  for (const file of staleArchitectureDocs(PROJECT_ROOT, environments)) {
    fs.rmSync(path.join(PROJECT_ROOT, file));
    console.log(`removed ${file}: its environment folder is gone`);
  }
  if (!written.some(({ file }) => file === "README.md"))
    console.log(`README.md not updated: there is no environment "${README_ENVIRONMENT}"`);
});
