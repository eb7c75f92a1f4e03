import { ENGINES, engineMajor, type Engine } from "../config/schema";
import {
  addressOf,
  attributeChanges,
  displayValue,
  formatPath,
  isWithin,
  kindOf,
  parseAttributePath,
  synthesizedResource,
  type AttributeChange,
  type PlanDocument,
  type ResourceAddress,
  type ResourceChange,
  priorStateResources,
  type SynthesizedStack,
} from "./plan-json";

// The drift report (`npm run drift`): what changed outside Terraform since the last apply, read from
// a refresh-only plan's JSON, with Terraform's detailed exit code only as a cross-check (it is known
// to disagree with the plan in some Terraform versions). Pure: plan JSON + synthesized stack in,
// report out.
//
// A refresh-only plan reports every attribute that changed, including those the code ignores
// (`lifecycle.ignore_changes`) and those AWS changes on its own; both are set aside here, with the
// reason, so that what is left is drift someone has to act on.

/** What the refresh saw for one attribute, and whether that is AWS's or autoscaling's own doing. */
interface ExpectedChangeContext {
  readonly before: unknown;
  readonly after: unknown;
  /** The refreshed resource (the drift's `after`). */
  readonly resource: Record<string, any>;
  /** The resource's name in the stack. */
  readonly name: string;
  readonly stack: SynthesizedStack;
}

/** An attribute AWS or autoscaling changes out of band, and when that change is the expected kind. */
export interface ExpectedChange {
  readonly type: string;
  readonly attribute: string;
  /** Why it changes, for the report. */
  readonly why: string;
  /** The expected kind of change only. @default - any change */
  readonly when?: (c: ExpectedChangeContext) => boolean;
}

/** Statuses RDS passes through on its own (backups, maintenance, storage autoscaling). */
const ROUTINE_RDS_STATUSES = [
  "available",
  "backing-up",
  "maintenance",
  "modifying",
  "storage-optimization",
  "upgrading",
  "configuring-log-exports",
];

/**
 * Attributes that AWS changes by design and that `ignore_changes` cannot (or should not) cover:
 * computed attributes, or ones the provider already suppresses in plans but a refresh still shows.
 */
export const EXPECTED_CHANGES: readonly ExpectedChange[] = [
  {
    type: "aws_db_instance",
    attribute: "latest_restorable_time",
    why: "moves forward with every automated backup",
  },
  {
    type: "aws_db_instance",
    attribute: "status",
    why: "RDS passes through this status on its own (backups, maintenance, storage autoscaling)",
    when: ({ after }) => ROUTINE_RDS_STATUSES.includes(String(after)),
  },
  {
    type: "aws_db_instance",
    attribute: "engine_version_actual",
    why: "RDS applied a minor version upgrade in the maintenance window (auto_minor_version_upgrade)",
    when: ({ before, after, resource }) => isMinorUpgrade(String(resource.engine), before, after),
  },
  {
    type: "aws_db_instance",
    attribute: "allocated_storage",
    why: "storage autoscaling grew it within max_allocated_storage (the provider ignores this in plans)",
    when: ({ before, after, resource }) =>
      typeof before === "number" &&
      typeof after === "number" &&
      after > before &&
      after <= Number(resource.max_allocated_storage ?? 0),
  },
  // gp3's baseline grows with the storage: 3,000 IOPS and 125 MiB/s below 400 GiB, 12,000 and 500
  // from 400 GiB (PostgreSQL, MySQL, MariaDB); the code sets neither, so storage autoscaling past
  // 400 GiB raises both (review CT). That step alone: IOPS or throughput raised past the baseline
  // (in the console, say) is drift (review CX).
  ...(["iops", "storage_throughput"] as const).map((attribute): ExpectedChange => ({
    type: "aws_db_instance",
    attribute,
    why: "RDS raised gp3's baseline as the storage passed 400 GiB (the code sets neither IOPS nor throughput)",
    when: ({ before, after, resource, name, stack }) =>
      resource.storage_type === "gp3" &&
      Number(resource.allocated_storage) >= GP3_HIGHER_BASELINE_GB &&
      typeof before === "number" &&
      before <= GP3_BASELINE[attribute].below &&
      after === GP3_BASELINE[attribute].from &&
      stack.resource?.aws_db_instance?.[name]?.[attribute] === undefined,
  })),
  ...["public_ip", "public_dns"].map((attribute): ExpectedChange => ({
    type: "aws_instance",
    attribute,
    why: "the Elastic IP associated after launch replaced the launch-time public address",
    when: ({ name, stack }) => hasElasticIp(stack, name),
  })),
  // What a later resource of the same apply did to one made before it, which the apply never read
  // back: the first refresh after it sees it. A NAT gateway's Elastic IP is associated with the
  // gateway's interface as the gateway is made; a target group joins the load balancer with the
  // listener that forwards to it. Only from empty: an association moved elsewhere is drift.
  ...["association_id", "network_interface", "private_ip", "private_dns"].map((attribute): ExpectedChange => ({
    type: "aws_eip",
    attribute,
    why: "the stack's NAT gateway took this Elastic IP after it was allocated (the apply never read it back)",
    when: ({ before, after, name, stack }) => isEmpty(before) && !isEmpty(after) && natGatewayUses(stack, name),
  })),
  {
    type: "aws_lb_target_group",
    attribute: "load_balancer_arns",
    why: "the stack's listener put it behind the load balancer after it was made (the apply never read it back)",
    // only behind the stack's own load balancer (by its name in the ARN): another one is drift (review CW)
    when: ({ before, after, resource, stack }) =>
      isEmpty(before) && !isEmpty(after) && ownLoadBalancers(resource.load_balancer_arns, stack),
  },
  // An alarm e-mail's subscription waits until its recipient follows the link AWS sends
  // (docs/monitoring.md): the refresh then sees it confirmed (review CT)
  {
    type: "aws_sns_topic_subscription",
    attribute: "pending_confirmation",
    why: "its recipient confirmed the subscription (an e-mail subscription waits for that)",
    when: ({ before, after }) => before === true && after === false,
  },
  // A certificate comes into use with the listener made after it (the same apply)
  {
    type: "aws_acm_certificate",
    attribute: "renewal_eligibility",
    why: "ACM counts a certificate in use (by the load balancer's listener) as eligible for managed renewal",
    when: ({ before, after }) => before === "INELIGIBLE" && after === "ELIGIBLE",
  },
  // ACM renews a certificate it issued before it expires, and the refresh sees the renewal and the
  // new validity (review CT). Only a renewal going well or done: one that failed or waits for
  // validation (a CAA record, the domain's DNS moved) is drift, as the certificate will run out (review CW).
  ...["pending_renewal", "renewal_summary"].map((attribute): ExpectedChange => ({
    type: "aws_acm_certificate",
    attribute,
    why: "ACM is renewing the certificate, or renewed it, as it does before one it issued expires (managed renewal)",
    when: ({ resource }) => renewalOnTrack(resource),
  })),
  ...["not_after", "not_before"].map((attribute): ExpectedChange => ({
    type: "aws_acm_certificate",
    attribute,
    why: "ACM renewed the certificate, as it does before one it issued expires (managed renewal)",
    when: ({ before, after, resource }) =>
      typeof before === "string" && typeof after === "string" && after > before && renewalOnTrack(resource),
  })),
];

/** From this much gp3 storage, RDS gives PostgreSQL, MySQL and MariaDB the higher baseline IOPS and throughput. */
const GP3_HIGHER_BASELINE_GB = 400;

/** gp3's baseline on RDS (PostgreSQL, MySQL, MariaDB): below GP3_HIGHER_BASELINE_GB, and from it. */
const GP3_BASELINE = {
  iops: { below: 3000, from: 12000 },
  storage_throughput: { below: 125, from: 500 },
} as const;

/** `after` is a later version of the same major as `before` (`16.4` -> `16.8`, `8.0.39` -> `8.0.40`). */
function isMinorUpgrade(engine: string, before: unknown, after: unknown): boolean {
  if (typeof before !== "string" || typeof after !== "string") return false;
  const major = (v: string) => (engine in ENGINES ? engineMajor(engine as Engine, v) : v.split(".")[0]);
  return major(before) === major(after) && compareVersions(after, before) > 0;
}

/** Numeric, part by part; a missing part counts as 0. */
function compareVersions(a: string, b: string): number {
  const [x, y] = [a.split(".").map(Number), b.split(".").map(Number)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** ACM's renewal of a certificate, if any, is under way or done (not failed, not waiting for validation). */
function renewalOnTrack(certificate: Record<string, any>): boolean {
  const summaries: Array<{ renewal_status?: unknown }> = Array.isArray(certificate.renewal_summary)
    ? certificate.renewal_summary
    : [];
  return summaries.every((s) => s.renewal_status === "PENDING_AUTO_RENEWAL" || s.renewal_status === "SUCCESS");
}

/** Every ARN in `arns` is of a load balancer of the stack, by its name (`.../loadbalancer/app/<name>/<id>`). */
function ownLoadBalancers(arns: unknown, stack: SynthesizedStack): boolean {
  const names = new Set(Object.values(stack.resource?.aws_lb ?? {}).map((lb) => lb.name));
  return (
    Array.isArray(arns) &&
    arns.every((arn) => names.has(/:loadbalancer\/(?:app|net)\/([^/]+)\//.exec(String(arn))?.[1]))
  );
}

/** No value yet: absent, null, "" or an empty list. */
function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || value === "" || (Array.isArray(value) && value.length === 0);
}

/** Whether a NAT gateway of the stack is given Elastic IP `name`. */
function natGatewayUses(stack: SynthesizedStack, name: string): boolean {
  return Object.values(stack.resource?.aws_nat_gateway ?? {}).some((gateway) =>
    [`\${aws_eip.${name}.allocation_id}`, `\${aws_eip.${name}.id}`].includes(gateway.allocation_id),
  );
}

function hasElasticIp(stack: SynthesizedStack, name: string): boolean {
  return Object.values(stack.resource?.aws_eip ?? {}).some((eip) => eip.instance === `\${aws_instance.${name}.id}`);
}

// ---- The report ----

/** One attribute that drifted, ready to print. */
export interface DriftedAttribute {
  readonly path: string;
  readonly before: string;
  readonly after: string;
}

export interface DriftedResource {
  readonly address: string;
  readonly constructPath?: string;
  /** `changed`, `deleted` (gone from AWS), or Terraform's actions when they are something else. */
  readonly change: string;
  readonly attributes: readonly DriftedAttribute[];
}

/** A change the refresh saw that is not drift, and why. */
export interface SetAside extends DriftedAttribute {
  readonly address: string;
  readonly why: string;
}

export interface DriftReport {
  readonly drifted: readonly DriftedResource[];
  readonly setAside: readonly SetAside[];
  /** Root outputs whose value changed (not drift by themselves). */
  readonly outputChanges: readonly string[];
  /** 0 no drift, 2 drift: decided from the JSON. */
  readonly exitCode: 0 | 2;
  /** Where Terraform's detailed exit code disagrees with the JSON. */
  readonly warnings: readonly string[];
  readonly notes: readonly string[];
}

/**
 * Reads a refresh-only plan. Drift is every non-empty entry of `resource_drift` (and any refresh-only
 * `resource_changes` entry other than no-op/read), minus attributes the code ignores and changes AWS
 * makes by design. `detailedExitCode` is what `plan -detailed-exitcode` returned (0 or 2).
 */
export function driftReport(plan: PlanDocument, stack: SynthesizedStack, detailedExitCode: number): DriftReport {
  const drifted: DriftedResource[] = [];
  const setAside: SetAside[] = [];

  for (const entry of driftEntries(plan)) {
    const address = addressOf(entry);
    const synthesized = synthesizedResource(stack, address);
    const kind = kindOf(entry.change.actions);
    const base = { address: entry.address, constructPath: synthesized?.constructPath };
    if (kind === "delete") {
      drifted.push({ ...base, change: "deleted", attributes: [] });
      continue;
    }
    if (kind !== "update") {
      drifted.push({ ...base, change: entry.change.actions.join(", "), attributes: [] });
      continue;
    }
    const ignored = ignoredPaths(synthesized?.values);
    const resource = (entry.change.after ?? {}) as Record<string, any>;
    const changes = attributeChanges(entry.change);
    const kept: DriftedAttribute[] = [];
    for (const change of changes) {
      const shown = showAttribute(change);
      const why = whySetAside(address, change, ignored, resource, stack);
      if (why) setAside.push({ address: entry.address, ...shown, why });
      else kept.push(shown);
    }
    // An update with no visible difference is still reported: the JSON says something changed.
    if (kept.length > 0 || changes.length === 0) drifted.push({ ...base, change: "changed", attributes: kept });
  }

  const outputChanges = Object.entries(plan.output_changes ?? {})
    .filter(([, o]) => !["no-op"].includes(kindOf(o.actions)))
    .map(([name]) => name);
  const exitCode = drifted.length > 0 ? 2 : 0;
  const checked = crossCheck(exitCode, detailedExitCode, setAside, outputChanges);
  return {
    drifted,
    setAside,
    outputChanges,
    exitCode,
    warnings: checked.warnings,
    notes: [...checked.notes, ...pendingSubscriptions(plan)],
  };
}

/**
 * The alarm topic's subscriptions the refresh still finds waiting for their recipient (an e-mail
 * subscription delivers nothing until its recipient follows the link AWS sends): not drift, as
 * nothing changed, but every alarm reaches no one at that address (review DQ).
 */
function pendingSubscriptions(plan: PlanDocument): string[] {
  return priorStateResources(plan)
    .filter((r) => r.type === "aws_sns_topic_subscription" && r.values?.pending_confirmation === true)
    .map(
      (r) =>
        `${r.address} (${String(r.values!.endpoint)}) is still pending confirmation: no alarm reaches that address ` +
        "until its recipient follows the link in AWS's e-mail (docs/monitoring.md; a link that no longer works: " +
        "remove the address from monitoring.alarmEmails and deploy, then add it back and deploy).",
    );
}

/** The drift entries of a refresh-only plan, once per object, managed resources only. */
function driftEntries(plan: PlanDocument): ResourceChange[] {
  const seen = new Set<string>();
  const changed = (plan.resource_changes ?? []).filter((rc) => !["no-op", "read"].includes(kindOf(rc.change.actions)));
  return [...(plan.resource_drift ?? []), ...changed].filter((rc) => {
    const key = `${rc.address} ${rc.deposed ?? ""}`;
    if (seen.has(key) || addressOf(rc)?.mode === "data" || kindOf(rc.change.actions) === "no-op") {
      return false;
    }
    seen.add(key);
    return true;
  });
}

/** The synthesized `lifecycle.ignore_changes`: `"all"`, or a list of attribute paths. */
function ignoredPaths(
  config: Record<string, any> | undefined,
): "all" | ReadonlyArray<ReturnType<typeof parseAttributePath>> {
  const ignore = config?.lifecycle?.ignore_changes;
  if (ignore === "all") return "all";
  // An entry this code cannot read filters nothing: the change is then reported, not hidden.
  return Array.isArray(ignore) ? ignore.flatMap((p: string) => readable(() => parseAttributePath(p))) : [];
}

function readable<T>(read: () => T): T[] {
  try {
    return [read()];
  } catch {
    return [];
  }
}

function whySetAside(
  address: ResourceAddress | undefined,
  change: AttributeChange,
  ignored: ReturnType<typeof ignoredPaths>,
  resource: Record<string, any>,
  stack: SynthesizedStack,
): string | undefined {
  if (ignored === "all" || ignored.some((prefix) => isWithin(change.path, prefix))) {
    return "ignored in code (lifecycle.ignore_changes)";
  }
  const expected = EXPECTED_CHANGES.find(
    (e) =>
      e.type === address?.type &&
      e.attribute === change.path[0] &&
      (e.when?.({ before: change.before, after: change.after, resource, name: address.name, stack }) ?? true),
  );
  return expected ? `expected: ${expected.why}` : undefined;
}

function showAttribute(change: AttributeChange): DriftedAttribute {
  return {
    path: formatPath(change.path),
    before: displayValue(change.before, change.sensitive),
    after: displayValue(change.after, change.sensitive),
  };
}

/** Terraform's detailed exit code against the JSON's verdict: the JSON wins, and the report says so. */
function crossCheck(
  exitCode: 0 | 2,
  detailedExitCode: number,
  setAside: readonly SetAside[],
  outputChanges: readonly string[],
): { warnings: string[]; notes: string[] } {
  const warnings: string[] = [];
  const notes: string[] = [];
  if (exitCode === 2 && detailedExitCode === 0) {
    warnings.push(
      "terraform plan -refresh-only -detailed-exitcode exited 0 (no changes), but the plan JSON shows drift; " +
        "trusting the JSON (this exit code is known to be unreliable in some Terraform versions).",
    );
  } else if (exitCode === 0 && detailedExitCode === 2) {
    if (setAside.length > 0 || outputChanges.length > 0) {
      notes.push(
        "Terraform exited 2 (changes) for changes that are not drift: " +
          [
            setAside.length > 0 ? "the set-aside attributes listed below" : "",
            outputChanges.length > 0 ? `output values (${outputChanges.join(", ")})` : "",
          ]
            .filter(Boolean)
            .join(" and ") +
          ".",
      );
    } else {
      warnings.push(
        "terraform plan -refresh-only -detailed-exitcode exited 2 (changes), but the plan JSON shows no drift; " +
          "trusting the JSON (this exit code is known to be unreliable in some Terraform versions).",
      );
    }
  }
  return { warnings, notes };
}

/** The report in plain words, for a terminal or a scheduler's log. */
export function driftReportText(report: DriftReport, stackName: string): string {
  const out: string[] = [];
  if (report.drifted.length === 0) {
    out.push(`No drift in ${stackName}: the real infrastructure matches the state of the last apply.`);
  } else {
    out.push(`Drift found in ${stackName}: ${report.drifted.length} resource(s) changed outside Terraform.`);
    for (const r of report.drifted) {
      const where = r.constructPath ? ` (${r.constructPath})` : "";
      if (r.change === "deleted") out.push(`  - ${r.address}${where} was deleted outside Terraform`);
      else if (r.change !== "changed") out.push(`  ! ${r.address}${where}: ${r.change}`);
      else if (r.attributes.length === 0) out.push(`  ~ ${r.address}${where} changed (no attribute difference shown)`);
      else {
        out.push(`  ~ ${r.address}${where} changed:`);
        for (const a of r.attributes) out.push(`      ${a.path}: ${a.before} -> ${a.after}`);
      }
    }
  }
  if (report.setAside.length > 0) {
    out.push("", "Set aside (not drift):");
    for (const s of report.setAside) out.push(`  ${s.address} ${s.path}: ${s.before} -> ${s.after}: ${s.why}`);
  }
  for (const w of report.warnings) out.push("", `Warning: ${w}`);
  for (const n of report.notes) out.push("", `Note: ${n}`);
  if (report.drifted.length > 0) {
    out.push(
      "",
      "What to do: either adopt the change into code (the environment's config.yaml, or src/; " +
        `\`npm run plan -- ${stackName}\` then shows no change), or undo it by re-applying the code ` +
        `(\`cdktf deploy ${stackName}\`). See docs/plan-review-and-drift.md#drift.`,
    );
  }
  return out.join("\n");
}
