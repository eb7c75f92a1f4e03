import type { EnvironmentConfig } from "../config/load";
import { COST_DEFAULTS, type CostAssumptions } from "../config/schema";
import { estimateCost, formatUsd, type Estimate, type PricedResource } from "./estimate";
import { SHIPPED_PRICES, type PriceTable } from "./price-table";
import { planResources, stackResources } from "./resources";
import type { PlanDocument } from "../ops/plan-json";

/** The estimate of an environment from its synthesized stack. */
export function environmentEstimate(
  env: Pick<EnvironmentConfig, "region" | "cost">,
  doc: { readonly resource?: Readonly<Record<string, unknown>> },
  table: PriceTable = SHIPPED_PRICES,
): Estimate {
  return estimateCost(stackResources(doc), env.region, env.cost, table);
}

/** `$1,234.56`, or `>= $1,234.56 (incomplete)` when some line has no price. */
export function totalText(estimate: Estimate): string {
  return estimate.complete ? formatUsd(estimate.total) : `>= ${formatUsd(estimate.total)} (incomplete)`;
}

/** The lines of an estimate as a plain-text table, then the total and what it rests on. */
export function estimateText(name: string, estimate: Estimate, table: PriceTable = SHIPPED_PRICES): string {
  const rows = estimate.lines.map((l) => [
    l.item,
    l.monthly === undefined ? "no price" : formatUsd(l.monthly),
    l.monthly === undefined
      ? `${l.detail}: ${l.missing}`
      : `${l.detail}${l.basis === "derived" ? " [derived price]" : ""}`,
  ]);
  const width = (i: number) => Math.max(...rows.map((r) => r[i].length), 0);
  const [w0, w1] = [width(0), width(1)];
  const out = [`${name} (${estimate.region}): ${totalText(estimate)} a month, on-demand, estimated`];
  for (const [item, amount, detail] of rows) out.push(`  ${item.padEnd(w0)}  ${amount.padStart(w1)}  ${detail}`);
  const missing = estimate.lines.filter((l) => l.monthly === undefined);
  if (missing.length > 0) {
    out.push(
      `  ${missing.length} line(s) have no price in the table: the total leaves them out. ` +
        "Add them to src/cost/prices.json or run npm run cost -- --update.",
    );
  }
  const derived = estimate.lines.filter((l) => l.basis === "derived").length;
  if (derived > 0)
    out.push(`  ${derived} line(s) use a price the table derives for ${estimate.region} (see its method).`);
  out.push(`  Prices of ${table.date}; usage from the environment's cost: section (defaults where unset).`);
  return out.join("\n");
}

/** Cost before and after a plan, from its resource changes. */
export interface CostChange {
  readonly before: Estimate;
  readonly after: Estimate;
}

/** Prices a plan's starting point and its result with the environment's assumptions. */
export function planCostChange(
  plan: PlanDocument,
  region: string,
  assumptions: CostAssumptions = COST_DEFAULTS,
  table: PriceTable = SHIPPED_PRICES,
): CostChange {
  const { before, after } = planResources(plan);
  return {
    before: estimateCost(before, region, assumptions, table),
    after: estimateCost(after, region, assumptions, table),
  };
}

/** `$120.00 -> $250.00 (+$130.00, +108%)`. */
export function costChangeSummary(change: CostChange): string {
  const delta = change.after.total - change.before.total;
  const sign = delta > 0 ? "+" : delta < 0 ? "-" : "±";
  const percent =
    change.before.total > 0 ? `, ${sign}${Math.round((Math.abs(delta) / change.before.total) * 100)}%` : "";
  return `${totalText(change.before)} -> ${totalText(change.after)} (${sign}${formatUsd(Math.abs(delta))}${percent})`;
}

/** The line items whose amount the plan changes, as `item: $a -> $b`. */
export function changedLines(change: CostChange): string[] {
  const sum = (e: Estimate) => {
    const m = new Map<string, number>();
    for (const l of e.lines) m.set(l.item, (m.get(l.item) ?? 0) + (l.monthly ?? 0));
    return m;
  };
  const [b, a] = [sum(change.before), sum(change.after)];
  const items = [...new Set([...b.keys(), ...a.keys()])];
  return items
    .filter((item) => Math.abs((a.get(item) ?? 0) - (b.get(item) ?? 0)) >= 0.005)
    .map((item) => `${item}: ${formatUsd(b.get(item) ?? 0)} -> ${formatUsd(a.get(item) ?? 0)}`);
}

export type { PricedResource };
