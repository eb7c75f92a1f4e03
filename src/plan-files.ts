// The plans `npm run plan` and `npm run drift` save in a stack's folder (cdktf.out/stacks/<env>/).
// A plan can hold secrets; every synth removes them (src/synth.ts). A module of its own, so that
// the plan and drift commands name them without loading the synth, which loads cdktf.

/** The plan `npm run plan` saves, for `terraform apply <file>`. */
export const PLAN_FILE = "plan.tfplan";

/** The refresh-only plan `npm run drift` saves (never applied). */
export const DRIFT_PLAN_FILE = "drift.tfplan";
