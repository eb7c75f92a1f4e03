import * as fs from "node:fs";
import * as path from "node:path";
import { Testing } from "cdktf";
import { bumpAmiPin, bumpedMessage } from "../../src/ops/ami-pin";
import { PROJECT_ROOT } from "../../src/project-root";
import { planReviewMarkdown, planReviewText, reviewPlan } from "../../src/ops/plan-review";
import { LAYOUT_STACKS } from "../../src/stacks/layouts";
import { environment, productionEnvironmentFile, ref, synth } from "../helpers";
import { create, destroy, planDocument, resourceChange, update } from "./plan-fixtures";
import { address, documentOf } from "./stacks";

/**
 * Production pins its AMI: a new Amazon Linux release rolls the fleet only when someone bumps it,
 * and `npm run plan` names why a plan rolls the servers: a new release, a bump, or the change under review.
 */

const stackOf = (overrides: Record<string, unknown>) => {
  const env = environment("prod", overrides);
  return synth(new LAYOUT_STACKS[env.layout](Testing.app(), env.name, { env }));
};
const pinned = stackOf(productionEnvironmentFile());
const following = stackOf({ loadBalancer: { https: false } }); // not production: follows AWS's newest
const template = (stack: ReturnType<typeof stackOf>) => address(stack, "aws_launch_template", "LaunchTemplate");

describe("the AMI in production", () => {
  test("is read from AWS once and kept in state until app.amiPinnedAt changes", () => {
    const pin = pinned.named("terraform_data", "AmiPin");
    const parameter = pinned.named("aws_ssm_parameter", "Al2023Ami", true);
    expect(pin.values.input.ami).toBe(ref(parameter, "data.aws_ssm_parameter", "insecure_value"));
    expect(pin.values.lifecycle.ignore_changes).toEqual(["input"]); // later reads are ignored
    expect(pin.values.triggers_replace).toEqual({ pinnedAt: "first-apply" }); // a bump replaces it, reading again
    expect(pinned.resources("aws_launch_template")[0].values.image_id).toBe(
      `\${terraform_data.${pin.name}.output.ami}`,
    );
  });

  test("outside production, or with amiUpdates: latest, the launch template follows AWS's parameter", () => {
    expect(following.countOf("terraform_data")).toBe(0);
    expect(following.resources("aws_launch_template")[0].values.image_id).toMatch(
      /^\$\{data\.aws_ssm_parameter\..*\.insecure_value\}$/,
    );
    // (production keeps a pinned AMI unless the environment waives that rule, with its reason)
    const optedOut = stackOf(
      productionEnvironmentFile({
        app: { ...productionEnvironmentFile().app, amiUpdates: "latest" },
        exceptions: [{ rule: "app.amiUpdates", reason: "patched within the day; the team rolls on every apply" }],
      }),
    );
    expect(optedOut.countOf("terraform_data")).toBe(0);
  });

  test("what npm run bump-ami says: a fleet rolls at the next apply; a fixed server does not, and its packages are app.osRelease's (review DF)", () => {
    const where = "environments/x/config.yaml";
    expect(bumpedMessage("layout: load-balanced\napp:\n  amiUpdates: pinned\n", "prod", where)).toBe(
      `${where}: app.amiPinnedAt bumped; npm run plan -- prod shows the roll onto the newest Amazon Linux 2023`,
    );
    for (const layout of ["single-server", "app-db-split"]) {
      expect(bumpedMessage(`layout: ${layout}\napp:\n  amiUpdates: pinned\n`, "dev", where)).toBe(
        `${where}: app.amiPinnedAt bumped: from the next apply, a replacement server would start from the newest Amazon ` +
          `Linux 2023, but layout ${layout} keeps its running server and its AMI, so npm run plan -- dev shows no ` +
          "roll; to update that server's packages, set app.osRelease (docs/operations.md#os-updates)",
      );
    }
  });

  test("npm run bump-ami sets app.amiPinnedAt and keeps the file's comments", () => {
    const text = '# prod\nproduction: true\napp:\n  instanceType: m7g.large # Graviton\n  version: "1.0.0"\n';
    const bumped = bumpAmiPin(text, new Date("2026-12-03T06:07:08Z"), "environments/prod/config.yaml");
    expect(bumped).toBe(
      '# prod\nproduction: true\napp:\n  instanceType: m7g.large # Graviton\n  version: "1.0.0"\n  amiPinnedAt: 2026-12-03T06:07Z\n',
    );
    // a second bump replaces the value where it is written
    expect(bumpAmiPin(bumped, new Date("2026-12-05T01:02:03Z"), "x")).toBe(
      bumped.replace("2026-12-03T06:07Z", "2026-12-05T01:02Z"),
    );
    expect(() => bumpAmiPin("app:\n  ami: ami-0123456789abcdef0\n", new Date(), "x")).toThrow(
      /app\.ami is the fixed id/,
    );
    expect(() => bumpAmiPin("app:\n  amiUpdates: latest\n", new Date(), "x")).toThrow(/already follows/);
    // outside production, latest is the default: nothing is pinned, and saying it rolls would be false
    expect(() => bumpAmiPin('app:\n  version: "1.0.0"\n', new Date(), "environments/dev/config.yaml")).toThrow(
      "environments/dev/config.yaml: app.amiUpdates is latest (the default outside production): every apply already follows the newest Amazon Linux 2023",
    );
    expect(() => bumpAmiPin("app:\n  amiUpdates: pinned\n", new Date(), "x")).not.toThrow();
  });

  test("a pin written as a block scalar is refused, not bumped into a file that no longer loads; merge keys read as the loader reads them", () => {
    const now = new Date("2026-12-05T15:33:00Z");
    for (const style of ["|-", ">-"]) {
      const text = `production: true\napp:\n  amiPinnedAt: ${style}\n    2026-12-01T00:00Z\n  instanceType: m7g.large\n`;
      expect(() => bumpAmiPin(text, now, "x")).toThrow(
        "x: could not set app.amiPinnedAt without changing anything else; set app.amiPinnedAt: 2026-12-05T15:33Z by hand",
      );
    }
    // app's pinned updates from a merge key, as the loader (and npm run compare) read them
    const merged = "defaults: &ami\n  amiUpdates: pinned\napp:\n  <<: *ami\n  instanceType: m7g.large\n";
    expect(bumpAmiPin(merged, now, "x")).toBe(`${merged}  amiPinnedAt: 2026-12-05T15:33Z\n`);
  });

  test("bumping the shipped prod adds one line and changes nothing else in the file (flow lists, long lines, comments)", () => {
    const file = path.join(PROJECT_ROOT, "environments", "prod", "config.yaml");
    const text = fs.readFileSync(file, "utf8");
    const bumped = bumpAmiPin(text, new Date("2026-12-03T06:07:08Z"), "environments/prod/config.yaml");
    const [before, after] = [text.split("\n"), bumped.split("\n")];
    expect(after.filter((line) => !before.includes(line))).toEqual(["  amiPinnedAt: 2026-12-03T06:07Z"]);
    expect(before.filter((line) => !after.includes(line))).toEqual([]);
    expect(after).toHaveLength(before.length + 1);
  });

  test("the pin goes at the end of app, indented as app's fields, wherever app is and however its last field is written", () => {
    const now = new Date("2026-12-03T06:07:08Z");
    const pin = "amiPinnedAt: 2026-12-03T06:07Z";
    // a nested block last, and another section after app
    expect(
      bumpAmiPin("production: true\napp:\n    count:\n        min: 1 # one\n    # a comment\nregion: x\n", now, "x"),
    ).toBe(`production: true\napp:\n    count:\n        min: 1 # one\n    ${pin}\n    # a comment\nregion: x\n`);
    // no newline at the end of the file
    expect(bumpAmiPin("production: true\napp:\n  version: '1'", now, "x")).toBe(
      `production: true\napp:\n  version: '1'\n  ${pin}`,
    );
    // app written as a flow map: said, and nothing written
    expect(() => bumpAmiPin('production: true\napp: {version: "1"}\n', now, "x")).toThrow(
      /set app\.amiPinnedAt: 2026-12-03T06:07Z by hand/,
    );
  });
});

describe("npm run plan names why the servers roll", () => {
  const amiChange = { image_id: "ami-0aaa", user_data: "same", instance_type: "m7g.large", latest_version: 3 };

  test("a new Amazon Linux release under an unrelated change is called out as not the change under review", () => {
    const plan = planDocument({
      resourceChanges: [
        update(template(following), amiChange, { ...amiChange, image_id: "ami-0bbb", latest_version: 4 }),
      ],
    });
    const review = reviewPlan(plan, documentOf(following));
    expect(review.fleetRolls).toEqual([
      {
        address: template(following),
        constructPath: undefined, // Testing.synth writes no construct paths
        causes: [
          expect.stringMatching(
            /^a new Amazon Linux 2023 release, NOT the change under review: .*\(ami-0aaa -> ami-0bbb\)/,
          ),
        ],
      },
    ]);
    expect(planReviewText(review, "staging")).toMatch(
      /Rolls every app server \(instance refresh\): .*because:\n  - a new Amazon Linux 2023 release, NOT/,
    );
    expect(planReviewMarkdown(review, "staging")).toMatch(/#### Rolls every app server \(instance refresh\)/);
  });

  test("a bumped pin is named as the deliberate roll it is", () => {
    const pin = address(pinned, "terraform_data", "AmiPin");
    const lt = resourceChange(template(pinned), ["update"], {
      before: amiChange,
      after: { ...amiChange, image_id: null },
    });
    (lt.change as { after_unknown: Record<string, unknown> }).after_unknown = { image_id: true };
    const plan = planDocument({
      resourceChanges: [resourceChange(pin, ["delete", "create"], { before: {}, after: {} }), lt],
    });
    const review = reviewPlan(plan, documentOf(pinned));
    // The pin holds nothing but the id: the destroy guard lets the deliberate bump through.
    expect(review).toMatchObject({ endangered: [], blocked: false });
    expect(review.fleetRolls[0].causes).toEqual([
      "the pinned AMI was bumped on purpose (app.amiPinnedAt changed): the servers move to the newest Amazon Linux 2023 (ami-0aaa -> (unknown until apply))",
    ]);
  });

  test("a new app version is the change under review; a tag-only change rolls nothing", () => {
    const plan = planDocument({
      resourceChanges: [update(template(pinned), amiChange, { ...amiChange, user_data: "other", latest_version: 4 })],
    });
    expect(reviewPlan(plan, documentOf(pinned)).fleetRolls[0].causes).toEqual([
      "the boot script changed: app.version or the servers' settings (the change under review)",
    ]);
    const tagsOnly = planDocument({
      resourceChanges: [
        update(
          template(pinned),
          { ...amiChange, tags: { a: "1" }, tags_all: { a: "1", b: "1" } },
          { ...amiChange, tags: { a: "2" }, tags_all: { a: "2", b: "1" } },
        ),
      ],
    });
    expect(reviewPlan(tagsOnly, documentOf(pinned)).fleetRolls).toEqual([]);
  });

  test("a launch template made or removed rolls no running server; a pin made for the first time is no bump (review DP)", () => {
    const made = planDocument({ resourceChanges: [create(template(pinned), amiChange)] });
    expect(reviewPlan(made, documentOf(pinned)).fleetRolls).toEqual([]);
    const gone = planDocument({ resourceChanges: [destroy(template(pinned), amiChange)] });
    expect(reviewPlan(gone, documentOf(pinned)).fleetRolls).toEqual([]);
    // the first apply of a pin creates it (no delete): an AMI change beside it is not called a bump
    const pin = address(pinned, "terraform_data", "AmiPin");
    const first = planDocument({
      resourceChanges: [
        resourceChange(pin, ["create"], { before: null, after: {} }),
        update(template(pinned), amiChange, { ...amiChange, image_id: "ami-0ccc" }),
      ],
    });
    expect(reviewPlan(first, documentOf(pinned)).fleetRolls[0].causes[0]).not.toMatch(/bumped on purpose/);
  });
});
