import * as fs from "node:fs";
import * as path from "node:path";
import { costCommand } from "../../src/cost/command";
import { displayPath } from "../../src/config/load";
import { environmentEstimate, totalText } from "../../src/cost/report";
import { printSynthSummary, summaryRow, summaryTable, useColor } from "../../src/summary";
import { environmentFolders, tempDir } from "../helpers";
import { SHIPPED_ENVIRONMENTS, shippedStack } from "../shipped";

// Every shipped environment, as `npm run synth` writes it (synthesized once for every test file),
// priced and summarized.
const ENVIRONMENTS = SHIPPED_ENVIRONMENTS;
const docs = new Map(ENVIRONMENTS.map((env) => [env.name, shippedStack(env.name).doc]));
const cases = ENVIRONMENTS.map((env) => [env.name, env] as const);

describe("the cost of the shipped environments", () => {
  test.each(cases)("%s: every line of its estimate has a price, and the total is their sum", (_name, env) => {
    const estimate = environmentEstimate(env, docs.get(env.name)!);
    expect(estimate.lines.filter((l) => l.monthly === undefined)).toEqual([]);
    expect(estimate.complete).toBe(true);
    expect(estimate.total).toBeCloseTo(
      estimate.lines.reduce((n, l) => n + l.monthly!, 0),
      10,
    );
    // The app servers and, where there is one, the database are priced.
    expect(estimate.lines.map((l) => l.item)).toEqual(expect.arrayContaining(["EC2", "EBS gp3", "Public IPv4"]));
    if (env.layout !== "single-server") expect(estimate.lines.map((l) => l.item)).toContain("RDS instance");
  });

  test("each environment the README's table shows has its estimated monthly total", () => {
    // The table documents the shipped environments; a folder added later needs no row, so the
    // rows are read from the README and each is checked against its folder.
    const readme = fs.readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");
    // the table's header, however its columns are padded (prettier aligns them)
    const table = readme.slice(readme.search(/^\| *env *\| *layout *\|/m));
    const rows = table.slice(0, table.indexOf("\n\n")).split("\n").slice(2);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      const name = row.split("|")[1].trim();
      const env = ENVIRONMENTS.find((e) => e.name === name);
      expect([name, env !== undefined]).toEqual([name, true]);
      expect([name, row.split("|").at(-2)?.trim()]).toEqual([
        name,
        totalText(environmentEstimate(env!, docs.get(name)!)),
      ]);
    }
  });

  test("production costs more than staging, staging more than dev: the estimate follows the config", () => {
    const total = (name: string) =>
      environmentEstimate(
        ENVIRONMENTS.find((e) => e.name === name)!,
        docs.get(name)!,
      ).total;
    expect(total("prod")).toBeGreaterThan(total("staging"));
    expect(total("staging")).toBeGreaterThan(total("dev"));
  });

  test("a cost: section in the file changes the usage lines, not the prices", () => {
    const prod = ENVIRONMENTS.find((e) => e.name === "prod")!;
    const busier = { ...prod, cost: { ...prod.cost, natProcessedGbPerMonth: prod.cost.natProcessedGbPerMonth + 1000 } };
    const line = (env: typeof prod) =>
      environmentEstimate(env, docs.get("prod")!).lines.find((l) => l.item === "NAT data processed")!;
    expect(line(busier).monthly! - line(prod).monthly!).toBeCloseTo(1000 * 0.059, 6);
    expect(line(busier).basis).toBe("assumption");
  });

  test("npm run cost prints each environment's lines and the sum; an unknown name is one clear line", async () => {
    const out: string[] = [];
    // run from a folder of its own: nothing, not even an empty cdktf.out/stacks, is left where it runs
    // (npm run synth refuses to replace a folder that is not an earlier output)
    const cwd = process.cwd();
    const elsewhere = tempDir("cost-cwd-");
    process.chdir(elsewhere);
    try {
      expect(await costCommand(["dev", "prod"], { out: (t) => out.push(t) })).toBe(0);
      expect(fs.readdirSync(elsewhere)).toEqual([]);
    } finally {
      process.chdir(cwd);
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }
    const text = out.join("\n");
    expect(text).toMatch(/^dev \(ap-northeast-2\): \$[\d,.]+ a month, on-demand, estimated$/m);
    expect(text).toMatch(/^ {2}RDS instance +\$[\d,.]+ +db\.m7g\.large postgres Multi-AZ, 2 x 730 h x/m);
    expect(text).toMatch(/^All 2: \$[\d,.]+ a month\.$/m);
    expect(text).not.toContain("dr-osaka");

    const errors: string[] = [];
    expect(await costCommand(["prdo"], { err: (t) => errors.push(t) })).toBe(1);
    expect(errors).toEqual([
      `cost: unknown environment "prdo" (the environments are ${environmentFolders().join(", ")})`,
    ]);
  });

  test("an app.version that is not a release is one line naming the folder, as a synth says it, not a stack trace", async () => {
    const dir = tempDir("cost-unreleased-");
    try {
      fs.mkdirSync(path.join(dir, "dev"));
      const dev = fs.readFileSync(path.join(__dirname, "..", "..", "environments", "dev", "config.yaml"), "utf8");
      fs.writeFileSync(path.join(dir, "dev", "config.yaml"), dev.replace(/version: "[^"]+"/, 'version: "9.9.9"'));
      const errors: string[] = [];
      expect(await costCommand([], { environmentsDir: dir, err: (t) => errors.push(t) })).toBe(1);
      expect(errors[0]).toBe("cost: 1 problem(s) in the environment folders:");
      // the folder as a synth with ENVIRONMENTS_DIR=<dir> names it
      expect(errors[1].startsWith(`  ${displayPath(dir)}/dev: app.version "9.9.9" is not a release`)).toBe(true);
      expect(errors.join("\n")).not.toMatch(/^\s+at /m);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the synth summary", () => {
  const rows = ENVIRONMENTS.map((env) => summaryRow(env, docs.get(env.name)!));
  const row = (name: string) => rows.find((r) => r.environment === name)!;

  test("says where each environment runs, what it is and what it costs", () => {
    expect(row("dev")).toMatchObject({
      region: "ap-northeast-2 Seoul",
      layout: "single-server",
      azs: "2 (a,c)",
      appServers: "t3.small x 1",
      database: "postgres 16 on the server",
      nat: "none",
      state: "local",
    });
    expect(row("dr-osaka")).toMatchObject({
      region: "ap-northeast-3 Osaka",
      database: "mysql 8.4 db.t4g.small Single-AZ",
    });
    expect(row("prod")).toMatchObject({
      azs: "3 (a,b,c)",
      appServers: "m7g.large x 3 (3-9)",
      database: "postgres 16 db.m7g.large Multi-AZ",
      nat: "3 (per-az)",
    });
    expect(row("staging").nat).toBe("1 (single)");
    for (const r of rows) {
      const doc = docs.get(r.environment)!;
      const count = Object.values(doc.resource ?? {}).reduce<number>(
        (n, byName) => n + Object.keys(byName as object).length,
        0,
      );
      expect(r.resources).toBe(String(count));
      expect(r.monthly).toMatch(/^\$[\d,]+\.\d\d$/);
    }
  });

  test("is plain text off a terminal (no escape codes), bold headers only on one", () => {
    const plain = summaryTable(rows);
    expect(plain).not.toMatch(/\x1b/);
    expect(plain.split("\n")[0]).toMatch(
      /^Environment +Region +Layout +AZs +App servers +Database +NAT +State +Resources +Monthly \(est\.\)$/,
    );
    expect(plain.split("\n")).toHaveLength(1 + ENVIRONMENTS.length);
    expect(summaryTable(rows, { color: true })).toMatch(/^\x1b\[1mEnvironment/);
    expect(useColor({ isTTY: false }, {})).toBe(false);
    expect(useColor({ isTTY: true }, { CI: "true" })).toBe(false);
    expect(useColor({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    // a terminal that shows escape codes as text (review DP)
    expect(useColor({ isTTY: true }, { TERM: "dumb" })).toBe(false);
    expect(useColor({ isTTY: true }, {})).toBe(true);
  });

  // (what it costs is part of the synth's time, which `npm run bench` measures: not a timed test)
  test("printed after a synth, it reads the written stacks", () => {
    const outdir = tempDir("summary-");
    for (const [name, doc] of docs) {
      fs.mkdirSync(path.join(outdir, "stacks", name), { recursive: true });
      fs.writeFileSync(path.join(outdir, "stacks", name, "cdk.tf.json"), JSON.stringify(doc));
    }
    let printed = "";
    const names = ENVIRONMENTS.map((e) => e.name);
    printSynthSummary(ENVIRONMENTS, outdir, names, (t) => (printed = t), false);
    expect(printed).toContain("ap-northeast-3 Osaka");
    expect(printed).not.toMatch(/\x1b/);

    // A selective synth (ENVIRONMENTS=dev) summarizes only what it wrote.
    printSynthSummary(ENVIRONMENTS, outdir, ["dev"], (t) => (printed = t), false);
    expect(printed.split("\n").filter((l) => /^(dev|prod|staging|dr-osaka) /.test(l))).toHaveLength(1);
    // and one that wrote no environment's stack prints nothing, not a header alone (review DP)
    printed = "unchanged";
    printSynthSummary(ENVIRONMENTS, outdir, ["state-bucket"], (t) => (printed = t), false);
    expect(printed).toBe("unchanged");
  });
});
