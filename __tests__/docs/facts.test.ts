import * as fs from "node:fs";
import * as path from "node:path";
import { costChangeSummary, environmentEstimate, totalText } from "../../src/cost/report";
import { rolloutTimeoutSeconds } from "../../src/ops/rollout";
import { PROJECT_ROOT } from "../../src/project-root";
import { SHIPPED_ENVIRONMENTS, shippedStack } from "../shipped";
import { parseEnvironment } from "../../src/config/load";
import { BACKUP_SCHEDULE } from "../../src/stacks/database-wiring";
import { SERVER_PATHS } from "../../src/userdata/app-host";
import { dbBackupUnits } from "../../src/userdata/local-database";
import { environmentFile } from "../helpers";
import { readPage, splitFences } from "./markdown";

// Facts the documentation states about what the code produces, checked against it: the outputs
// each layout synthesizes, and the monthly cost of each shipped environment wherever a page gives it.
// Reads the run's shared synthesis of the shipped environments (one of each layout).
const read = (page: string) => readPage(PROJECT_ROOT, page);

/** The rows of the table between `<!-- outputs:start -->` and `<!-- outputs:end -->`. */
function outputsTable(page: string): { name: string; layouts: string }[] {
  const text = read(page);
  const table = text.slice(text.indexOf("<!-- outputs:start -->"), text.indexOf("<!-- outputs:end -->"));
  return table
    .split("\n")
    .filter((l) => /^\| `/.test(l))
    .map((l) => {
      const [, name, layouts] = l.split("|").map((c) => c.trim());
      return { name: name.replace(/`/g, ""), layouts };
    });
}

/** Whether a row's "layouts" cell covers `layout` unconditionally (no "when ..."). */
function always(layouts: string, layout: string): boolean {
  return !/when/.test(layouts) && (layouts === "all" || layouts.split(", ").includes(layout));
}

describe("the outputs table (docs/layouts.md)", () => {
  const rows = outputsTable("docs/layouts.md");
  const documented = new Map(rows.map((r) => [r.name, r.layouts]));

  test.each(SHIPPED_ENVIRONMENTS.map((env) => [env.name, env.layout] as const))(
    "%s (%s): every output it synthesizes is documented for its layout, and every output documented for it is there",
    (name, layout) => {
      const synthesized = Object.keys(shippedStack(name).doc.output ?? {}).sort();
      const undocumented = synthesized.filter((o) => {
        const layouts = documented.get(o);
        return layouts === undefined || !(layouts.startsWith("all") || layouts.includes(layout));
      });
      expect(undocumented).toEqual([]);
      const expected = rows.filter((r) => always(r.layouts, layout)).map((r) => r.name);
      expect(expected.filter((o) => !synthesized.includes(o))).toEqual([]);
    },
  );

  test("every output the code declares has a row (conditional ones too: connect_ssh, policy_exceptions)", () => {
    const dir = path.join(PROJECT_ROOT, "src", "stacks");
    const declared = fs
      .readdirSync(dir)
      .flatMap((file) => [
        ...fs.readFileSync(path.join(dir, file), "utf8").matchAll(/new TerraformOutput\(\w+, "([a-z_]+)"/g),
      ])
      .map((m) => m[1]);
    expect(declared).toEqual(expect.arrayContaining(["connect_ssh", "policy_exceptions", "url"]));
    expect([...new Set(declared)].filter((o) => !documented.has(o))).toEqual([]);
    expect(rows.map((r) => r.name).filter((o) => !declared.includes(o))).toEqual([]);
  });

  test("the shipped layouts cover every layout the table names", () => {
    const layouts = new Set(SHIPPED_ENVIRONMENTS.map((e) => e.layout));
    expect([...layouts].sort()).toEqual(["app-db-split", "load-balanced", "single-server"]);
  });
});

describe("monthly costs the pages state", () => {
  const estimateOf = (name: string) => {
    const env = SHIPPED_ENVIRONMENTS.find((e) => e.name === name)!;
    return environmentEstimate(env, shippedStack(name).doc);
  };
  const estimate = (name: string) => totalText(estimateOf(name));

  test("docs/cost.md's example of a plan's cost line is staging grown into prod, as the code prices them", () => {
    const line = costChangeSummary({ before: estimateOf("staging"), after: estimateOf("prod") });
    expect(read("docs/cost.md")).toContain(`\`**Monthly cost** (on-demand estimate, …): ${line}\``);
  });

  test.each(["docs/layouts.md", "docs/ko/layouts.md"])(
    "%s: each layout's shipped environments cost what npm run cost says",
    (page) => {
      // rows whose "shipped as" cell names environments and whose last cell gives their costs
      const rows = read(page)
        .split("\n")
        .filter((l) => /^\| `(single-server|app-db-split|load-balanced)`/.test(l));
      expect(rows).toHaveLength(3);
      for (const row of rows) {
        const cells = row.split("|").map((c) => c.trim());
        const names = cells.at(-3)!.split(/,\s*/);
        const costs = cells.at(-2)!.split(/,\s*/);
        expect(costs.length).toBe(names.length);
        names.forEach((name, i) => expect([name, costs[i]]).toEqual([name, estimate(name)]));
      }
    },
  );
});

describe("the single server's recovery point and restore, as the pages state them", () => {
  // The timer starts the dump at OnCalendar plus a random delay of up to RandomizedDelaySec (it
  // only delays): two dumps can start 24 h + that delay apart.
  const timer = dbBackupUnits(SERVER_PATHS, {
    engine: "postgres",
    serverPackage: "postgresql16-server",
    port: 5432,
    name: "app",
    username: "app",
    backupBucketParameter: "/p",
    backupPrefix: "db/",
    backupSchedule: BACKUP_SCHEDULE,
  }).timer;
  const delayMinutes = Number(/\nRandomizedDelaySec=(\d+)min\n/.exec(timer)![1]);
  const hhmm = (minutes: number) =>
    `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;
  const start = Number(/(\d\d):(\d\d):00 UTC/.exec(BACKUP_SCHEDULE)![1]) * 60;

  test.each([
    ["docs/layouts.md", `24 h ${delayMinutes} min`],
    ["docs/database.md", `24 h ${delayMinutes} min`],
    ["docs/ko/layouts.md", `24시간 ${delayMinutes}분`],
  ])("%s gives the recovery point as %s and the window the dump starts in, never '±'", (page, rpo) => {
    const text = read(page);
    expect(text).toContain(rpo);
    expect(text).not.toMatch(/±\s*\d+\s*min|24 hours of writes|최대 24시간(?! \d)/);
    if (page !== "docs/ko/layouts.md") expect(text).toContain(`${hhmm(start)} and ${hhmm(start + delayMinutes)} UTC`);
  });

  test.each(["docs/layouts.md", "docs/ko/layouts.md"])(
    "%s: a restore stops the app first and deploys after, and no page says a new server restores by itself",
    (page) => {
      const block = splitFences(read(page)).blocks.find((b) => b.lines.some((l) => l.includes("db-restore latest")))!;
      const commands = block.lines.map((l) => l.replace(/\s+#.*$/, "").trim());
      const stop = commands.indexOf("sudo systemctl stop 'app@*'");
      const restore = commands.indexOf("sudo /opt/app/bin/db-restore latest");
      const deploy = commands.findIndex((c) => c.startsWith("sudo /opt/app/bin/deploy "));
      expect(stop).toBeGreaterThanOrEqual(0);
      expect([stop < restore, restore < deploy]).toEqual([true, true]);
      expect(read(page)).not.toMatch(/boots by itself|comes back from the newest dump/);
    },
  );
});

test("docs/database.md quotes the config error for an engine version AL2023 lacks as the code prints it", () => {
  const text = read("docs/database.md");
  const quoted = /`(environments\/dev: database\.engineVersion[^`]*)`/.exec(text)![1].replace(/\s*\n\s*/g, " ");
  const file = environmentFile({
    layout: "single-server",
    network: { cidr: "10.50.0.0/16", availabilityZones: ["ap-northeast-2a", "ap-northeast-2c"], natGateways: "none" },
    app: { instanceType: "t3.micro", version: "1.0.0" },
    database: { engine: "postgres", engineVersion: "14" },
  });
  expect(parseEnvironment("dev", file).problems.map((p) => `environments/dev: ${p}`)).toEqual([quoted]);
});

test.each(["docs/operations.md", "docs/ko/operations.md"])(
  "%s abandons a stuck boot with the hook's own name, and gives the shipped timeout",
  (page) => {
    const [group] = shippedStack("staging").resources("aws_autoscaling_group");
    const hook = group.values.initial_lifecycle_hook[0];
    expect(read(page)).toContain(
      `--lifecycle-hook-name ${hook.name} --instance-id <id> --lifecycle-action-result ABANDON`,
    );
    expect(read(page)).toContain((hook.heartbeat_timeout as number).toLocaleString("en-US"));
  },
);

test.each(["docs/layouts.md", "docs/ko/layouts.md"])(
  "%s gives the launch hook's timeout of staging (RDS, 3 processes) as the stack sets it",
  (page) => {
    const [group] = shippedStack("staging").resources("aws_autoscaling_group");
    const env = SHIPPED_ENVIRONMENTS.find((e) => e.name === "staging")!;
    expect([env.app.processes, env.layout]).toEqual([3, "load-balanced"]);
    const seconds: number = group.values.initial_lifecycle_hook[0].heartbeat_timeout;
    expect(read(page)).toContain(seconds.toLocaleString("en-US"));
  },
);

test("docs/releases.md gives wait-rollout's wait for prod as the code reckons it", () => {
  const group = shippedStack("prod").resources("aws_autoscaling_group")[0].values;
  const halfHours = rolloutTimeoutSeconds(group) / 1800;
  expect(Math.abs(halfHours - Math.round(halfHours))).toBeLessThan(0.1); // the page's figure is within 3 minutes
  expect(read("docs/releases.md")).toContain(
    `${Math.round(halfHours) / 2} h for prod (${group.min_size} to ${group.max_size} servers)`,
  );
});

test("the --replace example in docs/plan-review-and-drift.md names a resource dev really has (the address terraform state list shows)", () => {
  const [, address] = read("docs/plan-review-and-drift.md").match(/npm run plan -- dev --replace '([^']+)'/) ?? [];
  const [type, name] = (address ?? "").split(".");
  expect(Object.keys((shippedStack("dev").doc as any).resource?.[type] ?? {})).toContain(name);
});
