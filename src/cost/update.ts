import { DB_INSTANCE_FAMILIES, ENGINES, INSTANCE_FAMILIES, type Engine } from "../config/schema";
import type { PriceTable, RegionPrices } from "./price-table";

/**
 * `npm run cost -- --update`: refreshes the price table from the AWS Price List Query API
 * (`pricing:GetProducts`, served from us-east-1) for every region the schema accepts: EC2 and RDS
 * instance prices of every family the schema accepts, EBS gp3, RDS gp3 storage, NAT gateways and
 * Application Load Balancers. CloudWatch, S3, data transfer, KMS and Secrets Manager keep the
 * table's values (their price list entries are tiered and regional in ways this reader does not
 * model); the new table says so in its method.
 *
 * The client is injected: the CLI passes the AWS SDK's PricingClient, tests a stand-in.
 */

/** A filter of GetProducts (`TERM_MATCH` on one attribute). */
export interface ProductFilter {
  readonly Type: "TERM_MATCH";
  readonly Field: string;
  readonly Value: string;
}

/** The part of the Pricing API this reader uses: one page of GetProducts. */
export interface PriceListSource {
  getProducts(input: {
    ServiceCode: string;
    Filters: ProductFilter[];
    FormatVersion: "aws_v1";
    MaxResults: number;
    NextToken?: string;
  }): Promise<{ PriceList?: string[]; NextToken?: string }>;
}

/** One product of the price list with its on-demand prices (USD, by unit). */
export interface PricedProduct {
  readonly attributes: Readonly<Record<string, string>>;
  /** `Hrs`, `GB-Mo`, `GB`, `LCU-Hrs`, ... to USD; the first (lowest) tier of each unit. */
  readonly usd: Readonly<Record<string, number>>;
}

/** Every product matching `filters`, following NextToken. */
export async function products(
  source: PriceListSource,
  serviceCode: string,
  filters: Readonly<Record<string, string>>,
): Promise<PricedProduct[]> {
  const out: PricedProduct[] = [];
  let token: string | undefined;
  const Filters = Object.entries(filters).map(([Field, Value]) => ({ Type: "TERM_MATCH" as const, Field, Value }));
  do {
    const page = await source.getProducts({
      ServiceCode: serviceCode,
      Filters,
      FormatVersion: "aws_v1",
      MaxResults: 100,
      NextToken: token,
    });
    for (const item of page.PriceList ?? []) out.push(parseProduct(item));
    token = page.NextToken;
  } while (token);
  return out;
}

/** Reads one PriceList entry: its attributes and its on-demand price per unit (lowest tier first). */
export function parseProduct(item: string): PricedProduct {
  const doc = JSON.parse(item) as {
    product?: { attributes?: Record<string, string> };
    terms?: { OnDemand?: Record<string, { priceDimensions?: Record<string, PriceDimension> }> };
  };
  const usd: Record<string, number> = {};
  for (const term of Object.values(doc.terms?.OnDemand ?? {})) {
    const dimensions = Object.values(term.priceDimensions ?? {}).sort(
      (a, b) => Number(a.beginRange ?? 0) - Number(b.beginRange ?? 0),
    );
    for (const d of dimensions) {
      const price = Number(d.pricePerUnit?.USD);
      if (d.unit && Number.isFinite(price) && !(d.unit in usd)) usd[d.unit] = price;
    }
  }
  return { attributes: doc.product?.attributes ?? {}, usd };
}

interface PriceDimension {
  readonly unit?: string;
  readonly beginRange?: string;
  readonly pricePerUnit?: { readonly USD?: string };
}

/** The Price List's names of the engines. */
const ENGINE_NAMES: Readonly<Record<Engine, string>> = { postgres: "PostgreSQL", mysql: "MySQL", mariadb: "MariaDB" };

export interface UpdateResult {
  readonly table: PriceTable;
  /** What changed or could not be read, one line each. */
  readonly notes: string[];
}

/**
 * A new table: `previous` with the prices the API lists for `regions` replaced. A family the API
 * lists no price for in a region (not offered there) is dropped from that region, so an estimate
 * says so instead of pricing it from another region.
 */
export async function updatePriceTable(
  source: PriceListSource,
  previous: PriceTable,
  options: { readonly regions: readonly string[]; readonly date: string; readonly log?: (line: string) => void },
): Promise<UpdateResult> {
  const notes: string[] = [];
  const log = options.log ?? (() => undefined);
  const regions: Record<string, RegionPrices> = { ...previous.regions };
  for (const region of options.regions) {
    log(`  ${region}`);
    const old = previous.regions[region];
    const ec2 = familyPrices(
      await products(source, "AmazonEC2", {
        regionCode: region,
        operatingSystem: "Linux",
        tenancy: "Shared",
        preInstalledSw: "NA",
        capacitystatus: "Used",
        licenseModel: "No License required",
      }),
      INSTANCE_FAMILIES,
      "",
      previous.sizeUnits,
    );
    const rds = {} as Record<Engine, Record<string, number>>;
    for (const engine of Object.keys(ENGINES) as Engine[]) {
      rds[engine] = familyPrices(
        await products(source, "AmazonRDS", {
          regionCode: region,
          databaseEngine: ENGINE_NAMES[engine],
          deploymentOption: "Single-AZ",
          productFamily: "Database Instance",
        }),
        DB_INSTANCE_FAMILIES,
        "db.",
        previous.sizeUnits,
      );
    }
    const single = async (service: string, filters: Record<string, string>, unit: string, what: string) => {
      const found = (await products(source, service, { regionCode: region, ...filters })).find(
        (p) => p.usd[unit] !== undefined,
      );
      if (!found) notes.push(`${region}: no ${what} price listed; kept the table's`);
      return found?.usd[unit];
    };
    const ebs = await single("AmazonEC2", { productFamily: "Storage", volumeApiName: "gp3" }, "GB-Mo", "EBS gp3");
    const rdsStorage = await single(
      "AmazonRDS",
      {
        productFamily: "Database Storage",
        volumeType: "General Purpose-GP3",
        deploymentOption: "Single-AZ",
        databaseEngine: ENGINE_NAMES.postgres,
      },
      "GB-Mo",
      "RDS gp3 storage",
    );
    const nat = await products(source, "AmazonEC2", { regionCode: region, productFamily: "NAT Gateway" });
    const natHour = nat.find((p) => /NatGateway-Hours$/.test(p.attributes.usagetype ?? ""))?.usd.Hrs;
    const natGb = nat.find((p) => /NatGateway-Bytes$/.test(p.attributes.usagetype ?? ""))?.usd.GB;
    const alb = await products(source, "AWSELB", { regionCode: region, productFamily: "Load Balancer-Application" });
    const albHour = alb.find((p) => /LoadBalancerUsage$/.test(p.attributes.usagetype ?? ""))?.usd.Hrs;
    const albLcu = alb.find((p) => /LCUUsage$/.test(p.attributes.usagetype ?? ""))?.usd["LCU-Hrs"];
    for (const [what, value] of Object.entries({ natHour, natGb, albHour, albLcu })) {
      if (value === undefined) notes.push(`${region}: no ${what} price listed; kept the table's`);
    }
    if (Object.keys(ec2).length === 0) notes.push(`${region}: no EC2 prices listed; kept the table's`);

    const keep = old?.derived.filter((k) => k.startsWith("cloudwatch.")) ?? [];
    regions[region] = {
      ...(old ?? ({} as RegionPrices)),
      ec2: Object.keys(ec2).length > 0 ? ec2 : (old?.ec2 ?? {}),
      rds: Object.fromEntries(
        (Object.keys(ENGINES) as Engine[]).map((e) => [
          e,
          Object.keys(rds[e]).length > 0 ? rds[e] : (old?.rds[e] ?? {}),
        ]),
      ),
      ebsGp3PerGbMonth: ebs ?? old?.ebsGp3PerGbMonth,
      rdsGp3PerGbMonth: rdsStorage ?? old?.rdsGp3PerGbMonth,
      natGatewayPerHour: natHour ?? old?.natGatewayPerHour,
      natGatewayPerGb: natGb ?? old?.natGatewayPerGb,
      albPerHour: albHour ?? old?.albPerHour,
      albPerLcuHour: albLcu ?? old?.albPerLcuHour,
      derived: [
        ...keep,
        ...(Object.keys(ec2).length > 0 ? [] : (old?.derived.filter((k) => k.startsWith("ec2.")) ?? [])),
        ...(Object.keys(ENGINES) as Engine[]).flatMap((e) =>
          Object.keys(rds[e]).length > 0 ? [] : (old?.derived.filter((k) => k.startsWith(`rds.${e}.`)) ?? []),
        ),
      ],
    } as RegionPrices;
    const dropped = INSTANCE_FAMILIES.filter((f) => old?.ec2[f] !== undefined && ec2[f] === undefined);
    if (Object.keys(ec2).length > 0 && dropped.length > 0) {
      notes.push(`${region}: EC2 lists no ${dropped.join(", ")}: dropped (not offered there)`);
    }
  }
  const table: PriceTable = {
    ...previous,
    date: options.date,
    method: [
      ...previous.method.filter((m) => !m.startsWith("Updated")),
      `Updated ${options.date} from the AWS Price List Query API (pricing:GetProducts) for ${options.regions.join(", ")}: EC2 and RDS instances, EBS gp3, RDS gp3 storage, NAT gateways, ALBs. CloudWatch, S3, data transfer, KMS and Secrets Manager keep the earlier values.`,
    ],
    sources: previous.sources.some((s) => s.id === "aws-pricelist-api")
      ? previous.sources
      : [
          ...previous.sources,
          { id: "aws-pricelist-api", url: "https://pricing.us-east-1.amazonaws.com", what: "Price List Query API" },
        ],
    regions,
  };
  return { table, notes };
}

/**
 * Per family, the `large` price (or, without a large, the nearest size's price scaled to large),
 * and an exact entry for each size whose price differs from the family's scaled price by more than
 * half a percent.
 */
export function familyPrices(
  list: readonly PricedProduct[],
  families: readonly string[],
  prefix: string,
  sizeUnits: Readonly<Record<string, number>>,
): Record<string, number> {
  const bySize = new Map<string, Map<string, number>>();
  for (const p of list) {
    const type = p.attributes.instanceType ?? "";
    const price = p.usd.Hrs;
    if (!type.startsWith(prefix) || price === undefined || price <= 0) continue;
    const [family, size] = type.slice(prefix.length).split(".");
    if (!families.includes(family) || !size || sizeUnits[size] === undefined) continue;
    if (!bySize.has(family)) bySize.set(family, new Map());
    bySize.get(family)!.set(size, price);
  }
  // Without a large, the size nearest to it (in normalization factor) sets the family's price.
  const distance = (size: string) => Math.abs(Math.log2(sizeUnits[size] / sizeUnits.large));
  const out: Record<string, number> = {};
  for (const family of families) {
    const sizes = bySize.get(family);
    if (!sizes) continue;
    const [refSize, refPrice] = sizes.has("large")
      ? ["large", sizes.get("large")!]
      : [...sizes].sort((a, b) => distance(a[0]) - distance(b[0]))[0];
    const large = (refPrice * sizeUnits.large) / sizeUnits[refSize];
    out[family] = round6(large);
    for (const [size, price] of sizes) {
      const scaled = (large * sizeUnits[size]) / sizeUnits.large;
      if (Math.abs(price - scaled) > scaled * 0.005) out[`${family}.${size}`] = price;
    }
  }
  return out;
}

function round6(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}
