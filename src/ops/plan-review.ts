import {
  describeReason,
  formatPath,
  kindOf,
  addressOf,
  synthesizedResource,
  type ChangeKind,
  type PlanDocument,
  type ResourceChange,
  type SynthesizedStack,
} from "./plan-json";
import { changedLines, costChangeSummary, type CostChange } from "../cost/report";

// The review of a saved plan (`npm run plan`): what it creates, updates, replaces and deletes, and
// whether it destroys anything that holds data or state. Pure: it reads the plan JSON and the
// synthesized stack it was planned from (the plan JSON carries no lifecycle settings).

/** `npm run plan` exits with this when the plan destroys data and `--allow-destroy` was not given. */
export const BLOCKED_EXIT_CODE = 3;

/** Resource types whose destruction loses data or state, and what each one is. */
export const DATA_HOLDING_TYPES: Readonly<Record<string, string>> = {
  aws_db_instance: "an RDS database",
  aws_rds_cluster: "an RDS/Aurora cluster",
  aws_s3_bucket: "an S3 bucket (state, artifacts or access logs)",
  aws_dynamodb_table: "a DynamoDB table",
  aws_ebs_volume: "an EBS volume",
  aws_efs_file_system: "an EFS file system",
  aws_cloudwatch_log_group: "a CloudWatch log group (its logs go with it)",
  aws_kms_key: "a KMS key (what it encrypted becomes unreadable once it is deleted)",
  aws_secretsmanager_secret: "a Secrets Manager secret",
  aws_eip: "an Elastic IP (the public address is lost for good)",
};

/** One resource the plan replaces or deletes. */
export interface ReviewedChange {
  readonly address: string;
  readonly kind: ChangeKind;
  /** The construct path in the code (`Database/Instance`), when the address maps to the stack. */
  readonly constructPath?: string;
  /** Why Terraform chose the action, in plain words. */
  readonly reason?: string;
  /** For a replacement: the attributes that force it (`engine`, `root_block_device[0].encrypted`). */
  readonly forcedBy: readonly string[];
  /** The change is to a deposed object left over from a create-before-destroy replacement. */
  readonly deposed: boolean;
  /** Why this resource holds data or state; empty when it does not. */
  readonly holdsData: readonly string[];
}

export interface PlanCounts {
  readonly create: number;
  readonly update: number;
  readonly replace: number;
  readonly delete: number;
  /** Unchanged resources, data reads and actions this review does not know. */
  readonly unchanged: number;
  readonly read: number;
  readonly other: number;
}

export interface PlanReview {
  readonly counts: PlanCounts;
  readonly replaced: readonly ReviewedChange[];
  readonly deleted: readonly ReviewedChange[];
  /** Replaced or deleted resources that hold data or state. */
  readonly endangered: readonly ReviewedChange[];
  /** Actions this review does not know (a newer Terraform): shown as they are. */
  readonly unknownActions: readonly string[];
  /** Data would be destroyed and `--allow-destroy` was not given. */
  readonly blocked: boolean;
  readonly allowDestroy: boolean;
}

export interface ReviewOptions {
  /** Let a plan that destroys data pass (it is still reported). @default false */
  readonly allowDestroy?: boolean;
}

/** Reviews a plan against the synthesized stack it was made from. */
export function reviewPlan(plan: PlanDocument, stack: SynthesizedStack, options: ReviewOptions = {}): PlanReview {
  const allowDestroy = options.allowDestroy ?? false;
  const tally = { create: 0, update: 0, replace: 0, delete: 0, unchanged: 0, read: 0, other: 0 };
  const replaced: ReviewedChange[] = [];
  const deleted: ReviewedChange[] = [];
  const unknownActions: string[] = [];
  const unknownOnData: ReviewedChange[] = [];

  for (const rc of plan.resource_changes ?? []) {
    const kind = kindOf(rc.change.actions);
    if (kind === "no-op") tally.unchanged += 1;
    else if (kind === "other") {
      tally.other += 1;
      unknownActions.push(`${rc.address}: ${rc.change.actions.join(", ")}`);
      // An action this review does not know, on a resource that holds data: treat it as a delete.
      const change = reviewed(rc, "delete", stack);
      if (change.holdsData.length > 0) unknownOnData.push(change);
    } else tally[kind] += 1;
    if (kind === "replace") replaced.push(reviewed(rc, kind, stack));
    if (kind === "delete") deleted.push(reviewed(rc, kind, stack));
  }

  const endangered = [...[...replaced, ...deleted].filter((c) => c.holdsData.length > 0), ...unknownOnData];
  return {
    counts: tally,
    replaced,
    deleted,
    endangered,
    unknownActions,
    blocked: endangered.length > 0 && !allowDestroy,
    allowDestroy,
  };
}

function reviewed(rc: ResourceChange, kind: ChangeKind, stack: SynthesizedStack): ReviewedChange {
  const address = addressOf(rc);
  const synthesized = synthesizedResource(stack, address);
  return {
    address: rc.address,
    kind,
    constructPath: synthesized?.constructPath,
    reason: describeReason(rc.action_reason),
    forcedBy: (rc.change.replace_paths ?? []).map(formatPath),
    deposed: rc.deposed !== undefined,
    holdsData: dataHeldBy(rc, address?.type, synthesized?.values, stack),
  };
}

/** Each reason this resource holds data or state: its type, its lifecycle, its role. */
function dataHeldBy(
  rc: ResourceChange,
  type: string | undefined,
  config: Record<string, any> | undefined,
  stack: SynthesizedStack,
): string[] {
  const before = (rc.change.before ?? {}) as Record<string, unknown>;
  const reasons: string[] = [];
  if (type && DATA_HOLDING_TYPES[type]) reasons.push(DATA_HOLDING_TYPES[type]);
  if (config?.lifecycle?.prevent_destroy === true) reasons.push("lifecycle.prevent_destroy is set in the code");
  if (type === "aws_instance") {
    if (config?.disable_api_termination === true || before.disable_api_termination === true) {
      reasons.push("an EC2 instance with termination protection");
    }
    // The single-server layout runs the database engine on the instance's own disk.
    if (stack.output?.layout?.value === "single-server") {
      reasons.push("the single-server layout's server, whose disk holds the database");
    }
  }
  return reasons;
}

// ---- Reports ----

const WARNING = "!!!";

function line(change: ReviewedChange): string {
  const where = change.constructPath ? ` (${change.constructPath})` : "";
  const why = [
    change.forcedBy.length > 0 ? `forced by ${change.forcedBy.join(", ")}` : undefined,
    change.reason,
    change.deposed ? "deposed object" : undefined,
  ].filter(Boolean);
  return `${change.address}${where}${why.length > 0 ? `: ${why.join("; ")}` : ""}`;
}

function countsSentence(c: PlanCounts): string {
  const extra = [`${c.unchanged} unchanged`, c.read > 0 ? `${c.read} read` : "", c.other > 0 ? `${c.other} other` : ""];
  return (
    `${c.create} to create, ${c.update} to update, ${c.replace} to replace, ${c.delete} to delete` +
    ` (${extra.filter(Boolean).join(", ")})`
  );
}

/** The summary printed to the terminal; with `cost`, the monthly estimate before and after. */
export function planReviewText(review: PlanReview, stackName: string, cost?: CostChange): string {
  const out = [`Plan review for ${stackName}: ${countsSentence(review.counts)}.`];
  if (cost) out.push(`Monthly cost (on-demand estimate): ${costChangeSummary(cost)}.`);
  for (const [title, list] of [
    ["Replaced", review.replaced],
    ["Deleted", review.deleted],
  ] as const) {
    if (list.length === 0) continue;
    out.push("", `${title} (${list.length}):`, ...list.map((c) => `  - ${line(c)}`));
  }
  if (review.unknownActions.length > 0) {
    out.push("", "Actions this review does not know (read them in the plan):");
    out.push(...review.unknownActions.map((a) => `  - ${a}`));
  }
  if (review.endangered.length > 0) {
    out.push(
      "",
      `${WARNING} WARNING: this plan destroys ${review.endangered.length} resource(s) that hold data or state ${WARNING}`,
    );
    for (const c of review.endangered) out.push(`${WARNING}   ${c.kind} ${c.address}: ${c.holdsData.join("; ")}`);
    out.push(
      review.blocked
        ? `${WARNING} BLOCKED. If this is intended, re-run with --allow-destroy: npm run plan -- ${stackName} --allow-destroy`
        : `${WARNING} Allowed by --allow-destroy: applying this plan loses that data unless it is backed up.`,
    );
  }
  return out.join("\n");
}

/** Table cell text: a `|` would end the cell. */
function cell(text: string): string {
  return text.replace(/\|/g, "\\|");
}

/** The same review as Markdown, for a pull-request comment; with `cost`, the monthly estimate before and after. */
export function planReviewMarkdown(review: PlanReview, stackName: string, cost?: CostChange): string {
  const c = review.counts;
  const out = [
    `### Plan review: \`${stackName}\``,
    "",
    "| create | update | replace | delete | unchanged |",
    "|---:|---:|---:|---:|---:|",
    `| ${c.create} | ${c.update} | ${c.replace} | ${c.delete} | ${c.unchanged} |`,
  ];
  if (cost) {
    const changed = changedLines(cost);
    out.push(
      "",
      `**Monthly cost** (on-demand estimate, prices of ${cost.after.pricesDate}): ${costChangeSummary(cost)}`,
      ...(changed.length > 0 ? ["", ...changed.map((l) => `- ${l}`)] : []),
    );
  }
  if (review.endangered.length > 0) {
    out.push(
      "",
      "> [!CAUTION]",
      `> **This plan destroys ${review.endangered.length} resource(s) that hold data or state.**` +
        (review.blocked
          ? " Blocked: re-run with `--allow-destroy` if this is intended."
          : " Allowed by `--allow-destroy`."),
      ">",
      ...review.endangered.map((e) => `> - **${e.kind}** \`${e.address}\`: ${e.holdsData.join("; ")}`),
    );
  }
  for (const [title, list] of [
    ["Replaced", review.replaced],
    ["Deleted", review.deleted],
  ] as const) {
    if (list.length === 0) continue;
    out.push("", `#### ${title}`, "", "| resource | construct | why |", "|---|---|---|");
    for (const change of list) {
      const why = [
        change.forcedBy.length > 0 ? `forced by ${change.forcedBy.map((p) => `\`${p}\``).join(", ")}` : "",
        change.reason ?? "",
      ];
      out.push(
        `| ${cell(`\`${change.address}\``)} | ${cell(change.constructPath ?? "")} | ${cell(why.filter(Boolean).join("; "))} |`,
      );
    }
  }
  if (review.unknownActions.length > 0) {
    out.push("", "#### Actions this review does not know", "", ...review.unknownActions.map((a) => `- \`${a}\``));
  }
  return `${out.join("\n")}\n`;
}
