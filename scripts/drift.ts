import { DRIFT_TOOL, driftCommand } from "../src/ops/drift-command";
import { runCli } from "../src/ops/workflow";

// `npm run drift -- <env>`: see src/ops/drift-command.ts.
runCli(DRIFT_TOOL, driftCommand);
