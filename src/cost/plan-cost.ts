import * as fs from "node:fs";
import * as path from "node:path";
import { loadEnvironments } from "../config/load";
import { COST_DEFAULTS } from "../config/schema";
import { PROJECT_ROOT } from "../project-root";
import type { PlanDocument } from "../ops/plan-json";
import { planCostChange, type CostChange } from "./report";

/**
 * The monthly cost before and after a plan of stack `name`, priced in the region its provider
 * names and with the usage assumptions of its environment folder; `undefined` for a stack that is
 * no environment (a state bucket's bootstrap stack).
 */
export function planCostOf(
  plan: PlanDocument,
  name: string,
  document: object,
  environmentsDir = process.env.ENVIRONMENTS_DIR ?? path.join(PROJECT_ROOT, "environments"),
): CostChange | undefined {
  if (!fs.existsSync(path.join(environmentsDir, name))) return undefined;
  const aws = (document as { provider?: { aws?: Array<{ region?: string }> } }).provider?.aws?.[0];
  const env = loadEnvironments({ dir: environmentsDir, only: [name] })[0];
  return planCostChange(plan, aws?.region ?? env.region, env.cost ?? COST_DEFAULTS);
}
