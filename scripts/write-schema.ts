import * as fs from "node:fs";
import * as path from "node:path";
import { environmentJsonSchema } from "../src/config/json-schema";
import { PROJECT_ROOT } from "../src/project-root";

// Writes environments/schema.json from the zod schema; a test fails when the committed file is stale.
const target = path.join(PROJECT_ROOT, "environments", "schema.json");
fs.writeFileSync(target, environmentJsonSchema());
console.log(`wrote ${path.relative(process.cwd(), target)}`);
