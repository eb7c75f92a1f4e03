import type { SynthesizedStack } from "../../src/ops/plan-json";
import { environmentStack } from "../environment-stack";
import { environmentFile, type Synthesized } from "../helpers";

// Real stacks of each layout, synthesized from test environments, for the reviews to read: their
// addresses, lifecycle settings and outputs are what `npm run synth` writes for such a config.

const network = { cidr: "10.50.0.0/16", availabilityZones: ["ap-northeast-2a", "ap-northeast-2c"] };

function layoutStack(name: string, overrides: Record<string, unknown>): Synthesized {
  return environmentStack(name, overrides);
}

/** dev-like: one server with the database on its own disk, and an Elastic IP. */
export const singleServer = () =>
  layoutStack("dev", {
    layout: "single-server",
    network: { ...network, natGateways: "none" },
    app: { instanceType: "t3.small", version: "1.0.0" },
  });

/** dr-osaka-like: one app server, RDS without deletion protection; `database` fields may be changed. */
export const appDbSplit = (database: Record<string, unknown> = {}) =>
  layoutStack("dr", {
    layout: "app-db-split",
    network: { ...network, natGateways: "none" },
    app: { instanceType: "t4g.small", version: "1.0.0" },
    database: { ...environmentFile().database, ...database },
  });

/** prod-like: ALB with access logs, an Auto Scaling group, RDS with deletion protection (and prevent_destroy). */
export const loadBalanced = () =>
  layoutStack("prod", {
    network: { ...network, natGateways: "single" },
    database: { ...environmentFile().database, deletionProtection: true },
    loadBalancer: { https: false, accessLogs: true },
  });

/** The address of the one resource of `type` whose construct id is `id`. */
export function address(stack: Synthesized, type: string, id: string): string {
  return `${type}.${stack.named(type, id).name}`;
}

export const documentOf = (stack: Synthesized) => stack.doc as SynthesizedStack;
