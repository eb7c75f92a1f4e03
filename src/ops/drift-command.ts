import { DRIFT_PLAN_FILE } from "../plan-files";
import { driftReport, driftReportText } from "./drift-report";
import { OpsError, runTerraform } from "./terraform";
import { priorManagedResources } from "./plan-json";
import {
  emptyStateMessage,
  lockArguments,
  prepareStack,
  showPlan,
  terraformFailed,
  type CliArgs,
  type CliTool,
} from "./workflow";

// `npm run drift -- <env>`: synthesize the stack, `terraform init`, then
// `terraform plan -refresh-only -detailed-exitcode -out=drift.tfplan`, and report in plain words
// what changed outside Terraform. The verdict comes from `terraform show -json` of the saved plan;
// the detailed exit code is only a cross-check (it is unreliable in some Terraform versions).
// Exit codes, for a scheduler:
//   0  no drift
//   2  drift found (the report lists each resource and attribute)
//   1  error (unknown environment, synthesis or Terraform failed, or a state with no resources)
// `cdktf diff` has no such exit code, which is why this exists. The plan file is written beside the
// stack (never applied by this tool) and, like every plan file, stays out of git in cdktf.out/.

const USAGE = `usage: npm run drift -- <env> [--no-synth] [--quiet]
  exit codes: 0 no drift, 2 drift found, 1 error
  --no-synth  use the stack already in cdktf.out/ instead of synthesizing it
  --quiet     do not print Terraform's own plan output`;

/** `npm run drift`: its name and usage. */
export const DRIFT_TOOL: CliTool = { name: "drift", usage: USAGE };

/** The drift command, once its arguments are read. */
export async function driftCommand(args: CliArgs): Promise<number> {
  const stack = await prepareStack(args.stack, args);
  const plan = await runTerraform(
    "plan",
    // never applied: the state is read without its lock (lockArguments)
    ["-refresh-only", "-detailed-exitcode", ...lockArguments("none", stack.document), `-out=${DRIFT_PLAN_FILE}`],
    {
      cwd: stack.dir,
      echo: args.echo,
    },
  );
  // With -detailed-exitcode, 0 means no changes and 2 changes; anything else is an error.
  if (plan.status !== 0 && plan.status !== 2) throw terraformFailed("plan -refresh-only", plan, stack, args.echo);
  const shown = await showPlan(stack, DRIFT_PLAN_FILE);
  // An empty state has nothing to drift from, and says nothing about what runs in AWS: no verdict
  // (a "no drift" here would close an open drift issue while the state is lost or elsewhere).
  if (priorManagedResources(shown) === 0) throw new OpsError(emptyStateMessage(stack.name));
  const report = driftReport(shown, stack.document, plan.status);
  console.log(`\n${driftReportText(report, stack.name)}`);
  return report.exitCode;
}
