import type { Engine } from "../config/schema";
import shipped from "./prices.json";

/**
 * The price table `npm run cost`, the synth summary and the plan review read: AWS on-demand prices
 * in USD, per region, shipped with the project (`src/cost/prices.json`, with its date, method and
 * sources) and refreshed by `npm run cost -- --update` from the AWS Price List API.
 *
 * Instance prices are kept per family, for the family's `large` size; any other size costs that
 * times its normalization factor / 4 (AWS prices sizes within a family that way). A key with a
 * dot (`t3.small`) is an exact price for that size and wins, so the table stays small while
 * covering every size of every family the schema accepts.
 */
export interface PriceTable {
  /** The day the prices were taken (YYYY-MM-DD). */
  readonly date: string;
  readonly currency: "USD";
  /** AWS's convention for a month of hourly charges. */
  readonly hoursPerMonth: number;
  /** How the table was built: what is published, what is derived and how. */
  readonly method: readonly string[];
  readonly sources: readonly { readonly id: string; readonly url: string; readonly what: string }[];
  /** The values confirmed against a cited source when the table was built. */
  readonly verified: readonly string[];
  readonly global: {
    readonly publicIpv4PerHour: number;
    readonly kmsKeyPerMonth: number;
    readonly secretPerMonth: number;
    readonly dashboardPerMonth: number;
  };
  /** AWS's normalization factor of each size (small = 1, large = 4). */
  readonly sizeUnits: Readonly<Record<string, number>>;
  readonly regions: Readonly<Record<string, RegionPrices>>;
}

export interface RegionPrices {
  /** Per hour: a family's `large` (`m7g`), or an exact size (`t3.small`). */
  readonly ec2: Readonly<Record<string, number>>;
  /**
   * Per hour, Single-AZ, by engine: a family's `large` (`m7g`), or an exact size (`t4g.small`),
   * without `db.`. An engine the table has no prices for is estimated as missing.
   */
  readonly rds: Readonly<Partial<Record<Engine, Readonly<Record<string, number>>>>>;
  readonly ebsGp3PerGbMonth: number;
  /** Single-AZ; Multi-AZ stores everything twice. */
  readonly rdsGp3PerGbMonth: number;
  readonly natGatewayPerHour: number;
  readonly natGatewayPerGb: number;
  readonly albPerHour: number;
  readonly albPerLcuHour: number;
  readonly cloudwatch: {
    readonly alarmPerMetricMonth: number;
    readonly metricPerMonth: number;
    readonly logsIngestedPerGb: number;
    readonly logsStoredPerGbMonth: number;
  };
  readonly s3StandardPerGbMonth: number;
  readonly internetEgressPerGb: number;
  /** Keys (`ec2.m7g`, `rds.postgres.t4g`, `cloudwatch.metricPerMonth`) derived rather than read for this region. */
  readonly derived: readonly string[];
}

/** The table shipped with the project. */
export const SHIPPED_PRICES = shipped as PriceTable;

/** Where a price came from. */
export type PriceBasis = "table" | "derived";

/** A price found in the table, per hour. */
export interface HourlyPrice {
  readonly perHour: number;
  /** `derived` when the table marks the family's price for this region as derived, not read from AWS. */
  readonly basis: PriceBasis;
}

/**
 * The hourly price of `type` (`t3.small`) from a family-keyed price list, or why there is none:
 * a family or size the table does not have.
 */
export function sizedPrice(
  prices: Readonly<Record<string, number>> | undefined,
  type: string,
  sizeUnits: Readonly<Record<string, number>>,
): { perHour: number; family: string } | { missing: string } {
  const [family, size] = type.split(".");
  if (!family || !size) return { missing: `"${type}" is not <family>.<size>` };
  const exact = prices?.[type];
  if (exact !== undefined) return { perHour: exact, family };
  const large = prices?.[family];
  if (large === undefined) return { missing: `no price for the ${family} family` };
  const units = sizeUnits[size];
  if (units === undefined) return { missing: `no size factor for "${size}"` };
  return { perHour: (large * units) / sizeUnits.large, family };
}

/** EC2 Linux on-demand price of an instance type in a region. */
export function ec2Price(table: PriceTable, region: string, instanceType: string): HourlyPrice | { missing: string } {
  const regional = table.regions[region];
  if (!regional) return { missing: `no prices for region ${region}` };
  const found = sizedPrice(regional.ec2, instanceType, table.sizeUnits);
  if ("missing" in found) return { missing: `${found.missing} in ${region}` };
  return { perHour: found.perHour, basis: regional.derived.includes(`ec2.${found.family}`) ? "derived" : "table" };
}

/** RDS Single-AZ on-demand price of a DB instance class (`db.m7g.large`) for an engine in a region. */
export function rdsPrice(
  table: PriceTable,
  region: string,
  engine: string,
  instanceClass: string,
): HourlyPrice | { missing: string } {
  const regional = table.regions[region];
  if (!regional) return { missing: `no prices for region ${region}` };
  const byEngine = regional.rds[engine as Engine];
  if (!byEngine) return { missing: `no RDS prices for engine ${engine}` };
  const found = sizedPrice(byEngine, instanceClass.replace(/^db\./, ""), table.sizeUnits);
  if ("missing" in found) return { missing: `${found.missing} (${engine}) in ${region}` };
  return {
    perHour: found.perHour,
    basis: regional.derived.includes(`rds.${engine}.${found.family}`) ? "derived" : "table",
  };
}
