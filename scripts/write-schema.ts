import * as fs from "node:fs";
import * as path from "node:path";
import { environmentJsonSchema } from "../src/config/json-schema";
import { referenceTable, withReference } from "../src/config/reference";
import { PROJECT_ROOT } from "../src/project-root";

// Writes environments/schema.json from the zod schema, and the field reference of
// docs/configuration.md (between its markers) from the same schema; a test fails when either
// committed file is stale.
const target = path.join(PROJECT_ROOT, "environments", "schema.json");
fs.writeFileSync(target, environmentJsonSchema());
console.log(`wrote ${path.relative(process.cwd(), target)}`);

const page = path.join(PROJECT_ROOT, "docs", "configuration.md");
fs.writeFileSync(page, withReference(fs.readFileSync(page, "utf8"), referenceTable()));
console.log(`wrote the field reference in ${path.relative(process.cwd(), page)}`);
