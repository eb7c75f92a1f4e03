import type { PlanDocument } from "../ops/plan-json";
import type { PricedResource } from "./estimate";

/** The managed resources of a synthesized stack (`cdk.tf.json`), for `estimateCost`. */
export function stackResources(doc: { readonly resource?: Readonly<Record<string, unknown>> }): PricedResource[] {
  const out: PricedResource[] = [];
  for (const [type, byName] of Object.entries(doc.resource ?? {})) {
    for (const [name, values] of Object.entries((byName ?? {}) as Record<string, Record<string, unknown>>)) {
      out.push({ type, name, values });
    }
  }
  return out;
}

/** The number of managed resources a synthesized stack declares. */
export function resourceCount(doc: { readonly resource?: Readonly<Record<string, unknown>> }): number {
  return Object.values(doc.resource ?? {}).reduce<number>((n, byName) => n + Object.keys(byName ?? {}).length, 0);
}

/**
 * The managed resources a plan starts from (`before`: what the state holds) and ends with
 * (`after`: what exists once it is applied), from its `resource_changes`. Values known only after
 * apply are absent from `after`; the estimate reads none of those.
 */
export function planResources(plan: PlanDocument): { before: PricedResource[]; after: PricedResource[] } {
  const before: PricedResource[] = [];
  const after: PricedResource[] = [];
  for (const rc of plan.resource_changes ?? []) {
    if ((rc.mode ?? "managed") !== "managed" || !rc.type || rc.deposed !== undefined) continue;
    const name = rc.name ?? rc.address;
    if (isValues(rc.change.before)) before.push({ type: rc.type, name, values: rc.change.before });
    if (isValues(rc.change.after)) after.push({ type: rc.type, name, values: rc.change.after });
  }
  return { before, after };
}

function isValues(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
