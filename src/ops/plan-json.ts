import type { StackDocument } from "../policy/types";

// Terraform's JSON plan representation (`terraform show -json <planfile>`), as far as the plan review
// and the drift report read it, and the pure helpers both need: change kinds, resource addresses,
// attribute paths and attribute-level diffs.
// Format: https://developer.hashicorp.com/terraform/internals/json-format

/** A `<change-representation>`: what happens to one object. */
export interface Change {
  /** `["no-op"]`, `["create"]`, `["read"]`, `["update"]`, `["delete","create"]`, `["create","delete"]`, `["delete"]`, ... */
  readonly actions: readonly string[];
  readonly before?: unknown;
  readonly after?: unknown;
  /** Same shape as `after`, `true` at each value known only after apply. */
  readonly after_unknown?: unknown;
  /** Same shape as the values, `true` at each sensitive leaf (or `true` for the whole value). */
  readonly before_sensitive?: unknown;
  readonly after_sensitive?: unknown;
  /** The attribute paths that force a replacement. */
  readonly replace_paths?: ReadonlyArray<ReadonlyArray<string | number>>;
}

/** One entry of `resource_changes` or `resource_drift`. */
export interface ResourceChange {
  /** `aws_db_instance.Database_Instance_02E622FB`, `module.a.aws_x.y[0]`, `aws_x.y["key"]` */
  readonly address: string;
  readonly previous_address?: string;
  readonly module_address?: string;
  readonly mode?: string;
  readonly type?: string;
  readonly name?: string;
  readonly index?: string | number;
  /** Set when the change applies to a deposed object (left over from a create-before-destroy). */
  readonly deposed?: string;
  readonly change: Change;
  /** Why these actions: `replace_because_cannot_update`, `delete_because_no_resource_config`, ... */
  readonly action_reason?: string;
}

/** The top-level plan representation. */
export interface PlanDocument {
  readonly format_version: string;
  readonly terraform_version?: string;
  readonly resource_changes?: readonly ResourceChange[];
  readonly resource_drift?: readonly ResourceChange[];
  /** Each root output's change: the change representation itself (`actions`, `before`, `after`). */
  readonly output_changes?: Readonly<Record<string, Change>>;
  /** The state the plan started from; Terraform leaves it out when that state holds nothing. */
  readonly prior_state?: { readonly values?: { readonly root_module?: StateModule } };
  readonly errored?: boolean;
}

/** A module of a state in JSON: its resources (managed and data) and its child modules. */
export interface StateModule {
  readonly resources?: ReadonlyArray<{
    readonly mode?: string;
    readonly address?: string;
    readonly type?: string;
    readonly values?: Readonly<Record<string, unknown>>;
  }>;
  readonly child_modules?: readonly StateModule[];
}

/** A resource of a state in JSON. */
export type StateResource = NonNullable<StateModule["resources"]>[number];

/** The managed resources of the state a plan started from (the refreshed one), its child modules' too. */
export function priorStateResources(plan: PlanDocument): StateResource[] {
  const managed = (module: StateModule | undefined): StateResource[] => [
    ...(module?.resources ?? []).filter((r) => r.mode === "managed"),
    ...(module?.child_modules ?? []).flatMap(managed),
  ];
  return managed(plan.prior_state?.values?.root_module);
}

/**
 * How many managed resources the state a plan started from holds: 0 for a state that is empty
 * or not there at all (an environment never applied, or a backend pointed at another key), not
 * for one whose resources were all deleted outside Terraform.
 */
export function priorManagedResources(plan: PlanDocument): number {
  // The prior state is the refreshed one: resources deleted outside Terraform are gone from it,
  // and listed in resource_drift. They were in the state all the same.
  const deletedOutside = (plan.resource_drift ?? []).filter(
    (rc) => rc.mode !== "data" && rc.change.actions.includes("delete"),
  ).length;
  return priorStateResources(plan).length + deletedOutside;
}

/** A synthesized stack (`cdk.tf.json`) as the reviews read it: resources with their lifecycle, and outputs. */
export interface SynthesizedStack extends StackDocument {
  readonly output?: Record<string, { readonly value?: unknown }>;
}

/**
 * Parses `terraform show -json` output and checks that it is a plan this code understands:
 * format version 1.x (the documented promise: a new major may break readers) and well-formed changes.
 * `source` names where the text came from, for the error message.
 */
export function parsePlanDocument(text: string, source: string): PlanDocument {
  let doc: any;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new Error(`${source} is not JSON: ${(error as Error).message}`);
  }
  const version = typeof doc?.format_version === "string" ? doc.format_version : undefined;
  if (!version) throw new Error(`${source} is not a Terraform plan in JSON (no format_version)`);
  if (version.split(".")[0] !== "1") {
    throw new Error(`${source} has plan format_version ${version}; this review reads format 1.x only`);
  }
  for (const key of ["resource_changes", "resource_drift"] as const) {
    const list = doc[key] ?? [];
    if (!Array.isArray(list)) throw new Error(`${source}: ${key} must be a list`);
    list.forEach((entry: any, i: number) => {
      if (typeof entry?.address !== "string" || !Array.isArray(entry?.change?.actions)) {
        throw new Error(`${source}: ${key}[${i}] has no address or change.actions`);
      }
    });
  }
  if (doc.errored === true) throw new Error(`${source} is the plan of a run that errored; it cannot be reviewed`);
  return doc as PlanDocument;
}

// ---- Change kinds ----

/**
 * What a change does to an object, in the words of a plan summary. `forget`: Terraform drops the
 * object from its state and leaves it running (a `removed` block with `destroy = false`).
 */
export type ChangeKind = "create" | "update" | "replace" | "delete" | "forget" | "no-op" | "read" | "other";

/**
 * Classifies a change's `actions`; both replace orders are `replace`; `forget`, and `create,forget`
 * (a new object replaces one that is left running), are `forget`; anything new is `other`.
 */
export function kindOf(actions: readonly string[]): ChangeKind {
  const key = actions.join(",");
  switch (key) {
    case "create":
    case "update":
    case "delete":
    case "no-op":
    case "read":
      return key;
    case "delete,create":
    case "create,delete":
      return "replace";
    case "forget":
    case "create,forget":
      return "forget";
    default:
      return "other";
  }
}

/** Why a change was planned, in plain words; an unknown reason is shown as Terraform wrote it. */
export function describeReason(reason: string | undefined): string | undefined {
  if (!reason) return undefined;
  const words: Record<string, string> = {
    replace_because_tainted: "tainted by a failed apply",
    replace_because_cannot_update: "an attribute cannot be changed in place",
    replace_by_request: "replacement requested (-replace)",
    delete_because_no_resource_config: "no longer in the code",
    delete_because_no_module: "its module is no longer in the code",
    delete_because_wrong_repetition: "its count/for_each mode changed",
    delete_because_count_index: "its index is beyond the new count",
    delete_because_each_key: "its key left the for_each",
    delete_because_no_move_target: "the target of its moved block is gone",
  };
  return words[reason] ?? reason;
}

// ---- Addresses ----

/** The parts of a resource instance address. */
export interface ResourceAddress {
  /** `module.a.module.b[0]`, absent in the root module. */
  readonly module?: string;
  readonly mode: "managed" | "data";
  readonly type: string;
  readonly name: string;
  /** The count index or for_each key, when there is one. */
  readonly index?: string | number;
}

/** One step of a traversal: an attribute name or an index (`[0]`, `["key"]`). */
type Step = { readonly attr: string } | { readonly index: string | number };

/**
 * Reads a traversal such as `module.a["x"].aws_s3_bucket.logs[0]` or `tags["Owner"]` into steps.
 * Throws on anything else, naming `what` was being read.
 */
function traversalSteps(text: string, what: string): Step[] {
  const steps: Step[] = [];
  const pattern = /\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/y;
  let at = 0;
  while (at < text.length) {
    pattern.lastIndex = at;
    const match = pattern.exec(text);
    // an attribute step starts with a dot, except the first
    if (!match || (match[1] !== undefined && (at === 0) === match[0].startsWith("."))) {
      throw new Error(`not a valid ${what}: ${text}`);
    }
    if (match[1] !== undefined) steps.push({ attr: match[1] });
    else if (match[2] !== undefined) steps.push({ index: Number(match[2]) });
    else steps.push({ index: JSON.parse(match[3]) as string });
    at = pattern.lastIndex;
  }
  if (steps.length === 0) throw new Error(`not a valid ${what}: (empty)`);
  return steps;
}

/** Splits a resource instance address into module path, mode, type, name and index. */
export function parseAddress(address: string): ResourceAddress {
  const steps = traversalSteps(address, "resource address");
  const fail = () => new Error(`not a valid resource address: ${address}`);
  const nameOf = (step: Step | undefined) => (step && "attr" in step ? step.attr : undefined);
  let at = 0;
  const modules: string[] = [];
  while (nameOf(steps[at]) === "module" && steps.length - at > 3) {
    const name = nameOf(steps[at + 1]);
    if (!name) throw fail();
    let part = `module.${name}`;
    at += 2;
    if (steps[at] && "index" in steps[at]) part += formatIndex((steps[at++] as { index: string | number }).index);
    modules.push(part);
  }
  const mode = nameOf(steps[at]) === "data" && steps.length - at >= 3 ? "data" : "managed";
  if (mode === "data") at += 1;
  const type = nameOf(steps[at]);
  const name = nameOf(steps[at + 1]);
  const rest = steps.slice(at + 2);
  if (!type || !name || rest.length > 1 || (rest.length === 1 && !("index" in rest[0]))) throw fail();
  const index = rest.length === 1 ? (rest[0] as { index: string | number }).index : undefined;
  return {
    ...(modules.length > 0 ? { module: modules.join(".") } : {}),
    mode,
    type,
    name,
    ...(index !== undefined ? { index } : {}),
  };
}

/**
 * The address of a plan entry: Terraform's own `mode`/`type`/`name` fields where it wrote them,
 * otherwise parsed from `address`; `undefined` for an address this code cannot read (a review
 * must not fail on one).
 */
export function addressOf(
  rc: Pick<ResourceChange, "address" | "mode" | "type" | "name" | "index" | "module_address">,
): ResourceAddress | undefined {
  let parsed: ResourceAddress | undefined;
  try {
    parsed = parseAddress(rc.address);
  } catch {
    parsed = undefined;
  }
  if (!rc.type || !rc.name) return parsed;
  return {
    ...(rc.module_address ? { module: rc.module_address } : {}),
    mode: rc.mode === "data" ? "data" : "managed",
    type: rc.type,
    name: rc.name,
    ...(rc.index !== undefined ? { index: rc.index } : {}),
  };
}

/** A synthesized resource block and where it came from in the code. */
export interface SynthesizedResource {
  readonly values: Record<string, any>;
  /** The construct path inside the stack, e.g. `Database/Instance`. */
  readonly constructPath?: string;
}

/**
 * The synthesized block behind a plan address, if the address is in the root module (cdktf puts
 * every resource there; a module's resources are not in `cdk.tf.json`). Every instance of a
 * `count`/`for_each` resource maps to its one block.
 */
export function synthesizedResource(
  stack: SynthesizedStack,
  address: ResourceAddress | undefined,
): SynthesizedResource | undefined {
  if (!address || address.module || address.mode !== "managed") return undefined;
  const parsed = address;
  const values = stack.resource?.[parsed.type]?.[parsed.name];
  if (!values) return undefined;
  const path: unknown = values["//"]?.metadata?.path;
  return {
    values,
    constructPath: typeof path === "string" ? path.split("/").slice(1).join("/") : undefined,
  };
}

// ---- Attribute paths and diffs ----

/** A path into an object value: attribute names and list indexes, as in `replace_paths`. */
export type AttributePath = ReadonlyArray<string | number>;

function formatIndex(key: string | number): string {
  return typeof key === "number" ? `[${key}]` : `[${JSON.stringify(key)}]`;
}

/** `tags.Owner`, `root_block_device[0].volume_size`, `tags["kubernetes.io/role"]`. */
export function formatPath(path: AttributePath): string {
  return path
    .map((step, i) => {
      if (typeof step === "number") return `[${step}]`;
      if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(step)) return formatIndex(step);
      return i === 0 ? step : `.${step}`;
    })
    .join("");
}

/** Reads an `ignore_changes` entry (`desired_capacity`, `tags["Owner"]`, `tags.Owner`) into a path. */
export function parseAttributePath(text: string): AttributePath {
  return traversalSteps(text, "attribute path").map((step) => ("attr" in step ? step.attr : step.index));
}

/** `path` is `prefix` or lies inside it. */
export function isWithin(path: AttributePath, prefix: AttributePath): boolean {
  return prefix.length <= path.length && prefix.every((step, i) => step === path[i]);
}

/** One attribute whose value differs between `before` and `after`. */
export interface AttributeChange {
  readonly path: AttributePath;
  readonly before: unknown;
  readonly after: unknown;
  /** Either value is marked sensitive: show neither. */
  readonly sensitive: boolean;
}

/**
 * The leaf attributes that differ between a change's `before` and `after`: objects are compared key
 * by key and lists of equal length item by item; a list that grew or shrank is one change. Absent
 * and `null` count as equal, as Terraform shows them.
 */
export function attributeChanges(change: Change): AttributeChange[] {
  const found: Array<Omit<AttributeChange, "sensitive">> = [];
  diff(change.before ?? null, change.after ?? null, [], found);
  return found.map((c) => ({
    ...c,
    sensitive: isSensitive(change.before_sensitive, c.path) || isSensitive(change.after_sensitive, c.path),
  }));
}

function diff(
  before: unknown,
  after: unknown,
  path: Array<string | number>,
  found: Array<Omit<AttributeChange, "sensitive">>,
) {
  if (sameValue(before, after)) return;
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    for (const key of keys) diff(before[key] ?? null, after[key] ?? null, [...path, key], found);
  } else if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    before.forEach((item, i) => diff(item ?? null, after[i] ?? null, [...path, i], found));
  } else {
    found.push({ path, before, after });
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function sameValue(a: unknown, b: unknown): boolean {
  if ((a ?? null) === null || (b ?? null) === null) return (a ?? null) === (b ?? null);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].every((k) => sameValue(a[k], b[k]));
  }
  return a === b;
}

/** Whether a `*_sensitive` mask marks `path` (or anything that contains it) as sensitive. */
function isSensitive(mask: unknown, path: AttributePath): boolean {
  let node = mask;
  for (const step of path) {
    if (node === true) return true;
    if (typeof node !== "object" || node === null) return false;
    node = (node as Record<string | number, unknown>)[step];
  }
  return node === true || (typeof node === "object" && node !== null && containsTrue(node));
}

function containsTrue(node: object): boolean {
  return Object.values(node).some((v) => v === true || (typeof v === "object" && v !== null && containsTrue(v)));
}

/** A value for a one-line report: JSON, shortened; `(none)` for absent or null. */
export function displayValue(value: unknown, sensitive = false, width = 60): string {
  if (sensitive) return "(sensitive)";
  if (value === undefined || value === null) return "(none)";
  const text = JSON.stringify(value);
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}
