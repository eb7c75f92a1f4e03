import type { Change, PlanDocument, ResourceChange } from "../../src/ops/plan-json";

// Plan documents for the tests. They are CONSTRUCTED here, by hand, after Terraform's documented
// `terraform show -json` format (https://developer.hashicorp.com/terraform/internals/json-format).
// Their shape is checked against a plan a real Terraform 1.11.4 wrote (fixtures/, made with the
// built-in terraform_data resource, which needs no provider): see real-plan.test.ts.

/** The identifying fields Terraform writes beside `address` (root-module, managed resources). */
function identity(address: string): Pick<ResourceChange, "address" | "mode" | "type" | "name" | "index"> {
  const match = /^(?:data\.)?([a-z0-9_]+)\.([A-Za-z0-9_-]+)(?:\[(\d+|"[^"]*")\])?$/.exec(address);
  if (!match) return { address };
  const [, type, name, index] = match;
  return {
    address,
    mode: address.startsWith("data.") ? "data" : "managed",
    type,
    name,
    ...(index !== undefined ? { index: JSON.parse(index) as string | number } : {}),
  };
}

type Extra = Partial<Omit<ResourceChange, "address" | "change">> & Partial<Omit<Change, "actions">>;

/** One `resource_changes` / `resource_drift` entry. */
export function resourceChange(address: string, actions: string[], extra: Extra = {}): ResourceChange {
  const { before, after, before_sensitive, after_sensitive, replace_paths, ...entry } = extra;
  return {
    ...identity(address),
    ...entry,
    change: {
      actions,
      before: before ?? null,
      after: after ?? null,
      after_unknown: {},
      before_sensitive: before_sensitive ?? false,
      after_sensitive: after_sensitive ?? false,
      ...(replace_paths ? { replace_paths } : {}),
    },
  };
}

export const create = (address: string, after: Record<string, unknown> = {}) =>
  resourceChange(address, ["create"], { after });
export const update = (address: string, before: Record<string, unknown>, after: Record<string, unknown>) =>
  resourceChange(address, ["update"], { before, after });
export const unchanged = (address: string, values: Record<string, unknown> = {}) =>
  resourceChange(address, ["no-op"], { before: values, after: values });
export const destroy = (address: string, before: Record<string, unknown> = {}, action_reason?: string) =>
  resourceChange(address, ["delete"], { before, ...(action_reason ? { action_reason } : {}) });
export const read = (address: string) => resourceChange(address, ["read"], { after: {} });
/** A replacement, destroy-first by default (Terraform's default order). */
export const replace = (
  address: string,
  replace_paths: Array<Array<string | number>>,
  order: "delete-first" | "create-first" = "delete-first",
) =>
  resourceChange(address, order === "delete-first" ? ["delete", "create"] : ["create", "delete"], {
    before: {},
    after: {},
    replace_paths,
    action_reason: "replace_because_cannot_update",
  });

/** An output's change: its actions, or its actions with the values before and after. */
type OutputChange = string[] | { actions: string[]; before?: unknown; after?: unknown };

/**
 * A plan as `terraform show -json` prints it, with only the parts given. It starts from a state
 * that holds resources (`prior_state`: one managed resource, and each that the plan changes other
 * than by creating it), unless `emptyState`: then, as Terraform does, it has no `prior_state`.
 */
export function planDocument(parts: {
  resourceChanges?: ResourceChange[];
  resourceDrift?: ResourceChange[];
  outputChanges?: Record<string, OutputChange>;
  emptyState?: boolean;
}): PlanDocument {
  const existing = (parts.resourceChanges ?? []).filter((rc) => rc.change.actions.join() !== "create");
  const priorState = {
    format_version: "1.0",
    terraform_version: "1.11.4",
    values: {
      root_module: {
        resources: [
          { address: "aws_vpc.prior", mode: "managed" },
          ...existing.map((rc) => ({ address: rc.address, mode: rc.mode ?? "managed" })),
        ],
      },
    },
  };
  const output = (change: OutputChange) => {
    const { actions, before = null, after = "x" } = Array.isArray(change) ? { actions: change } : change;
    // Terraform writes the change representation itself under the output's name (no `change` key).
    return { actions, before, after, after_unknown: false, before_sensitive: false, after_sensitive: false };
  };
  return {
    format_version: "1.2",
    terraform_version: "1.11.4",
    ...(parts.resourceDrift ? { resource_drift: parts.resourceDrift } : {}),
    resource_changes: parts.resourceChanges ?? [],
    ...(parts.emptyState ? {} : { prior_state: priorState }),
    ...(parts.outputChanges
      ? {
          output_changes: Object.fromEntries(
            Object.entries(parts.outputChanges).map(([name, change]) => [name, output(change)]),
          ),
        }
      : {}),
  };
}
