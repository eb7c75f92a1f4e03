import { README_ENVIRONMENT, writeArchitectureDocs } from "../src/ops/architecture-docs";
import { PROJECT_ROOT, projectEnvironments, runScript } from "../src/ops/script-runner";
import { synthesizeDocuments } from "../src/ops/synthesized";
import { noArguments } from "../src/ops/usage";

// `npm run diagram`: synthesizes every environment (into a temporary folder) and writes
// docs/architecture-<env>.md for each, with its Mermaid diagram, and copies the prod diagram into
// README.md between <!-- diagram:prod:start --> and <!-- diagram:prod:end -->.
// A test fails while any of them differs from what this would write (or is missing, for a new
// environment folder: run this once after adding one).

runScript("diagram", (args) => {
  noArguments("diagram", args);
  const environments = projectEnvironments();
  const written = writeArchitectureDocs(PROJECT_ROOT, environments, synthesizeDocuments(environments));
  for (const file of written) console.log(`wrote ${file}`);
  if (!written.includes("README.md"))
    console.log(`README.md not updated: there is no environment "${README_ENVIRONMENT}"`);
});
