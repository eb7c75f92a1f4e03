import * as fs from "node:fs";
import * as path from "node:path";
import { environmentEstimate, totalText } from "../../src/cost/report";
import { PROJECT_ROOT } from "../../src/project-root";
import { SHIPPED_ENVIRONMENTS, shippedStack } from "../shipped";
import { readPage } from "./markdown";

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
  const estimate = (name: string) => {
    const env = SHIPPED_ENVIRONMENTS.find((e) => e.name === name)!;
    return totalText(environmentEstimate(env, shippedStack(name).doc));
  };

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
