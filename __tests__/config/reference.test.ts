import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import { readReleases } from "../../src/artifact/releases";
import { loadEnvironments } from "../../src/config/load";
import { placeholderFindings } from "../../src/config/placeholders";
import {
  environmentFileJsonSchema,
  referenceFields,
  referenceIn,
  referenceTable,
  withReference,
} from "../../src/config/reference";
import { environmentSchema } from "../../src/config/schema";
import { PROJECT_ROOT } from "../../src/project-root";
import { splitFences } from "../docs/markdown";
import { tempDir } from "../helpers";

// docs/configuration.md: its field reference is generated from the zod schema (npm run schema), and
// its "every field" example is a real, valid, complete environment file.
const PAGE = fs.readFileSync(path.join(PROJECT_ROOT, "docs", "configuration.md"), "utf8");

/** The YAML block right after `<!-- example:<name> -->`. */
function example(name: string): string {
  const marker = PAGE.indexOf(`<!-- example:${name} -->`);
  expect(marker).toBeGreaterThan(0);
  const after = PAGE.slice(marker);
  const block = splitFences(after).blocks[0];
  expect(block.lang).toBe("yaml");
  return block.lines.join("\n");
}

/** `b` laid over `a` as the page says: `access.ssh` and `state` replace theirs, other objects merge. */
function overlay(a: unknown, b: unknown, key = ""): unknown {
  if (!isObject(a) || !isObject(b) || Array.isArray(a) || Array.isArray(b)) return b;
  if (key === "ssh" || key === "state") return b;
  const merged: Record<string, unknown> = { ...a };
  for (const [k, value] of Object.entries(b)) merged[k] = overlay(a[k], value, k);
  return merged;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

/** The field paths a parsed file sets, in the reference's spelling (`exceptions[].rule`, `tags.<key>`). */
function pathsSet(value: unknown, prefix = ""): string[] {
  if (Array.isArray(value)) {
    const items = value.filter(isObject).flatMap((item) => pathsSet(item, `${prefix}[]`));
    return [prefix, ...items];
  }
  if (!isObject(value)) return [prefix];
  if (prefix === "tags") return ["tags.<key>"];
  return Object.entries(value).flatMap(([key, child]) => pathsSet(child, prefix ? `${prefix}.${key}` : key));
}

/**
 * Loads an environment folder `prod` holding `yaml` through the real loader (as `npm run synth`
 * does), beside copies of the shipped folders named in `beside` (an environment it refers to).
 */
function load(yaml: string, beside: readonly string[] = []) {
  const dir = tempDir("every-field-");
  fs.mkdirSync(path.join(dir, "prod"));
  fs.writeFileSync(path.join(dir, "prod", "config.yaml"), yaml);
  for (const name of beside) {
    fs.mkdirSync(path.join(dir, name));
    fs.copyFileSync(path.join(PROJECT_ROOT, "environments", name, "config.yaml"), path.join(dir, name, "config.yaml"));
  }
  return loadEnvironments({ dir }).find((env) => env.name === "prod")!;
}

describe("the field reference", () => {
  test("docs/configuration.md holds the table the schema generates (run npm run schema after changing it)", () => {
    expect(referenceIn(PAGE)).toBe(referenceTable());
  });

  test("documents every field of the schema, each with what it accepts and what it does", () => {
    const documented = referenceIn(PAGE)
      .split("\n")
      .slice(2)
      .filter(Boolean)
      .map((row) => /^\| `([^`]+)`/.exec(row)![1]);
    const fields = referenceFields();
    expect(fields.length).toBeGreaterThan(70);
    expect(documented).toEqual(fields.map((f) => f.path));
    for (const f of fields)
      expect([f.path, f.accepts.length > 0, f.description.length > 0]).toEqual([f.path, true, true]);
    for (const p of [
      "database.multiAz",
      "app.detailedMonitoring",
      "state.bucket",
      "monitoring.thresholds.latencyP99Ms",
    ])
      expect(documented).toContain(p);
  });

  test("a field added to the schema shows up as undocumented", () => {
    // given the schema with one more field
    const extended = environmentSchema.extend({
      backupWindow: z.string().optional().describe("When RDS takes its daily backup"),
    });
    // then the generated table has a row the committed page lacks
    const fields = referenceFields(environmentFileJsonSchema(extended));
    const row = fields.find((f) => f.path === "backupWindow");
    expect(row).toEqual({ path: "backupWindow", accepts: "text", description: "When RDS takes its daily backup" });
    expect(referenceTable(fields)).not.toBe(referenceIn(PAGE));
  });

  test("rows say what is required, defaults, variants and limits", () => {
    const byPath = new Map(referenceFields().map((f) => [f.path, f]));
    expect(byPath.get("project")!.default).toBe("**required**");
    expect(byPath.get("loadBalancer.accessLogs")).toMatchObject({ accepts: "`true` or `false`", default: "`false`" });
    // a default that depends on the layout is described, not given one value
    expect(byPath.get("network.natGateways")).toMatchObject({
      accepts: "one of: `single`, `per-az`, `none`",
      description: expect.stringContaining("Default: single with layout load-balanced"),
    });
    expect(byPath.get("access.ssh.allowedCidrs")!.default).toBe("required with `access.ssh`");
    expect(byPath.get("exceptions[].reason")!.default).toBe("required in each item");
    expect(byPath.get("state.organization")).toMatchObject({ variant: "cloud", default: "**required**" });
    expect(byPath.get("app.processes")!.accepts).toBe("an integer from 1 to 32");
    // RDS takes 1-35 days, the single server's dumps any whole number: the limit is per layout, and
    // zod's integer bound (Number.MAX_SAFE_INTEGER) is no limit to print
    expect(byPath.get("database.backupRetentionDays")!.accepts).toBe("an integer from 1");
    expect(byPath.get("monitoring.thresholds.target5xxPercent")!.accepts).toBe("a number above 0, at most 100");
  });

  test("the markers are required, and only the text between them is replaced", () => {
    const page =
      "intro\n<!-- config-reference:start (npm run schema writes this table) -->\nold\n<!-- config-reference:end -->\nend\n";
    expect(withReference(page, "new\n")).toBe(
      "intro\n<!-- config-reference:start (npm run schema writes this table) -->\nnew\n<!-- config-reference:end -->\nend\n",
    );
    expect(() => referenceIn("no markers")).toThrow(
      /docs\/configuration\.md: the markers .* must enclose the reference/,
    );
  });
});

describe("the every-field example", () => {
  const every = example("every-field");
  const alternatives = example("alternatives");
  const fixedServer = example("fixed-server");

  test("validates through the real loader, with only the example values left to replace", () => {
    const env = load(every);
    expect(env).toMatchObject({ name: "prod", production: true, layout: "load-balanced" });
    expect(env.database).toMatchObject({ multiAz: true, deletionProtection: true });
    expect(env.state).toEqual({
      backend: "s3",
      bucket: "acme-tfstate",
      key: "shop/prod/terraform.tfstate",
      region: "ap-northeast-2",
    });
    // documentation placeholders would be errors in production; example values are warnings only
    expect(placeholderFindings(env).map((f) => f.kind)).toEqual(expect.arrayContaining(["example"]));
    expect(placeholderFindings(env).filter((f) => f.kind === "placeholder")).toEqual([]);
    // and its app.version is a release, so a copy synthesizes
    expect(readReleases(PROJECT_ROOT).has(env.app.version)).toBe(true);
  });

  test("the alternatives laid over it validate too: another environment's release, public key, waiver, own certificate, HCP Terraform", () => {
    // (beside the shipped staging, whose release app.sameReleaseAs holds it to)
    const env = load(JSON.stringify(overlay(parse(every), parse(alternatives))), ["staging"]);
    expect(env.app.sameReleaseAs).toBe("staging");
    expect(env.access.ssh).toMatchObject({ publicKey: expect.stringMatching(/^ssh-ed25519 /) });
    expect(env.access.ssh!.keyName).toBeUndefined();
    expect(env.exceptions).toEqual([{ rule: "database.multiAz", reason: expect.any(String) }]);
    expect(env.loadBalancer.certificateArn).toMatch(/^arn:aws:acm:ap-northeast-2:/);
    expect(env.state).toEqual({
      backend: "cloud",
      organization: "acme",
      workspace: "shop-prod",
      hostname: "app.terraform.io",
    });
  });

  test("the fixed server's field laid over dev's file validates too: its OS release", () => {
    const dev = fs.readFileSync(path.join(PROJECT_ROOT, "environments", "dev", "config.yaml"), "utf8");
    const env = load(JSON.stringify(overlay(parse(dev), parse(fixedServer))));
    expect(env.layout).toBe("single-server");
    expect(env.app.osRelease).toMatch(/^2023\./);
  });

  test("between them, every field of the reference is set", () => {
    const set = new Set([...pathsSet(parse(every)), ...pathsSet(parse(alternatives)), ...pathsSet(parse(fixedServer))]);
    const missing = referenceFields()
      .map((f) => f.path)
      .filter((p) => !set.has(p));
    expect(missing).toEqual([]);
  });

  test("a copied placeholder is caught: the old example's certificate/... ARN fails validation", () => {
    const old = every.replace(
      "  https: true",
      "  https: true\n  certificateArn: arn:aws:acm:ap-northeast-2:111122223333:certificate/...",
    );
    expect(() => load(old)).toThrow(/loadBalancer\.certificateArn must be an ACM certificate ARN/);
  });
});
