import * as fs from "node:fs";
import * as path from "node:path";
import {
  architectureDoc,
  architectureDocPath,
  mermaidBlock,
  README_ENVIRONMENT,
  withReadmeDiagram,
} from "../src/ops/architecture-docs";
import { PROJECT_ROOT, projectEnvironments, runScript } from "../src/ops/script-runner";
import { synthesizeDocuments } from "../src/ops/synthesized";

// `npm run diagram`: synthesizes every environment (into a temporary folder) and writes
// docs/architecture-<env>.md for each, with its Mermaid diagram, and copies the prod diagram into
// README.md between <!-- diagram:prod:start --> and <!-- diagram:prod:end -->.
// A test fails while any of them differs from what this would write.

runScript("diagram", () => {
  const environments = projectEnvironments();
  const documents = synthesizeDocuments(environments);
  fs.mkdirSync(path.join(PROJECT_ROOT, "docs"), { recursive: true });
  for (const env of environments) {
    const file = architectureDocPath(env.name);
    fs.writeFileSync(path.join(PROJECT_ROOT, file), architectureDoc(env, documents.get(env.name)!));
    console.log(`wrote ${file}`);
  }
  const prod = documents.get(README_ENVIRONMENT);
  if (prod) {
    const readme = path.join(PROJECT_ROOT, "README.md");
    fs.writeFileSync(readme, withReadmeDiagram(fs.readFileSync(readme, "utf8"), mermaidBlock(prod)));
    console.log(`updated README.md (the ${README_ENVIRONMENT} diagram)`);
  } else {
    console.log(`README.md not updated: there is no environment "${README_ENVIRONMENT}"`);
  }
});
