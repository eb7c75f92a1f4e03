import { compareCommand } from "../src/ops/compare-command";
import { runScript } from "../src/ops/script-runner";

// `npm run compare -- dev prod`: see src/ops/compare-command.ts.
runScript("compare", compareCommand);
