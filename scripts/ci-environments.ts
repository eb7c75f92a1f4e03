import { ciEnvironmentsCommand } from "../src/ops/ci-environments-command";
import { runScript } from "../src/ops/script-runner";

// For the workflows in .github/workflows: see src/ops/ci-environments-command.ts.
runScript("ci-environments", ciEnvironmentsCommand);
