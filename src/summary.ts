import * as fs from "node:fs";
import * as path from "node:path";
import type { EnvironmentConfig } from "./config/load";
import { azSuffix, regionWithCity } from "./config/regions";
import { environmentEstimate, totalText } from "./cost/report";
import { resourceCount } from "./cost/resources";

/**
 * The table printed at every synth: one row per environment synthesized, saying where it runs
 * (region and city), what it is (layout, AZs, servers, database, NAT, state) and what it costs a
 * month (on-demand estimate, `npm run cost -- <env>` for the lines). Reads only the stacks just
 * written and the shipped price table: a few milliseconds.
 */

/** One row of the summary. */
export interface SummaryRow {
  readonly environment: string;
  readonly region: string;
  readonly layout: string;
  readonly azs: string;
  readonly appServers: string;
  readonly database: string;
  readonly nat: string;
  readonly state: string;
  readonly resources: string;
  readonly monthly: string;
}

const HEADERS: Readonly<Record<keyof SummaryRow, string>> = {
  environment: "Environment",
  region: "Region",
  layout: "Layout",
  azs: "AZs",
  appServers: "App servers",
  database: "Database",
  nat: "NAT",
  state: "State",
  resources: "Resources",
  monthly: "Monthly (est.)",
};

/** The summary row of one environment, from its config and its synthesized stack. */
export function summaryRow(
  env: EnvironmentConfig,
  doc: { readonly resource?: Readonly<Record<string, unknown>> },
): SummaryRow {
  const { app, database: db, network } = env;
  const fleet = env.layout === "load-balanced";
  const count = fleet
    ? `${app.count.desired}${app.count.min !== app.count.max ? ` (${app.count.min}-${app.count.max})` : ""}`
    : "1";
  const nats =
    network.natGateways === "none" ? 0 : network.natGateways === "single" ? 1 : network.availabilityZones.length;
  const s = env.state;
  return {
    environment: env.name,
    region: regionWithCity(env.region),
    layout: env.layout,
    azs: `${network.availabilityZones.length} (${network.availabilityZones.map(azSuffix).join(",")})`,
    appServers: `${app.instanceType} x ${count}`,
    database:
      env.layout === "single-server"
        ? `${db.engine} ${db.engineVersion} on the server`
        : `${db.engine} ${db.engineVersion} ${db.instanceClass} ${db.multiAz ? "Multi-AZ" : "Single-AZ"}`,
    nat: nats === 0 ? "none" : `${nats} (${network.natGateways})`,
    state: s.backend === "local" ? "local" : s.backend === "s3" ? `s3 ${s.bucket}` : `cloud ${s.organization}`,
    resources: String(resourceCount(doc)),
    monthly: totalText(environmentEstimate(env, doc)),
  };
}

export interface SummaryOptions {
  /** Bold headers (a terminal); plain text otherwise. @default false */
  readonly color?: boolean;
}

/** The rows as an aligned text table; no escape codes unless `color`. */
export function summaryTable(rows: readonly SummaryRow[], options: SummaryOptions = {}): string {
  const keys = Object.keys(HEADERS) as (keyof SummaryRow)[];
  const widths = keys.map((k) => Math.max(HEADERS[k].length, ...rows.map((r) => r[k].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  const header = line(keys.map((k) => HEADERS[k]));
  return [options.color ? `\x1b[1m${header}\x1b[0m` : header, ...rows.map((r) => line(keys.map((k) => r[k])))].join(
    "\n",
  );
}

/** Whether to decorate output: a terminal, no NO_COLOR, not CI. */
export function useColor(stream: { isTTY?: boolean } = process.stdout, env = process.env): boolean {
  return stream.isTTY === true && !env.NO_COLOR && !env.CI && env.TERM !== "dumb";
}

/**
 * Prints the summary of the environments among `stacks` written to `outdir` (main.ts calls this
 * after a successful synth). Costs are on-demand estimates from the shipped price table.
 */
export function printSynthSummary(
  environments: readonly EnvironmentConfig[],
  outdir: string,
  stacks: readonly string[],
  write: (text: string) => void = (text) => process.stdout.write(text),
  color = useColor(),
): void {
  const rows = environments
    .filter((env) => stacks.includes(env.name))
    .map((env) =>
      summaryRow(env, JSON.parse(fs.readFileSync(path.join(outdir, "stacks", env.name, "cdk.tf.json"), "utf8"))),
    );
  if (rows.length === 0) return;
  write(
    `${summaryTable(rows, { color })}\n` +
      "Monthly: on-demand estimate in USD from src/cost/prices.json and each environment's cost: assumptions; " +
      "npm run cost -- <env> shows the lines.\n",
  );
}
