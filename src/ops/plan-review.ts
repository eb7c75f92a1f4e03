import { architectureOf } from "../config/instance-types";
import { engineMajor, ENGINES, type Engine } from "../config/schema";
import { OS_UPDATE_STEP } from "../userdata/os-update-script";
import {
  describeReason,
  formatPath,
  kindOf,
  addressOf,
  priorManagedResources,
  synthesizedResource,
  type ChangeKind,
  type PlanDocument,
  type ResourceChange,
  type SynthesizedStack,
} from "./plan-json";
import { changedLines, costChangeSummary, type CostChange } from "../cost/report";
import { fleetRolls, type FleetRoll } from "./fleet-roll";
import { DEPLOY_SCRIPT } from "../userdata/deploy-script";
import { userDataScript } from "../userdata/encode";

// The review of a saved plan (`npm run plan`): what it creates, updates, replaces, deletes and
// forgets; whether it destroys anything that holds data or state (deny by default: every type that
// is not on a reviewed list of stateless types counts as holding data); and the changes that look
// safe but are not. Pure: it reads the plan JSON and the synthesized stack it was planned from
// (the plan JSON carries no lifecycle settings).

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
  aws_lb: "a load balancer (its DNS name, which your DNS records point at, is lost for good)",
};

/**
 * The reviewed list of types whose deletion or replacement loses nothing the code cannot build
 * again, each with the reason. Every other type counts as holding data: a type added to the stacks
 * (or met in a plan) is blocked until someone reviews it here. Keep each reason true.
 */
export const STATELESS_TYPES: Readonly<Record<string, string>> = {
  // ---- Network ----
  aws_vpc: "a network; what runs in it is guarded on its own",
  aws_subnet: "an address range of the VPC",
  aws_route_table: "routes, from the code",
  aws_route: "a route, from the code",
  aws_route_table_association: "a subnet's link to its routes",
  aws_vpc_endpoint: "the app subnets' route to S3 (a gateway endpoint), from the code",
  aws_internet_gateway: "the VPC's door to the internet; it has no address of its own",
  aws_nat_gateway: "egress for private subnets; its public address is an Elastic IP, guarded on its own",
  aws_flow_log: "the flow log's settings; the records are in its log group, guarded on its own",
  aws_default_security_group: "the VPC's default group, emptied by the code",
  aws_security_group: "firewall rules, from the code",
  aws_vpc_security_group_ingress_rule: "a firewall rule, from the code",
  aws_vpc_security_group_egress_rule: "a firewall rule, from the code",
  // ---- Identity ----
  aws_iam_role: "permissions, from the code",
  aws_iam_role_policy: "permissions, from the code",
  aws_iam_role_policy_attachment: "permissions, from the code",
  aws_iam_policy: "permissions, from the code",
  aws_iam_instance_profile: "the servers' role, from the code",
  aws_key_pair: "the public half of an SSH key, from the config",
  aws_kms_alias: "a name for a KMS key; the key is guarded on its own",
  // ---- Servers ----
  aws_instance:
    "an app server: its disk holds the release and logs already shipped to CloudWatch (a single server's database is checked on its own)",
  aws_launch_template: "how the fleet's servers are launched, from the code",
  aws_autoscaling_group: "the fleet; its servers keep nothing the release and the logs do not",
  aws_autoscaling_lifecycle_hook:
    "how long a new server's boot may take before the group gives up on it, from the code",
  aws_autoscaling_policy: "a scaling rule, from the code",
  aws_lb_listener: "a load balancer's listener, from the code",
  aws_lb_target_group: "the fleet's registration with the load balancer",
  aws_ssm_document: "a command the apply runs on a server (the deploy, an OS update), from the code",
  aws_ssm_association: "a run of such a command (an OS update's is noted: it may reboot the server)",
  aws_ssm_parameter: "a value the code sets",
  aws_s3_object: "a release uploaded from the stack's folder; the versioned bucket keeps the earlier versions",
  // ---- Domain ----
  aws_acm_certificate:
    "a certificate ACM issues again for the same name (validated by DNS, created before the old one goes)",
  aws_acm_certificate_validation: "the wait for a certificate's validation",
  aws_route53_record: "a DNS record, from the code (the name and the certificate's validation)",
  // ---- Settings of guarded resources ----
  aws_db_parameter_group: "database settings, from the code",
  aws_db_subnet_group: "where the database may run",
  aws_s3_bucket_versioning: "a bucket setting; removing it never deletes objects",
  aws_s3_bucket_server_side_encryption_configuration: "a bucket setting; objects stay encrypted",
  aws_s3_bucket_public_access_block: "a bucket setting, from the code",
  aws_s3_bucket_ownership_controls: "a bucket setting, from the code",
  aws_s3_bucket_policy: "a bucket policy, from the code",
  aws_s3_bucket_lifecycle_configuration: "a bucket's expiry rules, from the code",
  // ---- Monitoring ----
  aws_cloudwatch_metric_alarm: "an alarm, from the code",
  aws_cloudwatch_event_rule: "an EventBridge rule, from the code",
  aws_cloudwatch_event_target: "a rule's target, from the code",
  aws_db_event_subscription: "the database's events sent to the alarm topic, from the code",
  aws_cloudwatch_log_metric_filter: "a filter that counts log lines into a metric; the logs and the metric's past stay",
  aws_cloudwatch_dashboard: "a dashboard, from the code",
  aws_sns_topic: "the alarm topic; its subscriptions are made again (email subscribers confirm again)",
  aws_sns_topic_policy: "who may publish to the topic",
  aws_sns_topic_subscription: "an alarm subscriber, from the config",
};

/** Why a type on neither list is blocked: the exact reason the review gives. */
export const UNREVIEWED_TYPE_REASON =
  "not on the reviewed list of stateless types (STATELESS_TYPES in src/ops/plan-review.ts), so it counts as holding data";

/**
 * The one `terraform_data` the code makes: the pinned AMI id (src/constructs/app-identity.ts),
 * recognised by its `pinnedAt` trigger. It holds nothing but that id, and `npm run bump-ami`
 * replaces it on purpose; any other `terraform_data` stays unreviewed.
 */
export function isAmiPinRecord(type: string | undefined, config: Record<string, any> | undefined): boolean {
  return type === "terraform_data" && typeof config?.triggers_replace?.pinnedAt === "string";
}

/** The single-server layout's one server: its disk holds the database. */
const SINGLE_SERVER_REASON = "the single-server layout's server, whose disk holds the database";

/** One resource the plan replaces, deletes or forgets. */
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

/**
 * A change that looks safe but is not: one line naming the environment folder, the field and
 * what will happen, and what to do instead.
 */
export interface PlanFinding {
  readonly address: string;
  readonly message: string;
  /** Applying the plan would fail half-way: it is blocked, and `--allow-destroy` does not lift that. */
  readonly blocks: boolean;
}

export interface PlanCounts {
  readonly create: number;
  readonly update: number;
  readonly replace: number;
  readonly delete: number;
  /** Dropped from the state and left running (`removed` with `destroy = false`). */
  readonly forget: number;
  /** Unchanged resources, data reads and actions this review does not know. */
  readonly unchanged: number;
  readonly read: number;
  readonly other: number;
}

export interface PlanReview {
  readonly counts: PlanCounts;
  readonly replaced: readonly ReviewedChange[];
  readonly deleted: readonly ReviewedChange[];
  /** Left running in AWS, no longer managed: nothing is destroyed. */
  readonly forgotten: readonly ReviewedChange[];
  /** Replaced or deleted resources that hold data or state. */
  readonly endangered: readonly ReviewedChange[];
  /** Changes that look safe but are not. */
  readonly findings: readonly PlanFinding[];
  /** Actions this review does not know (a newer Terraform): shown as they are. */
  readonly unknownActions: readonly string[];
  /** Launch templates whose update rolls the app servers (an instance refresh), with the cause. */
  readonly fleetRolls: readonly FleetRoll[];
  /** Data would be destroyed and `--allow-destroy` was not given, or a finding blocks. */
  readonly blocked: boolean;
  readonly allowDestroy: boolean;
}

export interface ReviewOptions {
  /** Let a plan that destroys data pass (it is still reported). @default false */
  readonly allowDestroy?: boolean;
  /** The environment (folder and stack name), for the findings' messages. @default - the stack's `environment` tag */
  readonly environment?: string;
  /**
   * An empty state is what this run has, and says nothing: local state in CI, where the runner
   * starts without it (the workflow says so itself). @default false - a plan from an empty state is noted
   */
  readonly emptyStateExpected?: boolean;
  /**
   * The plan is for a deploy role to apply (CI's deploy job): one that writes the roles'
   * permissions boundary, which a deploy role may not, is blocked. @default false - an
   * administrator applies it, and the boundary's change is noted
   */
  readonly deployRole?: boolean;
}

/** Reviews a plan against the synthesized stack it was made from. */
export function reviewPlan(plan: PlanDocument, stack: SynthesizedStack, options: ReviewOptions = {}): PlanReview {
  const allowDestroy = options.allowDestroy ?? false;
  const context: ReviewContext = {
    stack,
    plan,
    environment: options.environment ?? environmentOf(stack),
    layoutBefore: outputBefore(plan, "layout"),
    deployRole: options.deployRole ?? false,
  };
  const tally = { create: 0, update: 0, replace: 0, delete: 0, forget: 0, unchanged: 0, read: 0, other: 0 };
  const replaced: ReviewedChange[] = [];
  const deleted: ReviewedChange[] = [];
  const forgotten: ReviewedChange[] = [];
  const unknownActions: string[] = [];
  const unknownOnData: ReviewedChange[] = [];
  const findings: PlanFinding[] = [];

  for (const rc of plan.resource_changes ?? []) {
    const kind = kindOf(rc.change.actions);
    if (kind === "no-op") tally.unchanged += 1;
    else if (kind === "other") {
      tally.other += 1;
      unknownActions.push(`${rc.address}: ${rc.change.actions.join(", ")}`);
      // An action this review does not know, on a resource that holds data: treat it as a delete.
      const change = reviewed(rc, "delete", context);
      if (change.holdsData.length > 0) unknownOnData.push(change);
    } else tally[kind] += 1;
    if (kind === "replace") replaced.push(reviewed(rc, kind, context));
    if (kind === "delete") deleted.push(reviewed(rc, kind, context));
    if (kind === "forget") forgotten.push({ ...reviewed(rc, kind, context), holdsData: [] });
    findings.push(...FINDINGS.flatMap((find) => find(rc, kind, context) ?? []));
  }

  // From an empty state: the first apply of an environment, or its state is not where the backend
  // points, and the plan would build a second copy beside what runs (docs/state.md). A deploy role
  // never makes an environment (its first apply is an administrator's: it makes the roles'
  // permissions boundary, docs/configuration.md#adding-an-environment), so for one this is the
  // second case, and blocked: applied, it would build beside what runs until a name already taken
  // stopped it, and keep that half in the new state (review CT).
  if (tally.create > 0 && !options.emptyStateExpected && priorManagedResources(plan) === 0) {
    const where =
      "its state is not where the backend points (state.key or state.workspace changed, the project or folder " +
      "renamed, or the state not pushed after a move)";
    findings.push({
      address: "(state)",
      blocks: context.deployRole,
      message:
        `environments/${context.environment}: the state holds no resources, so this plan creates the whole ` +
        `environment (${tally.create} resources). ` +
        (context.deployRole
          ? `A deploy role does not make an environment (an administrator applies its first deploy), so ${where}: ` +
            `do not apply it here; find the state first (docs/state.md), or, for a first deploy, apply it with an ` +
            `administrator's credentials: npm run plan -- ${context.environment}, then the apply it prints`
          : `Right for its first deploy; if it already runs in AWS, ${where}: do not apply, find the state first ` +
            `(docs/state.md)`),
    });
  }
  const moved = directPortMoves(plan.resource_changes ?? [], context);
  if (moved) findings.push(moved);
  const endangered = [...[...replaced, ...deleted].filter((c) => c.holdsData.length > 0), ...unknownOnData];
  return {
    counts: tally,
    replaced,
    deleted,
    forgotten,
    endangered,
    findings,
    unknownActions,
    fleetRolls: fleetRolls(plan.resource_changes ?? [], stack),
    blocked: (endangered.length > 0 && !allowDestroy) || findings.some((f) => f.blocks),
    allowDestroy,
  };
}

/** What every check of one change needs besides the change. */
interface ReviewContext {
  readonly stack: SynthesizedStack;
  /** The whole plan: a finding about one change may read another's. */
  readonly plan: PlanDocument;
  readonly environment: string;
  /** The `layout` output before this plan, when the plan changes it. */
  readonly layoutBefore?: unknown;
  /** See ReviewOptions.deployRole. */
  readonly deployRole: boolean;
}

/** The environment a stack was synthesized for: its provider's `Environment` default tag. */
function environmentOf(stack: SynthesizedStack): string {
  const provider = (
    stack as { provider?: { aws?: Array<{ default_tags?: Array<{ tags?: Record<string, string> }> }> } }
  ).provider?.aws?.[0];
  return provider?.default_tags?.[0]?.tags?.Environment ?? "<env>";
}

/** An output's value before the plan, when the plan changes it. */
function outputBefore(plan: PlanDocument, name: string): unknown {
  const change = plan.output_changes?.[name];
  return change && kindOf(change.actions) !== "no-op" ? change.before : undefined;
}

function reviewed(rc: ResourceChange, kind: ChangeKind, context: ReviewContext): ReviewedChange {
  const address = addressOf(rc);
  const synthesized = synthesizedResource(context.stack, address);
  return {
    address: rc.address,
    kind,
    constructPath: synthesized?.constructPath,
    reason: describeReason(rc.action_reason),
    forcedBy: (rc.change.replace_paths ?? []).map(formatPath),
    deposed: rc.deposed !== undefined,
    holdsData: address?.mode === "data" ? [] : dataHeldBy(rc, address?.type, synthesized?.values, context),
  };
}

/**
 * Each reason this resource holds data or state: its type (every type not reviewed as stateless),
 * its lifecycle, its role.
 */
function dataHeldBy(
  rc: ResourceChange,
  type: string | undefined,
  config: Record<string, any> | undefined,
  context: ReviewContext,
): string[] {
  const before = (rc.change.before ?? {}) as Record<string, unknown>;
  const reasons: string[] = [];
  if (!type) reasons.push(`a resource whose type this review cannot read from its address: ${UNREVIEWED_TYPE_REASON}`);
  else if (DATA_HOLDING_TYPES[type]) reasons.push(DATA_HOLDING_TYPES[type]);
  else if (!STATELESS_TYPES[type] && !isAmiPinRecord(type, config)) reasons.push(`${type}: ${UNREVIEWED_TYPE_REASON}`);
  if (config?.lifecycle?.prevent_destroy === true) reasons.push("lifecycle.prevent_destroy is set in the code");
  if (type === "aws_instance") {
    if (config?.disable_api_termination === true || before.disable_api_termination === true) {
      reasons.push("an EC2 instance with termination protection");
    }
    // The single-server layout runs the database engine on the instance's own disk, also when
    // this very plan moves the environment to another layout.
    if (context.stack.output?.layout?.value === "single-server" || context.layoutBefore === "single-server") {
      reasons.push(SINGLE_SERVER_REASON);
    }
  }
  return reasons;
}

// ---- Changes that look safe but are not ----

type Finder = (rc: ResourceChange, kind: ChangeKind, context: ReviewContext) => PlanFinding | undefined;

const values = (value: unknown) => (value ?? {}) as Record<string, unknown>;

/**
 * A server switched between x86_64 and arm64 in place. Its AMI is kept after creation
 * (`ignore_changes`), so the update pairs the old architecture's AMI with the new type: the
 * provider stops the server to change its type, AWS refuses the type, and the server stays stopped.
 */
const architectureSwitch: Finder = (rc, kind, { environment, stack, layoutBefore }) => {
  if (addressOf(rc)?.type !== "aws_instance" || kind !== "update") return undefined;
  const before = values(rc.change.before).instance_type;
  const after = values(rc.change.after).instance_type;
  if (typeof before !== "string" || typeof after !== "string") return undefined;
  const [from, to] = [architectureOf(before), architectureOf(after)];
  if (from === to) return undefined;
  const holdsDatabase = stack.output?.layout?.value === "single-server" || layoutBefore === "single-server";
  return {
    address: rc.address,
    blocks: true,
    message:
      `environments/${environment}: app.instanceType ${before} -> ${after} switches the server from ${from} to ${to} in place, ` +
      `but its ${from} AMI is kept after creation (lifecycle.ignore_changes), so AWS refuses the new type and the ` +
      `apply fails with the server stopped. Replace it on purpose instead: npm run plan -- ${environment} --replace '${rc.address}'` +
      (holdsDatabase ? " (its disk holds the database: move or back up the data first)" : ""),
  };
};

/**
 * `app.count.desired` changed on a live fleet: Terraform leaves `desired_capacity` to target
 * tracking after creation (`ignore_changes`), so the change does nothing.
 */
const desiredIgnored: Finder = (rc, kind, { environment, stack }) => {
  if (addressOf(rc)?.type !== "aws_autoscaling_group" || (kind !== "update" && kind !== "no-op")) return undefined;
  const config = synthesizedResource(stack, addressOf(rc))?.values;
  const ignored: unknown = config?.lifecycle?.ignore_changes;
  if (!Array.isArray(ignored) || !ignored.includes("desired_capacity")) return undefined;
  const wanted = config?.desired_capacity;
  const live = values(rc.change.before).desired_capacity;
  if (typeof wanted !== "number" || typeof live !== "number" || wanted === live) return undefined;
  return {
    address: rc.address,
    blocks: false,
    message:
      `environments/${environment}: app.count.desired ${wanted} is not applied: the group runs ${live} server(s), and ` +
      `after creation Terraform leaves desired_capacity to target tracking (lifecycle.ignore_changes), so this plan ` +
      `changes nothing there. To change how many servers run, change app.count.min or app.count.max`,
  };
};

/** A layout change away from single-server deletes the server that holds the database. */
const singleServerLeaves: Finder = (rc, kind, { environment, stack, layoutBefore }) => {
  if (layoutBefore !== "single-server" || addressOf(rc)?.type !== "aws_instance") return undefined;
  if (kind !== "delete" && kind !== "replace") return undefined;
  const after = stack.output?.layout?.value ?? "another layout";
  return {
    address: rc.address,
    blocks: false, // the destroy guard blocks it as holding data, and --allow-destroy lifts that
    message:
      `environments/${environment}: layout single-server -> ${String(after)} ${kind === "delete" ? "deletes" : "replaces"} ` +
      `the server that holds the single server's database (${rc.address}), and everything on its disk with it. ` +
      `Move the data to the new database first (docs/layouts.md#moving-a-single-servers-data-to-rds), then re-run with --allow-destroy`,
  };
};

/**
 * A layout change from single-server to app-db-split that keeps the server. Both layouts have it
 * at the same address, and its boot script, which set it up with a database of its own and
 * without what a client of RDS needs (its certificate), is kept after creation
 * (`ignore_changes`): Terraform updates the server in place, and it goes on without its database
 * or a way to reach the new one. It must be replaced, on purpose, once the data is moved.
 */
const singleServerKept: Finder = (rc, kind, { environment, stack, layoutBefore }) => {
  const after = stack.output?.layout?.value;
  const fixed = ["single-server", "app-db-split"];
  if (!fixed.includes(String(layoutBefore)) || !fixed.includes(String(after)) || layoutBefore === after)
    return undefined;
  if (addressOf(rc)?.type !== "aws_instance" || (kind !== "update" && kind !== "no-op")) return undefined;
  const setUp =
    layoutBefore === "single-server"
      ? "with a database of its own and nothing to reach RDS with"
      : "to reach RDS, which this plan deletes, and with no database of its own";
  return {
    address: rc.address,
    blocks: true,
    message:
      `environments/${environment}: layout ${String(layoutBefore)} -> ${String(after)} keeps the server (${rc.address}), ` +
      `set up by its boot script ${setUp} (the boot script is kept after creation: lifecycle.ignore_changes), so its ` +
      `next deploy fails. Move the data first (docs/layouts.md#moving-a-single-servers-data-to-rds), then replace it ` +
      `on purpose: npm run plan -- ${environment} --replace '${rc.address}' --allow-destroy`,
  };
};

/**
 * A new `app.port` on a live load-balanced environment. The target group is replaced, new first
 * (`create_before_destroy`), and the listeners forward to it at once; but the servers in it are
 * still the old ones, whose nginx listens on the old port, until the instance refresh replaces
 * them. With no healthy target the load balancer sends requests to them all the same, and they fail.
 */
const targetPortMoves: Finder = (rc, kind, { environment }) => {
  if (addressOf(rc)?.type !== "aws_lb_target_group" || kind !== "replace") return undefined;
  const before = values(rc.change.before).port;
  const after = values(rc.change.after).port;
  if (typeof before !== "number" || typeof after !== "number") return undefined;
  if (before === after) {
    // another reason (a stack on app.port other than 80 renames its group once: -app -> -p<port>)
    const [from, to] = [values(rc.change.before).name, values(rc.change.after).name];
    return {
      address: rc.address,
      blocks: false,
      message:
        `environments/${environment}: the target group is replaced${from !== to ? ` (${String(from)} -> ${String(to)})` : ""}, ` +
        `new first, and the listeners move to it as soon as it exists: until the Auto Scaling group has registered ` +
        `its servers there (seconds), the load balancer may answer 503. Apply it at a quiet hour`,
    };
  }
  return {
    address: rc.address,
    blocks: false,
    message:
      `environments/${environment}: app.port ${before} -> ${after} replaces the target group, and the listeners move to ` +
      `the new one as soon as it exists; its servers are the running ones, whose nginx listens on ${before}, until the ` +
      `instance refresh has replaced them, so requests fail (502) until the first new server passes its health ` +
      `checks, about one boot. Apply it at a quiet hour`,
  };
};

/**
 * A new `app.healthCheckPath` on a live load-balanced environment. The target group asks the new
 * path at the apply, but the running servers' nginx answers only the old one until the instance
 * refresh replaces them: every one fails its checks within a minute. The group replaces them,
 * launching first (its instance maintenance policy), and the load balancer, with no healthy target,
 * sends requests to them all meanwhile; what is lost is the health check's view of them until
 * every server is replaced (a boot for each batch), not the site.
 */
const healthPathMoves: Finder = (rc, kind, { environment }) => {
  if (addressOf(rc)?.type !== "aws_lb_target_group" || kind !== "update") return undefined;
  const pathOf = (state: unknown) =>
    (values(state).health_check as Array<Record<string, unknown>> | undefined)?.[0]?.path;
  const [before, after] = [pathOf(rc.change.before), pathOf(rc.change.after)];
  if (typeof before !== "string" || typeof after !== "string" || before === after) return undefined;
  return {
    address: rc.address,
    blocks: false,
    message:
      `environments/${environment}: app.healthCheckPath ${before} -> ${after}: the load balancer asks ${after} at the ` +
      `apply, while the running servers' nginx answers only ${before} until the instance refresh replaces them, so ` +
      `each fails its health checks within a minute and the group replaces it (launching first). Requests still ` +
      `reach them (with no healthy target the load balancer sends to every one), but the no-healthy-hosts alarm ` +
      `pages (not a release alarm: wait-rollout goes on) and servers are replaced twice; unless the path must ` +
      `change, keep it. Apply it at a quiet hour`,
  };
};

/** The description of the ingress rule that opens app.port to clients on a server with no load balancer. */
const DIRECT_INGRESS = /no load balancer in front/;

/**
 * A new `app.port` on a server clients reach directly (single-server, app-db-split). The security
 * group closes the old port and opens the new one at the apply, but the server keeps its nginx on
 * the old port: its user data runs at its first boot only, and a change to it is ignored
 * (replacing the server would replace its disk). The site would be unreachable until the server is
 * replaced, so the plan is blocked unless it replaces the server too.
 */
function directPortMoves(changes: readonly ResourceChange[], context: ReviewContext): PlanFinding | undefined {
  const { environment } = context;
  const ingress = (kind: ChangeKind) =>
    changes.find((rc) => {
      if (addressOf(rc)?.type !== "aws_vpc_security_group_ingress_rule" || kindOf(rc.change.actions) !== kind)
        return false;
      return DIRECT_INGRESS.test(String(values(kind === "delete" ? rc.change.before : rc.change.after).description));
    });
  const [closed, opened] = [ingress("delete"), ingress("create")];
  if (!closed || !opened) return undefined;
  const serverReplaced = changes.some(
    (rc) => addressOf(rc)?.type === "aws_instance" && ["replace", "create"].includes(kindOf(rc.change.actions)),
  );
  if (serverReplaced) return undefined;
  const [from, to] = [values(closed.change.before).from_port, values(opened.change.after).from_port];
  const server = changes.find((rc) => addressOf(rc)?.type === "aws_instance")?.address ?? "<the server's address>";
  return {
    address: closed.address,
    blocks: true,
    message:
      `environments/${environment}: app.port ${String(from)} -> ${String(to)} closes ${String(from)} and opens ${String(to)} ` +
      `in the server's security group, but the server keeps nginx on ${String(from)} (its user data runs at its first ` +
      `boot only), so the site would be unreachable. Keep the port, or replace the server on purpose: npm run plan -- ` +
      `${environment} --replace '${server}'` +
      (context.stack.output?.layout?.value === "single-server"
        ? " (its disk holds the database: move or back up the data first)"
        : ""),
  };
}

/** The attribute that protects each type from deletion, where the stacks set one, and its protecting value. */
const DELETION_PROTECTION: Readonly<Record<string, readonly [string, boolean]>> = {
  aws_db_instance: ["deletion_protection", true],
  aws_lb: ["enable_deletion_protection", true],
  aws_instance: ["disable_api_termination", true],
  // a bucket that is not force-destroyed refuses a destroy while it holds objects (the dumps, the releases)
  aws_s3_bucket: ["force_destroy", false],
};

/**
 * Deletion protection switched off in place: what `production: true` sets (removed, or the
 * environment no longer production), or a protection turned off on purpose before a destroy.
 */
const protectionOff: Finder = (rc, kind, { environment }) => {
  const type = addressOf(rc)?.type;
  const protection = type ? DELETION_PROTECTION[type] : undefined;
  if (!protection || kind !== "update") return undefined;
  const [attribute, on] = protection;
  if (values(rc.change.before)[attribute] !== on || values(rc.change.after)[attribute] !== !on) return undefined;
  return {
    address: rc.address,
    blocks: false,
    message:
      `environments/${environment}: ${rc.address} loses its deletion protection (${attribute} ${on} -> ${!on}), as when ` +
      `production: true is removed from an environment; if that is not meant, put it back before applying`,
  };
};

/**
 * A new major `database.engineVersion` (16 -> 17, MySQL 8.0 -> 8.4): RDS refuses a major upgrade
 * unless it is allowed, and the stacks leave `allow_major_version_upgrade` off so that an edited
 * line never upgrades a database in place. The apply would fail part-way (after the new parameter
 * group), so the plan is blocked, saying how to upgrade on purpose.
 */
const engineMajorUpgrade: Finder = (rc, kind, { environment }) => {
  if (addressOf(rc)?.type !== "aws_db_instance" || kind !== "update") return undefined;
  const [before, after] = [values(rc.change.before), values(rc.change.after)];
  const engine = after.engine as Engine;
  if (!(engine in ENGINES) || typeof before.engine_version !== "string" || typeof after.engine_version !== "string")
    return undefined;
  const [from, to] = [engineMajor(engine, before.engine_version), engineMajor(engine, after.engine_version)];
  if (from === to || after.allow_major_version_upgrade === true) return undefined;
  return {
    address: rc.address,
    blocks: true,
    message:
      `environments/${environment}: database.engineVersion ${from} -> ${to} is a major upgrade, which RDS refuses ` +
      `without allow_major_version_upgrade (off, so that an edited line never upgrades a database in place): the ` +
      `apply would fail part-way. Keep ${from}, or upgrade on purpose: a snapshot, then aws rds modify-db-instance ` +
      `--db-instance-identifier <id> --engine-version ${to} --allow-major-version-upgrade --apply-immediately ` +
      `(with a parameter group of the new family), then set engineVersion to ${to}`,
  };
};

/**
 * A new `network.cidr`: the VPC and every subnet and security group are replaced, while the
 * database and the load balancer are only updated, and AWS refuses to move either into another
 * VPC. The apply fails part-way, with the old network half gone and the site down.
 */
const vpcReplaced: Finder = (rc, kind, { environment, stack }) => {
  if (addressOf(rc)?.type !== "aws_vpc" || kind !== "replace") return undefined;
  // a single server moves with its subnet (replaced: the data guard weighs its disk); RDS and an ALB cannot
  if (!stack.resource?.aws_db_instance && !stack.resource?.aws_lb) return undefined;
  const [before, after] = [values(rc.change.before).cidr_block, values(rc.change.after).cidr_block];
  return {
    address: rc.address,
    blocks: true,
    message:
      `environments/${environment}: network.cidr ${String(before)} -> ${String(after)} replaces the VPC, and with it every subnet and security group; the database and the load balancer cannot move into ` +
      `another VPC (AWS refuses it), so the apply would fail part-way with the site down. A network of its own is ` +
      `an environment of its own: create it beside this one, move the data, then destroy this one (docs/state.md)`,
  };
};

/**
 * Log groups that keep their events for less time than before (`production: true` removed, or
 * `app.logRetentionDays` lowered): CloudWatch deletes the older events as soon as the retention
 * is set, for good.
 */
const logsShortened: Finder = (rc, kind, { environment }) => {
  if (addressOf(rc)?.type !== "aws_cloudwatch_log_group" || kind !== "update") return undefined;
  const [before, after] = [values(rc.change.before).retention_in_days, values(rc.change.after).retention_in_days];
  const days = (value: unknown) => (typeof value === "number" && value > 0 ? value : Number.POSITIVE_INFINITY);
  if (days(after) >= days(before)) return undefined;
  return {
    address: rc.address,
    blocks: false,
    message:
      `environments/${environment}: ${String(values(rc.change.after).name ?? rc.address)} keeps its logs ${String(after)} days ` +
      `instead of ${before ? String(before) : "forever"}: CloudWatch deletes every older event as soon as this is applied, ` +
      `for good (as when production: true is removed); export what must be kept first`,
  };
};

/**
 * Changes RDS makes only in the database's next maintenance window (the stacks set
 * `apply_immediately` false, so that no edit restarts a database mid-day): the apply succeeds at
 * once, each plan shows the same change until the window, and then a new class restarts a
 * single-AZ database for minutes.
 */
const WINDOWED_DB_ATTRIBUTES = ["instance_class", "multi_az", "allocated_storage", "storage_type", "iops"];
const dbChangeWaits: Finder = (rc, kind, { environment }) => {
  if (addressOf(rc)?.type !== "aws_db_instance" || kind !== "update") return undefined;
  const [before, after] = [values(rc.change.before), values(rc.change.after)];
  if (after.apply_immediately === true) return undefined;
  const changed = WINDOWED_DB_ATTRIBUTES.filter(
    (key) => after[key] !== undefined && JSON.stringify(before[key]) !== JSON.stringify(after[key]),
  );
  if (changed.length === 0) return undefined;
  const window = typeof after.maintenance_window === "string" ? ` (${after.maintenance_window} UTC)` : "";
  return {
    address: rc.address,
    blocks: false,
    message:
      `environments/${environment}: ${changed.map((key) => `${key} ${JSON.stringify(before[key])} -> ${JSON.stringify(after[key])}`).join(", ")} ` +
      `takes effect in the database's next maintenance window${window}, not at this apply (apply_immediately is off), ` +
      `and every plan shows it until then; a new class restarts a database without a standby for minutes then`,
  };
};

/**
 * HTTPS turned off: the HTTPS listener goes, but the servers' nginx has sent
 * Strict-Transport-Security for a year, so returning browsers keep asking for https and fail.
 */
const httpsListenerGoes: Finder = (rc, kind, { environment }) => {
  if (addressOf(rc)?.type !== "aws_lb_listener" || kind !== "delete") return undefined;
  if (values(rc.change.before).port !== 443) return undefined;
  return {
    address: rc.address,
    blocks: false,
    message:
      `environments/${environment}: the HTTPS listener goes (loadBalancer.https false), but browsers that visited were ` +
      `told to use HTTPS for a year (Strict-Transport-Security): they keep asking for https:// and fail until it expires`,
  };
};

/**
 * A single server's database given a new name or user. Its database and user were made once, by
 * the boot script's `db-provision`, which is kept after creation (`ignore_changes`); only the
 * settings parameter changes, and the next deploy points the app at a database or user that does
 * not exist: its migrations fail, and so does every process start after it.
 */
const localDatabaseRenamed: Finder = (rc, kind, { environment, stack }) => {
  if (addressOf(rc)?.type !== "aws_ssm_parameter" || kind !== "update") return undefined;
  if (stack.output?.layout?.value !== "single-server") return undefined;
  const setting = (value: unknown, name: string) =>
    typeof value === "string" ? new RegExp(`^${name}=(.*)$`, "m").exec(value)?.[1] : undefined;
  const [before, after] = [values(rc.change.before).value, values(rc.change.after).value];
  const changed = [
    ["DB_NAME", "database.name"],
    ["DB_USER", "database.username"],
  ].filter(([name]) => setting(before, name) !== undefined && setting(before, name) !== setting(after, name));
  if (changed.length === 0) return undefined;
  return {
    address: rc.address,
    blocks: true,
    message:
      `environments/${environment}: ${changed.map(([name, field]) => `${field} ${setting(before, name)} -> ${setting(after, name)}`).join(", ")} ` +
      `changes only the settings the app reads: the server's database and user were made once, at its first boot, ` +
      `and stay as they are, so the next deploy's migrations fail and every process start after it. Keep the ` +
      `old ${changed.map(([, field]) => field).join(" and ")}, or rename on the server first (as its owner, in psql or mariadb)`,
  };
};

/** A server's root volume made smaller: EBS volumes only grow, so the apply fails on it. */
const rootVolumeShrinks: Finder = (rc, kind, { environment }) => {
  if (addressOf(rc)?.type !== "aws_instance" || kind !== "update") return undefined;
  const size = (value: unknown) => values((values(value).root_block_device as unknown[] | undefined)?.[0]).volume_size;
  const [before, after] = [size(rc.change.before), size(rc.change.after)];
  if (typeof before !== "number" || typeof after !== "number" || after >= before) return undefined;
  return {
    address: rc.address,
    blocks: true,
    message:
      `environments/${environment}: app.rootVolumeGb ${before} -> ${after} would shrink the server's root volume, ` +
      `which EBS refuses (volumes only grow): the apply would fail on it. Keep ${before} or more`,
  };
};

/**
 * The one app server of single-server or app-db-split replaced (an AZ list reordered moves it to
 * another subnet; a new type of another architecture): the site is down while the new one boots.
 * (A single server's database on its disk is guarded as data on its own.)
 */
const onlyServerReplaced: Finder = (rc, kind, { environment, stack }) => {
  if (addressOf(rc)?.type !== "aws_instance" || kind !== "replace") return undefined;
  if (stack.output?.layout?.value !== "app-db-split") return undefined;
  // forced by a changed attribute; one replaced on request (--replace) was asked for as it is
  const forcedBy = (rc.change.replace_paths ?? []).map((p) => p.join("."));
  if (forcedBy.length === 0) return undefined;
  return {
    address: rc.address,
    blocks: false,
    message:
      `environments/${environment}: the environment's only app server is replaced (forced by ${forcedBy.join(", ")}` +
      `${forcedBy.includes("subnet_id") ? ": network.availabilityZones' first AZ moved" : ""}): the site is down from its deletion until the new one has booted and deployed, minutes. Apply it at a quiet hour`,
  };
};

/**
 * A fixed server (single-server, app-db-split) keeps the boot script it was created with: its user
 * data is kept after creation (`ignore_changes`, so that a new release or AMI lookup does not
 * replace it), and a config change to what the script writes (nginx, the app's units, how many
 * processes, the deploy script) is planned as no change to it at all. It takes effect only when
 * the server is replaced. (A layout move is singleServerKept's.)
 */
const bootScriptKept: Finder = (rc, kind, context) => {
  const { environment, stack } = context;
  const scripts = keptBootScripts(rc, kind, context);
  // the release the script's first deploy installs is no change to it: the SSM association deploys
  // every later one
  if (!scripts || withoutRelease(scripts.running) === withoutRelease(scripts.written)) return undefined;
  const single = stack.output?.layout?.value === "single-server";
  return {
    address: rc.address,
    blocks: false,
    message:
      `environments/${environment}: ${rc.address} keeps the boot script it was created with (lifecycle.ignore_changes), ` +
      `and this config changes what that script writes (nginx, the app's units and processes, the deploy script): ` +
      `none of it reaches the server until it is replaced` +
      (single
        ? `, which replaces its disk and the database on it: take a dump and restore it after ` +
          `(docs/layouts.md#backups-and-restore-on-a-single-server), then npm run plan -- ${environment} --replace '${rc.address}' --allow-destroy`
        : `: npm run plan -- ${environment} --replace '${rc.address}', at a quiet hour (the site is down while the new one boots)`),
  };
};

/**
 * A fixed server this plan keeps (updated or unchanged, the layout the same), with the boot script
 * it was created with (its user data, kept after creation) and the one the config writes, decoded.
 */
function keptBootScripts(
  rc: ResourceChange,
  kind: ChangeKind,
  { stack, layoutBefore }: ReviewContext,
): { readonly running: string; readonly written: string } | undefined {
  const address = addressOf(rc);
  if (address?.type !== "aws_instance" || (kind !== "update" && kind !== "no-op") || layoutBefore !== undefined)
    return undefined;
  const running = values(rc.change.before).user_data_base64;
  const written = synthesizedResource(stack, address)?.values.user_data_base64;
  if (typeof running !== "string" || typeof written !== "string") return undefined;
  return { running: userDataScript(running), written: userDataScript(written) };
}

/**
 * The metric namespaces the servers of the `running` boot script publish to and those of the
 * `written` one, when the running one publishes to some and they differ.
 */
function movedNamespaces(running: string, written: string): { before: string[]; after: string[] } | undefined {
  const [before, after] = [publishedNamespaces(running), publishedNamespaces(written)];
  return before.length === 0 || before.join() === after.join() ? undefined : { before, after };
}

/** The metric namespaces a boot script's servers publish to: the agent's configuration, the `aws` CLI's calls. */
export function publishedNamespaces(script: string): string[] {
  const found = [
    ...[...script.matchAll(/^\s*"namespace": "([^"]+)",?$/gm)].map((m) => m[1]),
    ...[...script.matchAll(/put-metric-data (?:--region \S+ )?--namespace (\S+)/g)].map((m) => m[1]),
  ];
  return [...new Set(found)].sort();
}

/**
 * The servers' metric namespaces moved (`monitoring.metricNamespaces`), while a server keeps the
 * boot script it was created with (single-server, app-db-split: `ignore_changes`). The alarms, the
 * dashboard and what the role may publish to move at this apply; the server goes on publishing
 * where it did, now refused: its health and backup alarms fire within minutes (no data counts as
 * failing), and its memory and disk alarms go blind. A fleet's servers are replaced by the
 * instance refresh this same change starts, each publishing to the new namespaces once it boots.
 */
const metricNamespacesMoved: Finder = (rc, kind, context) => {
  const { environment, stack } = context;
  const scripts = keptBootScripts(rc, kind, context);
  const moved = scripts && movedNamespaces(scripts.running, scripts.written);
  if (!moved) return undefined;
  const { before, after } = moved;
  const toShared = after.every((ns) => !ns.includes("/"));
  const single = stack.output?.layout?.value === "single-server";
  return {
    address: rc.address,
    blocks: true,
    message:
      `environments/${environment}: ${rc.address} publishes its metrics to ${before.join(", ")} (its boot script is kept ` +
      `after creation), and this plan moves its alarms, its dashboard and what its role may publish to, to ` +
      `${after.join(", ")}: its app-health, app-agent-silent${single ? " and db-backup-missing" : ""} alarms would fire within minutes and its ` +
      `memory and disk alarms go blind. ` +
      (toShared
        ? `Take monitoring.metricNamespaces: shared out of environments/${environment}/config.yaml (the server publishes ` +
          `to its environment's own), or replace it in this plan: `
        : `Set monitoring.metricNamespaces: shared in environments/${environment}/config.yaml until the server is ` +
          `replaced, or replace it in this plan: `) +
      `npm run plan -- ${environment} --replace '${rc.address}'` +
      (single ? ` --allow-destroy, after a dump (docs/layouts.md#backups-and-restore-on-a-single-server)` : ``) +
      ` (docs/monitoring.md#metric-namespaces)`,
  };
};

/**
 * The same move on a fleet: the launch template's new boot script publishes to the new
 * namespaces, and the instance refresh this apply starts replaces every server. Until the last old
 * one leaves, it publishes where the alarms no longer read (and is refused): `app-agent-silent`
 * may fire once, then clears.
 */
const fleetMetricNamespacesMoved: Finder = (rc, kind, { environment }) => {
  if (addressOf(rc)?.type !== "aws_launch_template" || kind !== "update") return undefined;
  const [running, written] = [values(rc.change.before).user_data, values(rc.change.after).user_data];
  if (typeof running !== "string" || typeof written !== "string") return undefined;
  const moved = movedNamespaces(userDataScript(running), userDataScript(written));
  if (!moved || moved.after.length === 0) return undefined;
  const { before, after } = moved;
  return {
    address: rc.address,
    blocks: false,
    message:
      `environments/${environment}: the app servers' metrics move from ${before.join(", ")} to ${after.join(", ")}; ` +
      `the instance refresh this apply starts replaces every server, and until the last old one leaves ` +
      `app-agent-silent may fire (old servers publish where the alarms no longer read), then clears ` +
      `(docs/monitoring.md#metric-namespaces)`,
  };
};

/**
 * A run of the OS update (src/constructs/os-update.ts): its association is created or replaced
 * when the apply runs `dnf upgrade` on the fixed server, which it then reboots if the update needs
 * it, a minute or so in which it answers nothing. A note, so that whoever applies it picks the
 * moment: for a new release, a first one, or a server replaced (the run is made again for it). Not
 * for a change of the command's code alone, whose run installs nothing; and a release older than
 * the last is said to install nothing (dnf never downgrades).
 */
const osUpdateRuns: Finder = (rc, kind, { environment, stack, plan }) => {
  const address = addressOf(rc);
  if (address?.type !== "aws_ssm_association" || (kind !== "create" && kind !== "replace")) return undefined;
  const name = String(synthesizedResource(stack, address)?.values.name ?? "");
  const documentName = /^\$\{aws_ssm_document\.([A-Za-z0-9_-]+)\.name\}$/.exec(name)?.[1];
  if (!documentName) return undefined;
  const release = osUpdateRelease(stack.resource?.aws_ssm_document?.[documentName]?.content);
  if (!release) return undefined;
  const documentChange = plan.resource_changes?.find((c) => c.address === `aws_ssm_document.${documentName}`);
  const documentKind = documentChange ? kindOf(documentChange.change.actions) : "no-op";
  const before =
    documentKind === "update" || documentKind === "replace"
      ? osUpdateRelease(values(documentChange?.change.before).content)
      : undefined;
  // a fixed server's stack has one instance: replaced, the run is for the new one (review CF)
  const serverReplaced = (plan.resource_changes ?? []).some(
    (c) => c.type === "aws_instance" && kindOf(c.change.actions) === "replace",
  );
  const where = `environments/${environment}: ${rc.address}`;
  if (!serverReplaced && before === release) return undefined;
  if (!serverReplaced && before && before.localeCompare(release, "en", { numeric: true }) > 0) {
    return {
      address: rc.address,
      blocks: false,
      message:
        `${where} names Amazon Linux 2023 ${release}, older than the ${before} an earlier apply set: dnf never downgrades, ` +
        `so its run installs nothing and reboots nothing; the server stays on its release (docs/operations.md#os-updates)`,
    };
  }
  const what = serverReplaced
    ? `runs the OS update to Amazon Linux 2023 ${release} on the server this apply replaces`
    : `updates the server's packages to Amazon Linux 2023 ${release}` +
      (before ? ` (from the ${before} an earlier apply set)` : "");
  return {
    address: rc.address,
    blocks: false,
    message:
      `${where} ${what} and reboots it if the update needs it: about a minute in which it answers nothing; ` +
      `apply at a quiet time (docs/operations.md#os-updates)`,
  };
};

/** The release an OS update command's content names (`release=<v>` in its one step), or undefined. */
function osUpdateRelease(content: unknown): string | undefined {
  if (typeof content !== "string") return undefined;
  try {
    const step = (
      JSON.parse(content) as { mainSteps?: { name?: string; inputs?: { runCommand?: unknown } }[] }
    ).mainSteps?.find((s) => s.name === OS_UPDATE_STEP);
    const lines = Array.isArray(step?.inputs?.runCommand) ? (step.inputs.runCommand as unknown[]) : [];
    const line = lines.find((l): l is string => typeof l === "string" && l.startsWith("release="));
    return line?.slice("release=".length);
  } catch {
    return undefined;
  }
}

/** A boot script with the release of its first deploy (version and sha256) blanked out. */
function withoutRelease(script: string): string {
  return script
    .replace(
      new RegExp(`/${DEPLOY_SCRIPT} \\S+( [0-9a-f]{64})? \\|\\| first_deploy=`, "g"),
      `/${DEPLOY_SCRIPT} <release> || first_deploy=`,
    )
    .replace(/the first deploy of \S+ failed/g, "the first deploy of <release> failed");
}

/**
 * The roles' permissions boundary (src/constructs/role-boundary.ts) made or changed: what the
 * servers may do grows or shrinks. A deploy role may neither make it nor write a new version of it
 * (src/ops/pipeline-iam.ts: BOUNDARY_WRITES_FOR_ADMINS), nor take it off a role, so its apply would
 * stop half-way, with the changes before it made: blocked for a deploy role, noted for an
 * administrator, who applies it. Tags alone are a deploy role's to change; a document known only
 * after the apply may change.
 */
const boundaryWritten: Finder = (rc, kind, { environment, deployRole }) => {
  const type = addressOf(rc)?.type;
  if (addressOf(rc)?.mode === "data" || (type !== "aws_iam_policy" && type !== "aws_iam_role")) return undefined;
  if (kind !== "create" && kind !== "replace" && kind !== "update") return undefined;
  const before = values(rc.change.before);
  const after = values(rc.change.after);
  const unknown = values(rc.change.after_unknown);
  let what: string;
  if (type === "aws_iam_role") {
    // A role whose boundary comes off (code from before the boundary, a rollback past it): the
    // provider calls iam:DeleteRolePermissionsBoundary, which no deploy role may (review BQ).
    if (kind !== "update" || !before.permissions_boundary || after.permissions_boundary || unknown.permissions_boundary)
      return undefined;
    what = "takes the permissions boundary off a role (code from before it: a rollback past the boundary)";
  } else {
    if (kind === "update" && unknown.policy !== true && before.policy === after.policy) return undefined;
    what =
      kind === "create"
        ? "makes the permissions boundary of its roles"
        : "changes the permissions boundary of its roles (what its servers may do)";
  }
  const how =
    `apply it with an administrator's credentials: npm run plan -- ${environment}, then the apply it prints ` +
    `(docs/ci-cd.md#the-roles-permissions-boundary)`;
  return {
    address: rc.address,
    blocks: deployRole,
    message: deployRole
      ? `environments/${environment}: this plan ${what} (${rc.address}), which a deploy role may not write: its ` +
        `apply would stop there, half done. Do not apply it here; ${how}. Then deploy again.`
      : `environments/${environment}: this plan ${what} (${rc.address}): a deploy role may not write it, so CI's ` +
        `deploy of this change stops before its apply; ${how}.`,
  };
};

/** Every check of one change for what looks safe but is not. */
const FINDINGS: readonly Finder[] = [
  architectureSwitch,
  desiredIgnored,
  singleServerLeaves,
  singleServerKept,
  targetPortMoves,
  healthPathMoves,
  protectionOff,
  engineMajorUpgrade,
  vpcReplaced,
  logsShortened,
  dbChangeWaits,
  httpsListenerGoes,
  localDatabaseRenamed,
  rootVolumeShrinks,
  onlyServerReplaced,
  bootScriptKept,
  metricNamespacesMoved,
  fleetMetricNamespacesMoved,
  osUpdateRuns,
  boundaryWritten,
];

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
    (c.forget > 0 ? `, ${c.forget} to forget` : "") +
    ` (${extra.filter(Boolean).join(", ")})`
  );
}

/** What forgetting means, said once above the list. */
const FORGOTTEN =
  "left running in AWS and no longer managed by Terraform (a removed block with destroy = false): nothing is destroyed, " +
  "and it keeps costing until you delete it by hand or import it again";

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
  for (const roll of review.fleetRolls) {
    out.push(
      "",
      `Rolls every app server (instance refresh): ${roll.address}${roll.constructPath ? ` (${roll.constructPath})` : ""}, because:`,
    );
    out.push(...roll.causes.map((c) => `  - ${c}`));
  }
  if (review.forgotten.length > 0) {
    out.push(
      "",
      `Forgotten (${review.forgotten.length}), ${FORGOTTEN}:`,
      ...review.forgotten.map((c) => `  - ${line(c)}`),
    );
  }
  if (review.unknownActions.length > 0) {
    out.push("", "Actions this review does not know (read them in the plan):");
    out.push(...review.unknownActions.map((a) => `  - ${a}`));
  }
  const notes = review.findings.filter((f) => !f.blocks);
  if (notes.length > 0) {
    out.push("", "Changes that look safe but are not:", ...notes.map((f) => `  - ${f.message}`));
  }
  if (review.endangered.length > 0) {
    out.push(
      "",
      `${WARNING} WARNING: this plan destroys ${review.endangered.length} resource(s) that hold data or state ${WARNING}`,
    );
    for (const c of review.endangered) out.push(`${WARNING}   ${c.kind} ${c.address}: ${c.holdsData.join("; ")}`);
    out.push(
      review.allowDestroy
        ? `${WARNING} Allowed by --allow-destroy: applying this plan loses that data unless it is backed up.`
        : `${WARNING} BLOCKED. If this is intended, re-run with --allow-destroy: npm run plan -- ${stackName} --allow-destroy`,
    );
  }
  for (const finding of review.findings.filter((f) => f.blocks)) {
    out.push("", `${WARNING} BLOCKED: ${finding.message}`);
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
    "| create | update | replace | delete | forget | unchanged |",
    "|---:|---:|---:|---:|---:|---:|",
    `| ${c.create} | ${c.update} | ${c.replace} | ${c.delete} | ${c.forget} | ${c.unchanged} |`,
  ];
  if (cost) {
    const changed = changedLines(cost);
    out.push(
      "",
      `**Monthly cost** (on-demand estimate, prices of ${cost.after.pricesDate}): ${costChangeSummary(cost)}`,
      ...(changed.length > 0 ? ["", ...changed.map((l) => `- ${l}`)] : []),
    );
  }
  const blocking = review.findings.filter((f) => f.blocks);
  if (blocking.length > 0) {
    out.push("", "> [!CAUTION]", "> **Blocked: applying this plan would fail half-way.**", ">");
    out.push(...blocking.map((f) => `> - ${f.message}`));
  }
  if (review.endangered.length > 0) {
    out.push(
      "",
      "> [!CAUTION]",
      `> **This plan destroys ${review.endangered.length} resource(s) that hold data or state.**` +
        (review.allowDestroy
          ? " Allowed by `--allow-destroy`."
          : " Blocked: re-run with `--allow-destroy` if this is intended."),
      ">",
      ...review.endangered.map((e) => `> - **${e.kind}** \`${e.address}\`: ${e.holdsData.join("; ")}`),
    );
  }
  const notes = review.findings.filter((f) => !f.blocks);
  if (notes.length > 0) {
    out.push(
      "",
      "> [!WARNING]",
      "> **Changes that look safe but are not**",
      ">",
      ...notes.map((f) => `> - ${f.message}`),
    );
  }
  for (const [title, list] of [
    ["Replaced", review.replaced],
    ["Deleted", review.deleted],
    ["Forgotten", review.forgotten],
  ] as const) {
    if (list.length === 0) continue;
    out.push("", `#### ${title}`, "");
    if (title === "Forgotten") out.push(`${FORGOTTEN.charAt(0).toUpperCase()}${FORGOTTEN.slice(1)}.`, "");
    out.push("| resource | construct | why |", "|---|---|---|");
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
  for (const roll of review.fleetRolls) {
    out.push("", `#### Rolls every app server (instance refresh)`, "", `\`${roll.address}\`, because:`, "");
    out.push(...roll.causes.map((c) => `- ${c}`));
  }
  if (review.unknownActions.length > 0) {
    out.push("", "#### Actions this review does not know", "", ...review.unknownActions.map((a) => `- \`${a}\``));
  }
  return `${out.join("\n")}\n`;
}
