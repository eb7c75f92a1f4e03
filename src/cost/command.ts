import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { App, type TerraformStack } from "cdktf";
import { buildStacks } from "../app";
import { ConfigError } from "../config/errors";
import { displayPath, listEnvironmentFolders, loadEnvironments } from "../config/load";
import { REGIONS } from "../config/regions";
import { argumentsProblem } from "../ops/usage";
import { PROJECT_ROOT } from "../project-root";
import type { PriceTable } from "./price-table";
import { environmentEstimate, estimateText, totalText } from "./report";
import { updatePriceTable, type PriceListSource } from "./update";

/**
 * The shipped price table, which `--update` rewrites. From the project root, not `__dirname`: through
 * `npm run` this module runs from a bundle cached under node_modules/.cache/.
 */
export const PRICES_FILE = path.join(PROJECT_ROOT, "src", "cost", "prices.json");

export const COST_USAGE = `usage: npm run cost [-- <env>...] [--json]
       npm run cost -- --update [--regions <r1,r2>]
  <env>...       environments to price (default: every folder of environments/)
  --json         print the estimates as JSON
  --update       refresh src/cost/prices.json from the AWS Price List API (needs AWS credentials
                 allowed pricing:GetProducts); --regions limits it to some regions`;

export interface CostCommandOptions {
  /** Folder of environment folders. @default environments/ of the project */
  readonly environmentsDir?: string;
  /** The price table file read and, with --update, written. @default src/cost/prices.json */
  readonly pricesFile?: string;
  /** The Price List API for --update. @default the AWS SDK's PricingClient in us-east-1 */
  readonly priceList?: () => Promise<PriceListSource>;
  readonly out?: (text: string) => void;
  readonly err?: (text: string) => void;
  /** Today, for the updated table's date. */
  readonly today?: string;
}

/**
 * `npm run cost`: each environment's monthly on-demand estimate, line by line, offline. Synthesizes
 * the stacks in memory (nothing is written) and prices their resources with the table.
 * Returns the exit code: 0, or 1 on bad input or a failed update.
 */
export async function costCommand(argv: readonly string[], options: CostCommandOptions = {}): Promise<number> {
  const out = options.out ?? ((t: string) => process.stdout.write(`${t}\n`));
  const err = options.err ?? ((t: string) => process.stderr.write(`${t}\n`));
  const pricesFile = options.pricesFile ?? PRICES_FILE;
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        json: { type: "boolean" },
        update: { type: "boolean" },
        regions: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    err(`cost: ${argumentsProblem(error)}\n${COST_USAGE}`);
    return 1;
  }
  if (parsed.values.help) {
    out(COST_USAGE);
    return 0;
  }
  const table = JSON.parse(fs.readFileSync(pricesFile, "utf8")) as PriceTable;

  if (parsed.values.update) {
    const regions = parsed.values.regions ? parsed.values.regions.split(",").map((r) => r.trim()) : [...REGIONS];
    const unknown = regions.filter((r) => !REGIONS.includes(r));
    if (unknown.length > 0) {
      err(`cost: --regions: ${unknown.join(", ")} not among the regions the schema accepts (${REGIONS.join(", ")})`);
      return 1;
    }
    try {
      const source = await (options.priceList ?? awsPriceList)();
      out(`Reading the AWS Price List API for ${regions.length} region(s)...`);
      const { table: updated, notes } = await updatePriceTable(source, table, {
        regions,
        date: options.today ?? new Date().toISOString().slice(0, 10),
        log: out,
      });
      fs.writeFileSync(pricesFile, `${JSON.stringify(updated, null, 2)}\n`);
      for (const note of notes) out(`  note: ${note}`);
      out(`Wrote ${path.relative(process.cwd(), pricesFile)} (prices of ${updated.date}).`);
      return 0;
    } catch (error) {
      err(`cost: --update failed, the table is unchanged: ${describeAwsError(error)}`);
      return 1;
    }
  }

  const dir = options.environmentsDir ?? path.join(PROJECT_ROOT, "environments");
  const folders = listEnvironmentFolders(dir);
  const unknownEnvs = parsed.positionals.filter((name) => !folders.includes(name));
  if (unknownEnvs.length > 0) {
    err(
      `cost: unknown environment ${unknownEnvs.map((n) => `"${n}"`).join(", ")} (the environments are ${folders.sort().join(", ") || "(none)"})`,
    );
    return 1;
  }
  let environments;
  let docs;
  try {
    const all = loadEnvironments({
      dir,
      only: parsed.positionals.length > 0 ? parsed.positionals : undefined,
    });
    environments = all;
    docs = synthesizeInMemory(environments, displayPath(dir));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    err(`cost: ${error.problems.length} problem(s) in the environment folders:`);
    for (const problem of error.problems) err(`  ${problem}`);
    return 1;
  }
  const estimates = environments.map((env) => ({
    env,
    estimate: environmentEstimate(env, docs.get(env.name)!, table),
  }));
  if (parsed.values.json) {
    out(
      JSON.stringify(
        estimates.map(({ env, estimate }) => ({ environment: env.name, ...estimate })),
        null,
        2,
      ),
    );
  } else {
    out(estimates.map(({ env, estimate }) => estimateText(env.name, estimate, table)).join("\n\n"));
    if (estimates.length > 1) {
      const sum = estimates.reduce((n, e) => n + e.estimate.total, 0);
      const complete = estimates.every((e) => e.estimate.complete);
      out(`\nAll ${estimates.length}: ${totalText({ ...estimates[0].estimate, total: sum, complete })} a month.`);
    }
  }
  return 0;
}

/**
 * Each environment's Terraform JSON, built in memory. A cdktf App makes its output's stacks/ folder
 * as it starts, so it gets a temporary one, removed after: the project's cdktf.out is not touched.
 * A problem found while building names the environment as `<environmentsLabel>/<name>`, as a synth does.
 */
export function synthesizeInMemory(
  environments: Parameters<typeof buildStacks>[1],
  environmentsLabel = "environments",
): Map<string, { resource?: Record<string, unknown> }> {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "classic-servers-cost-"));
  try {
    const app = new App({ outdir, skipValidation: true });
    buildStacks(app, environments, { projectRootFromStack: "../../..", environmentsLabel });
    return new Map(
      environments.map((env) => [
        env.name,
        (app.node.findChild(env.name) as TerraformStack).toTerraform() as { resource?: Record<string, unknown> },
      ]),
    );
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

/**
 * The part of `@aws-sdk/client-pricing` that `awsPriceList` uses, declared here: the package's own
 * declarations are about 400 files (the SDK's core and Smithy's), a third of what every typecheck
 * reads, for these two names.
 */
interface PricingSdk {
  PricingClient: new (config: { region: string }) => { send(command: object): Promise<PriceListPage> };
  GetProductsCommand: new (input: Parameters<PriceListSource["getProducts"]>[0]) => object;
}
type PriceListPage = Awaited<ReturnType<PriceListSource["getProducts"]>>;

/** The AWS SDK's Price List client (us-east-1 serves the API), loaded only for --update. */
async function awsPriceList(): Promise<PriceListSource> {
  const { PricingClient, GetProductsCommand } = require("@aws-sdk/client-pricing") as PricingSdk;
  const client = new PricingClient({ region: "us-east-1" });
  return { getProducts: (input) => client.send(new GetProductsCommand(input)) };
}

function describeAwsError(error: unknown): string {
  const e = error as { name?: string; message?: string };
  if (e?.name === "CredentialsProviderError" || /credential/i.test(e?.message ?? "")) {
    return `no AWS credentials (${e.message}); set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for an identity allowed pricing:GetProducts`;
  }
  return `${e?.name ?? "Error"}: ${e?.message ?? String(error)}`;
}
