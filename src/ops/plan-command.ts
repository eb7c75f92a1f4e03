import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { makeFolder } from "../make-folder";
import stableStringify = require("../patches/stable-stringify");
import { PLAN_FILE } from "../plan-files";
import { planCostOf } from "../cost/plan-cost";
import { BLOCKED_EXIT_CODE, planReviewMarkdown, planReviewText, reviewPlan } from "./plan-review";
import type { Change, PlanDocument } from "./plan-json";
import { OpsError, runTerraform } from "./terraform";
import {
  lockArguments,
  planArguments,
  prepareStack,
  shown,
  showPlan,
  terraformFailed,
  type CliArgs,
  type CliTool,
} from "./workflow";

// `npm run plan -- <env>`: synthesize the stack, `terraform plan -out`, read the plan back with
// `terraform show -json`, and print a review: counts, what is replaced or deleted, and a loud
// warning for anything that holds data or state. Exit codes:
//   0  reviewed; nothing holding data is destroyed (or --allow-destroy was given)
//   1  error: unknown environment, synthesis or Terraform failed
//   3  blocked: the plan destroys or replaces something that holds data or state
// The plan file (cdktf.out/stacks/<env>/plan.tfplan) can contain secrets: it stays in cdktf.out/,
// which git ignores, and the next synth removes it.

const USAGE = `usage: npm run plan -- <env> [--allow-destroy] [--replace <address>]... [--markdown <file>] [--no-lock] [--expect-changes <file>] [--deploy-role] [--no-synth] [--quiet]
  --allow-destroy    let a plan that destroys data or state exit 0 (it is still reported); a
                     finding that blocks (it would fail half-way or break the site) still exits 3
  --no-lock          read S3 or local state without its lock, for a plan that will not be applied (CI's plan role)
  --expect-changes <file>  fail unless this plan makes exactly the changes of that earlier plan's
                     plan-<env>.changes.json (the one a person reviewed and approved)
  --deploy-role      the plan is for a deploy role to apply (CI): block one that writes the roles'
                     permissions boundary, which only an administrator may
  --replace <addr>   replace this resource on purpose (terraform plan -replace), e.g. a server whose AMI is kept
  --markdown <file>  write the Markdown summary here (default: cdktf.out/plan-<env>.md)
  --no-synth         use the stack already in cdktf.out/ instead of synthesizing it
  --quiet            do not print Terraform's own plan output`;

/** `npm run plan`: its name, usage and options. */
export const PLAN_TOOL: CliTool = {
  name: "plan",
  usage: USAGE,
  options: {
    "allow-destroy": { type: "boolean" },
    markdown: { type: "string" },
    replace: { type: "string", multiple: true },
    "no-lock": { type: "boolean" },
    "expect-changes": { type: "string" },
    "deploy-role": { type: "boolean" },
  },
};

/**
 * What a plan changes, one line per resource: its actions, address and a digest of the values it
 * sets (`update aws_launch_template.X (values 3f2a9c1b0d4e)`), sorted. Two plans with the same
 * lines make the same changes with the same values: a lookup that moved between the review and the
 * deploy (a newer AMI), or an attribute changed outside Terraform meanwhile that the plan would put
 * back, gives another digest. Only the attributes the change sets count: one it leaves as it is
 * (a group's desired capacity under ignore_changes, a database's latest restorable time) may move
 * between the two plans without making them differ. Values known only at apply time count as
 * unknown on both sides; sensitive ones are left out of the digest (the file is kept with the run's
 * artifacts), so a change of one alone is not seen.
 */
export function planChanges(plan: PlanDocument): string[] {
  return (plan.resource_changes ?? [])
    .filter((rc) => !rc.change.actions.every((action) => action === "no-op" || action === "read"))
    .map(
      (rc) =>
        `${rc.change.actions.join("+")} ${rc.address}${rc.deposed ? ` (deposed ${rc.deposed})` : ""} ` +
        `(values ${valuesDigest(rc.change)})`,
    )
    .sort();
}

/**
 * A short digest of what a change sets: each top-level attribute whose value after differs from
 * its value before, or is unknown until apply, with that value (sensitive ones marked, not shown).
 * A delete sets nothing.
 */
function valuesDigest(change: Change): string {
  const record = (value: unknown) =>
    typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
  const [before, after, unknown] = [record(change.before), record(change.after), record(change.after_unknown)];
  const sensitive = change.after_sensitive === true ? true : record(change.after_sensitive);
  const set =
    change.after === null || change.after === undefined
      ? []
      : [...new Set([...Object.keys(after), ...Object.keys(unknown)])];
  const values = set
    .sort()
    .filter((key) => holdsUnknown(unknown[key]) || canonicalJson(before[key]) !== canonicalJson(after[key]))
    .map((key) => [
      key,
      withoutSensitive(after[key], sensitive === true ? true : sensitive[key]),
      unknown[key] ?? false,
    ]);
  return crypto.createHash("sha256").update(canonicalJson(values)).digest("hex").slice(0, 12);
}

/**
 * Whether an `after_unknown` value marks anything unknown: `true` somewhere in it. Terraform writes
 * `[]`, `{}` or `[{}]` for a known list, map or block, whatever the change.
 */
function holdsUnknown(marks: unknown): boolean {
  if (marks === true) return true;
  if (typeof marks !== "object" || marks === null) return false;
  return Object.values(marks).some(holdsUnknown);
}

/** `value` with each leaf `sensitive` marks (the shape of `value`, or `true` for all of it) replaced. */
function withoutSensitive(value: unknown, sensitive: unknown): unknown {
  if (sensitive === true) return "(sensitive)";
  if (typeof sensitive !== "object" || sensitive === null) return value ?? null;
  if (Array.isArray(value)) return value.map((item, i) => withoutSensitive(item, (sensitive as unknown[])[i]));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        withoutSensitive(item, (sensitive as Record<string, unknown>)[key]),
      ]),
    );
  }
  return value ?? null;
}

/** JSON with every object's keys in order (the project's stable stringify): the same values, the same text. */
const canonicalJson = (value: unknown): string => stableStringify(value ?? null)!;

/**
 * Why `changes` are not the `expected` ones (the lines only one of them has), or undefined when
 * they are the same.
 */
export function changesDiffer(expected: readonly string[], changes: readonly string[]): string | undefined {
  // as lists, not sets: a change made twice in one plan and once in the other differs
  const remaining = [...changes];
  const missing: string[] = [];
  for (const line of expected) {
    const at = remaining.indexOf(line);
    if (at === -1) missing.push(line);
    else remaining.splice(at, 1);
  }
  const added = remaining;
  if (missing.length === 0 && added.length === 0) return undefined;
  return [
    ...(added.length > 0 ? ["in this plan, not in the reviewed one:", ...added.map((l) => `  + ${l}`)] : []),
    ...(missing.length > 0 ? ["in the reviewed plan, not in this one:", ...missing.map((l) => `  - ${l}`)] : []),
  ].join("\n");
}

/** The changes in `file`, as `npm run plan` wrote them, or an error naming the file. */
function reviewedChanges(file: string): string[] {
  let reviewed: unknown;
  try {
    reviewed = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (error) {
    throw new OpsError(
      `--expect-changes ${file}: cannot read the reviewed plan's changes (${(error as Error).message})`,
    );
  }
  if (!Array.isArray(reviewed) || !reviewed.every((line) => typeof line === "string")) {
    throw new OpsError(`--expect-changes ${file}: not a list of changes, as npm run plan writes them`);
  }
  return reviewed;
}

/** The plan command, once its arguments are read. */
export async function planCommand(args: CliArgs): Promise<number> {
  // The reviewed changes are read first: before the synth replaces cdktf.out/ and before this plan
  // writes its own changes, which may be that very file (cdktf.out/plan-<env>.changes.json).
  const expected = args.values["expect-changes"] as string | undefined;
  const reviewed = expected === undefined ? undefined : { file: expected, changes: reviewedChanges(expected) };
  const stack = await prepareStack(args.stack, args);
  const replace = (args.values.replace as string[] | undefined) ?? [];
  const lock = lockArguments(args.values["no-lock"] === true ? "none" : "wait", stack.document);
  const plan = await runTerraform("plan", planArguments(PLAN_FILE, replace, lock), {
    cwd: stack.dir,
    echo: args.echo,
  });
  if (plan.status !== 0) throw terraformFailed("plan", plan, stack, args.echo);
  const planDocument = await showPlan(stack, PLAN_FILE);
  const review = reviewPlan(planDocument, stack.document, {
    allowDestroy: args.values["allow-destroy"] === true,
    environment: stack.name,
    // a CI runner has no local state: every plan of such an environment starts from nothing there
    emptyStateExpected: process.env.CI === "true" && stack.document.terraform?.backend?.local !== undefined,
    deployRole: args.values["deploy-role"] === true,
  });
  const cost = planCostOf(planDocument, stack.name, stack.document);
  const changes = planChanges(planDocument);
  fs.writeFileSync(path.join(stack.outdir, `plan-${stack.name}.changes.json`), `${JSON.stringify(changes, null, 2)}\n`);

  const markdown = path.resolve(
    (args.values.markdown as string | undefined) ?? path.join(stack.outdir, `plan-${stack.name}.md`),
  );
  makeFolder(
    path.dirname(markdown),
    (error) => new OpsError(`${error.message}, for the Markdown summary: give --markdown a path that can be written`),
  );
  fs.writeFileSync(markdown, planReviewMarkdown(review, stack.name, cost));

  console.log(`\n${planReviewText(review, stack.name, cost)}\n`);
  console.log(`Markdown summary (for the pull request): ${shown(markdown)}`);
  console.log(
    `Plan file: ${shown(path.join(stack.dir, PLAN_FILE))} (may contain secrets; never commit it). ` +
      (review.blocked
        ? review.findings.some((f) => f.blocks)
          ? "Blocked: do not apply it; the BLOCKED lines above say what to do instead."
          : "Blocked: do not apply it; rerun with --allow-destroy once the destroy is intended."
        : `Apply exactly this plan with: terraform -chdir=${shown(stack.dir)} apply ${PLAN_FILE}`),
  );
  if (reviewed !== undefined) {
    const differs = changesDiffer(reviewed.changes, changes);
    if (differs) {
      throw new OpsError(
        `this plan is not the one reviewed (${shown(reviewed.file)}): state or AWS changed since (another deploy, ` +
          `drift). Do not apply it: run Deploy by hand with only: ${stack.name}, or re-run all the jobs of the run (not only ` +
          `the failed ones: the review must plan again), so that the new plan is reviewed and approved.\n${differs}`,
      );
    }
    console.log(`The same changes as the reviewed plan (${changes.length}): ${shown(reviewed.file)}`);
  }
  return review.blocked ? BLOCKED_EXIT_CODE : 0;
}
