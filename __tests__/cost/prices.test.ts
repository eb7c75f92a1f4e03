import * as fs from "node:fs";
import * as path from "node:path";
import { sizesOf } from "../../src/config/instance-types";
import { REGIONS } from "../../src/config/regions";
import { DB_INSTANCE_SIZES, ENGINES, INSTANCE_FAMILIES } from "../../src/config/schema";
import { ec2Price, rdsPrice, SHIPPED_PRICES } from "../../src/cost/price-table";
import { costCommand } from "../../src/cost/command";
import { updatePriceTable, type PriceListSource } from "../../src/cost/update";
import { tempDir } from "../helpers";

const table = SHIPPED_PRICES;

describe("the shipped price table", () => {
  test("says when and from where: a date, its method and sources with addresses", () => {
    expect(table.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(table.method.length).toBeGreaterThan(0);
    expect(table.sources.length).toBeGreaterThan(0);
    for (const s of table.sources) expect(s.url).toMatch(/^https:\/\//);
  });

  test("prices every EC2 type the schema accepts, in every region it accepts", () => {
    const missing: string[] = [];
    for (const region of REGIONS) {
      for (const family of INSTANCE_FAMILIES) {
        for (const size of Object.keys(sizesOf(family))) {
          const price = ec2Price(table, region, `${family}.${size}`);
          if ("missing" in price || !(price.perHour > 0)) missing.push(`${region} ${family}.${size}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  test("prices every RDS class the schema accepts (each family at each of its sizes), each engine, in every region", () => {
    const missing: string[] = [];
    for (const region of REGIONS) {
      for (const engine of Object.keys(ENGINES)) {
        for (const [family, sizes] of Object.entries(DB_INSTANCE_SIZES)) {
          for (const size of sizes) {
            const price = rdsPrice(table, region, engine, `db.${family}.${size}`);
            if ("missing" in price || !(price.perHour > 0)) missing.push(`${region} ${engine} db.${family}.${size}`);
          }
        }
      }
    }
    expect(missing).toEqual([]);
  });

  test("every service price is there for every region, and every derived mark names a real entry", () => {
    for (const region of REGIONS) {
      const p = table.regions[region];
      for (const value of [
        p.ebsGp3PerGbMonth,
        p.rdsGp3PerGbMonth,
        p.natGatewayPerHour,
        p.natGatewayPerGb,
        p.albPerHour,
        p.albPerLcuHour,
        p.s3StandardPerGbMonth,
        p.internetEgressPerGb,
        ...Object.values(p.cloudwatch),
      ]) {
        expect(value).toBeGreaterThan(0);
      }
      for (const key of p.derived) {
        const [group, a, b] = key.split(".");
        const entry = group === "rds" ? (p.rds as any)[a]?.[b] : (p as any)[group]?.[a];
        expect([region, key, entry]).toEqual([region, key, expect.any(Number)]);
      }
    }
  });

  test("Seoul is priced from its own figures, not a copy of another region's", () => {
    const seoul = table.regions["ap-northeast-2"];
    const virginia = table.regions["us-east-1"];
    expect(seoul.ec2.t3).toBe(0.104); // t3.small $0.026 an hour
    expect(seoul.natGatewayPerHour).toBeGreaterThan(virginia.natGatewayPerHour);
    expect(seoul.rds.postgres!.m7g).toBeGreaterThan(virginia.rds.postgres!.m7g);
  });
});

// ---- --update, against a stand-in for the AWS Price List API (no AWS here) ----

/** A PriceList entry as GetProducts returns it: JSON text with the product and its on-demand terms. */
function entry(attributes: Record<string, string>, unit: string, usd: number): string {
  return JSON.stringify({
    product: { attributes },
    terms: {
      OnDemand: {
        "SKU.JRTCKXETXF": {
          priceDimensions: {
            "SKU.JRTCKXETXF.6YS6EN2CT7": { unit, beginRange: "0", pricePerUnit: { USD: String(usd) } },
          },
        },
      },
    },
  });
}

/**
 * Answers GetProducts from a list of entries per (service, filters), two per page so that the
 * reader must follow NextToken; records every call.
 */
function standIn(region: string): PriceListSource & { calls: string[] } {
  const calls: string[] = [];
  const catalogue = (service: string, f: Record<string, string>): string[] => {
    if (f.regionCode !== region) return [];
    if (service === "AmazonEC2" && f.operatingSystem === "Linux") {
      return [
        entry({ instanceType: "m7g.large" }, "Hrs", 0.1),
        entry({ instanceType: "m7g.xlarge" }, "Hrs", 0.2),
        entry({ instanceType: "t3.small" }, "Hrs", 0.026),
        entry({ instanceType: "t3.micro" }, "Hrs", 0.0131), // 0.0131 vs 0.013 scaled: kept exact
        entry({ instanceType: "x2iedn.large" }, "Hrs", 9), // a family the schema does not accept
      ];
    }
    if (service === "AmazonRDS" && f.productFamily === "Database Instance") {
      if (f.databaseEngine === "MariaDB") return [entry({ instanceType: "db.t4g.medium" }, "Hrs", 0.07)];
      return f.databaseEngine === "PostgreSQL"
        ? [entry({ instanceType: "db.m7g.large" }, "Hrs", 0.21), entry({ instanceType: "db.t4g.small" }, "Hrs", 0.05)]
        : [entry({ instanceType: "db.t4g.micro" }, "Hrs", 0.025)];
    }
    if (service === "AmazonEC2" && f.productFamily === "Storage")
      return [entry({ volumeApiName: "gp3" }, "GB-Mo", 0.0912)];
    if (service === "AmazonRDS" && f.productFamily === "Database Storage") return [entry({}, "GB-Mo", 0.131)];
    if (service === "AmazonEC2" && f.productFamily === "NAT Gateway") {
      return [
        entry({ usagetype: "APN2-NatGateway-Hours" }, "Hrs", 0.059),
        entry({ usagetype: "APN2-NatGateway-Bytes" }, "GB", 0.058),
      ];
    }
    if (service === "AWSELB") {
      return [
        entry({ usagetype: "APN2-LoadBalancerUsage" }, "Hrs", 0.0225),
        entry({ usagetype: "APN2-LCUUsage" }, "LCU-Hrs", 0.008),
      ];
    }
    return [];
  };
  return {
    calls,
    async getProducts(input) {
      const filters = Object.fromEntries(input.Filters.map((x) => [x.Field, x.Value]));
      calls.push(`${input.ServiceCode} ${JSON.stringify(filters)} ${input.NextToken ?? ""}`);
      expect(input.Filters.every((x) => x.Type === "TERM_MATCH")).toBe(true);
      const all = catalogue(input.ServiceCode, filters);
      const start = Number(input.NextToken ?? 0);
      return {
        PriceList: all.slice(start, start + 2),
        NextToken: start + 2 < all.length ? String(start + 2) : undefined,
      };
    },
  };
}

describe("npm run cost -- --update (with a stand-in Price List API)", () => {
  test("replaces the region's prices with the API's, follows every page, and leaves other regions alone", async () => {
    const api = standIn("ap-northeast-2");
    const { table: updated, notes } = await updatePriceTable(api, table, {
      regions: ["ap-northeast-2"],
      date: "2027-01-15",
    });
    const seoul = updated.regions["ap-northeast-2"];
    // The large price per family; the micro kept exact because it is off the size rule.
    expect(seoul.ec2).toEqual({ m7g: 0.1, t3: 0.104, "t3.micro": 0.0131 });
    expect(seoul.rds).toEqual({ postgres: { m7g: 0.21, t4g: 0.2 }, mysql: { t4g: 0.2 }, mariadb: { t4g: 0.14 } });
    expect(seoul).toMatchObject({
      ebsGp3PerGbMonth: 0.0912,
      rdsGp3PerGbMonth: 0.131,
      natGatewayPerHour: 0.059,
      natGatewayPerGb: 0.058,
      albPerHour: 0.0225,
      albPerLcuHour: 0.008,
    });
    // Read from the API: no longer marked derived (CloudWatch keeps its mark, it was not read).
    expect(seoul.derived.filter((k) => !k.startsWith("cloudwatch."))).toEqual([]);
    expect(seoul.cloudwatch).toEqual(table.regions["ap-northeast-2"].cloudwatch);
    expect(updated.regions["ap-northeast-3"]).toEqual(table.regions["ap-northeast-3"]);
    expect(updated.date).toBe("2027-01-15");
    expect(updated.method.at(-1)).toMatch(/^Updated 2027-01-15 from the AWS Price List Query API/);
    // Families the API does not list in the region are dropped (and said so), not priced from elsewhere.
    expect(notes.join("\n")).toMatch(/ap-northeast-2: EC2 lists no t3a, t4g, .*: dropped \(not offered there\)/);
    expect("missing" in ec2Price(updated, "ap-northeast-2", "c7g.large")).toBe(true);
    // The EC2 list had 5 entries: 3 pages.
    expect(api.calls.filter((c) => c.includes('"operatingSystem":"Linux"'))).toHaveLength(3);
  });

  test("the command writes the table it read, refreshed; without credentials it says so and writes nothing", async () => {
    const dir = tempDir("cost-update-");
    const file = path.join(dir, "prices.json");
    fs.writeFileSync(file, JSON.stringify(table));
    const out: string[] = [];
    const code = await costCommand(["--update", "--regions", "ap-northeast-2"], {
      pricesFile: file,
      priceList: async () => standIn("ap-northeast-2"),
      out: (t) => out.push(t),
      err: (t) => out.push(t),
      today: "2027-01-15",
    });
    expect(code).toBe(0);
    const written = JSON.parse(fs.readFileSync(file, "utf8"));
    expect(written.date).toBe("2027-01-15");
    expect(written.regions["ap-northeast-2"].ec2.m7g).toBe(0.1);

    fs.writeFileSync(file, JSON.stringify(table));
    const errors: string[] = [];
    const failed = await costCommand(["--update", "--regions", "ap-northeast-2"], {
      pricesFile: file,
      priceList: async () => ({
        getProducts: async () => {
          throw Object.assign(new Error("Could not load credentials from any providers"), {
            name: "CredentialsProviderError",
          });
        },
      }),
      out: () => undefined,
      err: (t) => errors.push(t),
    });
    expect(failed).toBe(1);
    expect(errors.join("\n")).toMatch(/--update failed, the table is unchanged: no AWS credentials/);
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual(table);
  });

  test("--regions accepts only the regions the schema accepts", async () => {
    const errors: string[] = [];
    const code = await costCommand(["--update", "--regions", "mars-north-1"], {
      priceList: async () => standIn("x"),
      out: () => undefined,
      err: (t) => errors.push(t),
    });
    expect(code).toBe(1);
    expect(errors[0]).toMatch(/--regions: mars-north-1 not among the regions the schema accepts/);
  });
});
