import * as fs from "node:fs";
import * as path from "node:path";
import { environmentJsonSchema } from "../src/config/json-schema";
import { referenceTable, withReference } from "../src/config/reference";
import { PROJECT_ROOT, runScript } from "../src/ops/script-runner";
import { noArguments } from "../src/ops/usage";
import { replaceFiles } from "../src/replace-file";

// Writes environments/schema.json from the zod schema, and the field reference of
// docs/configuration.md (between its markers) from the same schema; a test fails when either
// committed file is stale. Both or neither: the test compares them as a pair.
runScript("schema", (args) => {
  noArguments("schema", args);
  const target = path.join(PROJECT_ROOT, "environments", "schema.json");
  const page = path.join(PROJECT_ROOT, "docs", "configuration.md");
  replaceFiles([
    [target, environmentJsonSchema()],
    [page, withReference(fs.readFileSync(page, "utf8"), referenceTable())],
  ]);
  console.log(`wrote ${path.relative(process.cwd(), target)}`);
  console.log(`wrote the field reference in ${path.relative(process.cwd(), page)}`);
});
