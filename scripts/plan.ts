import { PLAN_TOOL, planCommand } from "../src/ops/plan-command";
import { runCli } from "../src/ops/workflow";

// `npm run plan -- <env>`: see src/ops/plan-command.ts.
runCli(PLAN_TOOL, planCommand);
