import * as fs from "node:fs";
import * as path from "node:path";
import type { Synthesized } from "../helpers";
import { appDbSplit, loadBalanced, singleServer } from "./stacks";

// `ignore_changes` hides a difference from every plan, and the drift report sets it aside: each one
// must be an attribute AWS or autoscaling changes by design, or one whose value is fixed at creation
// on purpose, with the reason next to it in the code and in docs/plan-review-and-drift.md. This audit fails when one is
// added or dropped without that review.
const ROOT = path.join(__dirname, "..", "..");

/** Every ignore_changes entry of a stack, as `<type>.<attribute>`. */
function ignoredAttributes(stack: Synthesized): string[] {
  return Object.entries(stack.doc.resource ?? {}).flatMap(([type, blocks]) =>
    Object.values(blocks as Record<string, any>).flatMap((block) =>
      [block.lifecycle?.ignore_changes ?? []].flat().map((attribute: string) => `${type}.${attribute}`),
    ),
  );
}

const pinnedMinor = () => appDbSplit({ engineVersion: "16.4" });

/** The audited ignores and why AWS or autoscaling changes each one. */
const AUDITED: Record<string, string> = {
  "aws_instance.ami": "a new Amazon Linux release would replace the server and lose what is on it",
  "aws_instance.user_data_base64": "user data runs only at first boot; a change would replace the server",
  "aws_autoscaling_group.desired_capacity": "target tracking moves it between min and max",
  "aws_autoscaling_group.initial_lifecycle_hook":
    "it matters only at creation, and a change replaces the group; the hook's own resource manages it after",
  "aws_db_instance.engine_version": "RDS upgrades a pinned minor version itself (only when a minor is pinned)",
  "aws_db_instance.final_snapshot_identifier":
    "named with the instance's creation time, so that each destroy leaves a snapshot of its own name; timestamp() differs at every plan",
};

describe("ignore_changes audit", () => {
  test("every layout ignores exactly the audited attributes, and nothing else", () => {
    const found = new Set([singleServer(), appDbSplit(), loadBalanced(), pinnedMinor()].flatMap(ignoredAttributes));
    expect([...found].sort()).toEqual(Object.keys(AUDITED).sort());
  });

  test("each ignoreChanges in the constructs has a comment right above it saying why", () => {
    const dir = path.join(ROOT, "src", "constructs");
    const uncommented = fs.readdirSync(dir).flatMap((file) => {
      const lines = fs.readFileSync(path.join(dir, file), "utf8").split("\n");
      return lines
        .map((line, i) => ({ line, above: lines[i - 1] ?? "", where: `${file}:${i + 1}` }))
        .filter(({ line }) => /ignoreChanges:/.test(line))
        .filter(({ above }) => !/^\s*(\/\/|\*)/.test(above))
        .map(({ where }) => where);
    });
    expect(uncommented).toEqual([]);
  });

  test("the Drift section of docs/plan-review-and-drift.md names every ignored attribute", () => {
    const page = fs.readFileSync(path.join(ROOT, "docs", "plan-review-and-drift.md"), "utf8");
    const drift = page.slice(page.indexOf("\n## Drift"));
    expect(drift.length).toBeGreaterThan(100);
    for (const attribute of Object.keys(AUDITED).map((a) => a.split(".")[1]))
      expect(drift).toContain(`\`${attribute}\``);
  });
});
