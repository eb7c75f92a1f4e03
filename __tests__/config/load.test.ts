import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError } from "../../src/config/errors";
import { displayPath, loadEnvironments, parseSelection } from "../../src/config/load";
import { selectionFor } from "../../src/ops/workflow";
import { stringify } from "yaml";
import { environmentFile, loadProblems, tempDir, writeEnvironments } from "../helpers";

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The problems `loadEnvironments` throws, or a failure when it does not throw. */
function problems(options: { only?: string[] } = {}): string[] {
  const found = loadProblems(dir, options);
  if (found.length === 0) throw new Error("expected loadEnvironments to reject the folders");
  return found;
}

// a temporary folder, outside the working directory: messages name it by its absolute path
const label = () => dir;
const s3 = (bucket: string, extra: Record<string, unknown> = {}) => ({ state: { backend: "s3", bucket, ...extra } });
const net = (cidr: string) => ({ network: { ...environmentFile().network, cidr } });

describe("loading the environment folders", () => {
  test("every folder is loaded, sorted, each named after its folder", () => {
    writeEnvironments(dir, { prod: environmentFile(net("10.1.0.0/16")), dev: environmentFile(net("10.2.0.0/16")) });
    expect(loadEnvironments({ dir }).map((e) => e.name)).toEqual(["dev", "prod"]);
  });

  test("an empty environments folder is an error, not an empty synth", () => {
    expect(problems()).toEqual([`${label()}: no environment folders found (add ${label()}/<name>/config.yaml)`]);
  });

  test("a folder that does not exist is named, absolute (it is outside the working directory), and said not to exist (review DE)", () => {
    const missing = path.join(dir, "nowhere");
    expect(() => loadEnvironments({ dir: missing })).toThrow(
      new ConfigError([
        `${missing}: no such folder (ENVIRONMENTS_DIR names the folder of environments, one folder each with config.yaml; environments/ by default)`,
      ]),
    );
  });

  test("messages name a folder inside the working directory relative to it, and one outside by its absolute path", () => {
    expect(displayPath(path.join(process.cwd(), "environments", "dev"))).toBe("environments/dev");
    expect(displayPath(process.cwd())).toBe(".");
    expect(displayPath("/nonexistent")).toBe("/nonexistent");
    expect(displayPath(path.join(process.cwd(), "..", "elsewhere"))).toBe(
      path.resolve(process.cwd(), "..", "elsewhere"),
    );
    // a folder whose name only begins with two dots is inside
    expect(displayPath(path.join(process.cwd(), "..dots"))).toBe("..dots");
  });

  test("a config.yaml that cannot be read is the folder's problem, beside the others', not a stack trace (review BL)", () => {
    writeEnvironments(dir, { dev: environmentFile(net("10.1.0.0/16")) });
    fs.mkdirSync(path.join(dir, "qa"));
    // a link to itself: ELOOP (EACCES, from a file without read permission, needs a user other than root)
    fs.symlinkSync("config.yaml", path.join(dir, "qa", "config.yaml"));
    fs.mkdirSync(path.join(dir, "uat"));
    expect(problems()).toEqual([
      `${label()}/qa: config.yaml cannot be read: too many symbolic links encountered (ELOOP); make it a file this user can read`,
      `${label()}/uat: config.yaml is missing`,
    ]);
  });

  test("a folder without config.yaml is named", () => {
    fs.mkdirSync(path.join(dir, "qa"));
    expect(problems()).toEqual([`${label()}/qa: config.yaml is missing`]);
  });

  test("a folder with config.yml (or Config.yaml) instead is told to rename it", () => {
    fs.mkdirSync(path.join(dir, "qa"));
    fs.writeFileSync(path.join(dir, "qa", "config.yml"), "project: shop\n");
    expect(problems()).toEqual([
      `${label()}/qa: config.yaml is missing (there is config.yml: rename it to config.yaml)`,
    ]);
  });

  test("a link to a folder elsewhere is an environment; a hidden folder is not", () => {
    const shared = writeEnvironments(tempDir("shared-"), { qa: environmentFile(net("10.3.0.0/16")) });
    try {
      writeEnvironments(dir, { dev: environmentFile(net("10.2.0.0/16")) });
      fs.symlinkSync(path.join(shared, "qa"), path.join(dir, "qa"));
      fs.mkdirSync(path.join(dir, ".git-keep"));
      expect(loadEnvironments({ dir }).map((e) => e.name)).toEqual(["dev", "qa"]);
      // and the scripts that take an environment's name know the same ones (npm run plan, drift)
      expect(selectionFor("qa", dir)).toBe("qa");
      expect(() => selectionFor(".git-keep", dir)).toThrow(/the environments are dev, qa/);
    } finally {
      fs.rmSync(shared, { recursive: true, force: true });
    }
  });

  test("what a config.yaml cannot be, and an ENVIRONMENTS_DIR that is a file: one line each, no stack trace", () => {
    fs.mkdirSync(path.join(dir, "qa", "config.yaml"), { recursive: true });
    expect(problems()).toEqual([`${label()}/qa: config.yaml is not a file`]);
    fs.rmSync(path.join(dir, "qa"), { recursive: true });
    // an alias whose anchor was never set: found only when the document is read
    writeEnvironments(dir, { dev: "project: shop\napp:\n  instanceType: *nope\n" });
    expect(problems()).toEqual([
      expect.stringMatching(new RegExp(`^${label()}/dev: config.yaml is not valid YAML: .*nope`)),
    ]);
    const file = path.join(dir, "README.md");
    fs.writeFileSync(file, "# not environments\n");
    expect(() => loadEnvironments({ dir: file })).toThrow(ConfigError);
    expect(() => loadEnvironments({ dir: file })).toThrow(
      /README\.md: is a file, not a folder of environments \(ENVIRONMENTS_DIR\)/,
    );
  });

  test("an empty file, or one that is not a mapping of fields, is said once, not as every field missing", () => {
    writeEnvironments(dir, { dev: "# nothing yet\n", qa: "- project: shop\n", uat: "shop\n" });
    expect(problems()).toEqual([
      `${label()}/dev: config.yaml is empty (nothing but comments, if anything)`,
      `${label()}/qa: config.yaml must be a mapping of fields (project: ..., region: ...) (got a list)`,
      `${label()}/uat: config.yaml must be a mapping of fields (project: ..., region: ...) (got string "shop")`,
    ]);
  });

  test("YAML merge keys work (<<: *anchor), as operators write them to share settings", () => {
    const file = environmentFile(net("10.2.0.0/16"));
    const { instanceType, ...rest } = file.app;
    const text = stringify({ ...file, app: undefined })
      .replace(/^app: null\n/m, "")
      .concat(`sizes: &small\n  instanceType: ${instanceType}\n`)
      .concat(`app:\n  <<: *small\n${stringify(rest).replace(/^/gm, "  ").trimEnd()}\n`);
    // (an anchor's own key is no field: write it under a field the file would have anyway)
    writeEnvironments(dir, { dev: text.replace("sizes: &small\n  instanceType", "tags: &small\n  instanceType") });
    expect(loadEnvironments({ dir })[0].app.instanceType).toBe(instanceType);
  });

  test("YAML that does not parse is named with the parser's reason", () => {
    writeEnvironments(dir, { dev: "project: shop\nregion: [ap-northeast-2\n" });
    expect(problems()).toContainEqual(
      expect.stringMatching(new RegExp(`^${label()}/dev: config.yaml is not valid YAML: `)),
    );
  });

  test("a duplicated YAML key is rejected rather than silently taking the last value", () => {
    writeEnvironments(dir, { dev: "project: shop\nproject: other\n" });
    expect(problems()).toContainEqual(
      expect.stringMatching(
        /dev: config.yaml is not valid YAML: map keys must be unique \(line 2, column 1: "project: other"\)$/,
      ),
    );
  });

  test("problems of several environments are reported together, each prefixed with its folder", () => {
    writeEnvironments(dir, {
      dev: environmentFile({ region: "mars-1" }),
      prod: environmentFile({ ...net("10.9.0.0/16"), project: "Shop" }),
    });
    const found = problems();
    expect(found).toContainEqual(expect.stringMatching(new RegExp(`^${label()}/dev: region must be one of`)));
    expect(found).toContainEqual(expect.stringMatching(new RegExp(`^${label()}/prod: project must be 2 to 12`)));
  });

  test("two environments may not share an S3 state object", () => {
    writeEnvironments(dir, {
      dev: environmentFile({ ...net("10.1.0.0/16"), ...s3("acme-state", { key: "shared.tfstate" }) }),
      prod: environmentFile({ ...net("10.2.0.0/16"), ...s3("acme-state", { key: "shared.tfstate" }) }),
    });
    expect(problems()).toEqual([
      `${label()}/prod: state.key must be unique per environment: s3://acme-state/shared.tfstate is already used by ${label()}/dev; ` +
        "change it in the one that is not deployed yet (without state.key, each environment gets its own)",
    ]);
  });

  test("environments sharing a bucket get distinct default keys", () => {
    writeEnvironments(dir, {
      dev: environmentFile({ ...net("10.1.0.0/16"), ...s3("acme-state") }),
      prod: environmentFile({ ...net("10.2.0.0/16"), ...s3("acme-state") }),
    });
    const keys = loadEnvironments({ dir }).map((e) => (e.state.backend === "s3" ? e.state.key : ""));
    expect(keys).toEqual(["shop/dev/terraform.tfstate", "shop/prod/terraform.tfstate"]);
  });

  test("one bucket cannot be said to live in two regions", () => {
    writeEnvironments(dir, {
      dev: environmentFile({ ...net("10.1.0.0/16"), ...s3("acme-state") }),
      osaka: environmentFile({
        ...net("10.2.0.0/16"),
        region: "ap-northeast-3",
        network: { ...net("10.2.0.0/16").network, availabilityZones: ["ap-northeast-3a", "ap-northeast-3b"] },
        ...s3("acme-state"),
      }),
    });
    expect(problems()).toEqual([
      `${label()}/osaka: state.region must match the bucket's region ap-northeast-2 (set by ${label()}/dev) (got "ap-northeast-3")`,
    ]);
  });

  test("a new folder in another region is the one named, though it comes first in folder order: the region most of a bucket's environments name is the bucket's", () => {
    const osaka = {
      region: "ap-northeast-3",
      network: { ...net("10.3.0.0/16").network, availabilityZones: ["ap-northeast-3a", "ap-northeast-3b"] },
    };
    writeEnvironments(dir, {
      "dr-osaka": environmentFile({ ...osaka, ...s3("acme-state") }),
      prod: environmentFile({ ...net("10.1.0.0/16"), ...s3("acme-state") }),
      staging: environmentFile({ ...net("10.2.0.0/16"), ...s3("acme-state") }),
    });
    expect(problems()).toEqual([
      `${label()}/dr-osaka: state.region must match the bucket's region ap-northeast-2 (set by ${label()}/prod) (got "ap-northeast-3")`,
    ]);
  });

  test("the bucket's region and account are the ones its stack is made with, whichever file was edited last: the edited one is not named as the odd one out", () => {
    writeEnvironments(dir, {
      prod: environmentFile({ ...net("10.1.0.0/16"), accountId: "210987654321", ...s3("acme-state") }),
      "prod-eu": environmentFile({
        ...net("10.2.0.0/16"),
        accountId: "444455556666",
        state: { backend: "s3", bucket: "acme-state", region: "ap-northeast-3" },
      }),
    });
    // prod edited after prod-eu (a routine change, or a git pull that rewrote it)
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(path.join(dir, "prod", "config.yaml"), later, later);
    expect(problems()).toEqual([
      `${label()}/prod-eu: state.region must match the bucket's region ap-northeast-2 (set by ${label()}/prod) (got "ap-northeast-3")`,
      `${label()}/prod-eu: state.bucket acme-state is in account 210987654321 (${label()}/prod's), and this project's state bucket grants no other account: give account 444455556666 a bucket of its own (got "acme-state")`,
    ]);
  });

  test("one bucket cannot hold the state of two accounts: its stack is made in the first one's, and grants no other", () => {
    writeEnvironments(dir, {
      dev: environmentFile({ ...net("10.1.0.0/16"), accountId: "210987654321", ...s3("acme-state") }),
      prod: environmentFile({ ...net("10.2.0.0/16"), accountId: "444455556666", ...s3("acme-state") }),
      staging: environmentFile({ ...net("10.3.0.0/16"), accountId: "210987654321", ...s3("acme-state") }),
    });
    expect(problems()).toEqual([
      `${label()}/prod: state.bucket acme-state is in account 210987654321 (${label()}/dev's), and this project's state bucket grants no other account: give account 444455556666 a bucket of its own (got "acme-state")`,
    ]);
  });

  test("two declared accounts on one bucket are refused even when the first folder using it declares none", () => {
    writeEnvironments(dir, {
      dev: environmentFile({ ...net("10.1.0.0/16"), accountId: undefined, ...s3("acme-state") }),
      prod: environmentFile({ ...net("10.2.0.0/16"), accountId: "444455556666", ...s3("acme-state") }),
      staging: environmentFile({ ...net("10.3.0.0/16"), accountId: "210987654321", ...s3("acme-state") }),
    });
    expect(problems()).toEqual([
      `${label()}/staging: state.bucket acme-state is in account 444455556666 (${label()}/prod's), and this project's state bucket grants no other account: give account 210987654321 a bucket of its own (got "acme-state")`,
    ]);
  });

  test("two environments may not share an HCP Terraform workspace", () => {
    const cloud = { state: { backend: "cloud", organization: "acme", workspace: "web" } };
    writeEnvironments(dir, {
      dev: environmentFile({ ...net("10.1.0.0/16"), ...cloud }),
      prod: environmentFile({ ...net("10.2.0.0/16"), ...cloud }),
    });
    expect(problems()).toEqual([
      `${label()}/prod: state.workspace must be unique per environment: app.terraform.io/acme/web is already used by ${label()}/dev; ` +
        "change it in the one that is not deployed yet (without state.workspace, each environment gets its own)",
    ]);
    // nor one written in other letters' case (either first): HCP Terraform's names are not told apart by case
    for (const [first, second] of [
      [cloud.state, { backend: "cloud", organization: "ACME", workspace: "Web" }],
      [{ backend: "cloud", organization: "ACME", workspace: "Web" }, cloud.state],
    ]) {
      fs.rmSync(dir, { recursive: true });
      writeEnvironments(dir, {
        dev: environmentFile({ ...net("10.1.0.0/16"), state: first }),
        prod: environmentFile({ ...net("10.2.0.0/16"), state: second }),
      });
      const written = `${second.organization}/${second.workspace}`;
      expect(problems()).toEqual([
        `${label()}/prod: state.workspace must be unique per environment: app.terraform.io/${written} is already used by ${label()}/dev; ` +
          "change it in the one that is not deployed yet (without state.workspace, each environment gets its own)",
      ]);
    }
  });

  test("VPC blocks of two environments may not overlap", () => {
    writeEnvironments(dir, { dev: environmentFile(net("10.1.0.0/16")), prod: environmentFile(net("10.1.128.0/20")) });
    expect(problems()).toEqual([
      `${label()}/prod: network.cidr must not overlap another environment's VPC, so they can be peered later: 10.1.128.0/20 overlaps 10.1.0.0/16 of ${label()}/dev; ` +
        "change it in the one that is not deployed yet (a new block replaces its VPC), to a free block such as 10.0.0.0/16",
    ]);
    // the block suggested is the first /16 no environment uses
    writeEnvironments(dir, { prod: environmentFile(net("10.0.0.0/16")), qa: environmentFile(net("10.0.0.0/16")) });
    expect(problems()).toEqual([
      expect.stringMatching(/overlaps 10\.0\.0\.0\/16 of .*\/prod; .*such as 10\.2\.0\.0\/16$/),
    ]);
    // three copies of one folder are each told a block of their own (the same one would clash again: review BL)
    writeEnvironments(dir, {
      "qa-2": environmentFile(net("10.0.0.0/16")),
      "qa-3": environmentFile(net("10.0.0.0/16")),
    });
    const suggested = problems().map((p) => /such as (\S+)$/.exec(p)?.[1]);
    expect(suggested).toHaveLength(6); // prod, qa, qa-2 and qa-3 on one block: 6 pairs
    expect(new Set(suggested).size).toBe(suggested.length);
    expect(suggested).not.toContain(undefined);
  });

  test("two environments may not share a domain name: one record, which either's destroy would delete", () => {
    const domain = (name: string) => ({ domain: { name, hostedZone: "acme-corp.com" } });
    writeEnvironments(dir, {
      dev: environmentFile({ ...net("10.1.0.0/16"), ...domain("shop.acme-corp.com") }),
      prod: environmentFile({ ...net("10.2.0.0/16"), ...domain("shop.acme-corp.com") }),
    });
    expect(problems()).toEqual([
      `${label()}/prod: domain.name must be unique per environment: shop.acme-corp.com is already ${label()}/dev's ` +
        "(its address record, and its certificate's validation record, which destroying either would delete)",
    ]);
  });

  test("two projects whose names and folders make the same name prefix, or one inside the other, are refused", () => {
    // given project shop's folder b-qa and project shop-b's folder qa: both make shop-b-qa-*
    writeEnvironments(dir, {
      "b-qa": environmentFile({ ...net("10.1.0.0/16"), project: "shop" }),
      qa: environmentFile({ ...net("10.2.0.0/16"), project: "shop-b" }),
    });
    expect(problems()).toEqual([
      `${label()}/qa: project "shop-b" with this folder name makes the names shop-b-qa-*, which ${label()}/b-qa (project "shop") makes too: ` +
        "the two would take each other's names (load balancer, database, roles, buckets); change the project or the folder name of the one that is not deployed yet",
    ]);
    // shop's bb makes shop-bb-*, whose patterns cover shop-bb's qa (shop-bb-qa-*)
    fs.rmSync(dir, { recursive: true });
    writeEnvironments(dir, {
      bb: environmentFile({ ...net("10.1.0.0/16"), project: "shop" }),
      qa: environmentFile({ ...net("10.2.0.0/16"), project: "shop-bb" }),
    });
    expect(problems()).toEqual([
      `${label()}/qa: project "shop-bb" with this folder name makes the names shop-bb-qa-*, and ${label()}/bb (project "shop") makes shop-bb-*: ` +
        "the names of the one begin with the other's, so the patterns that scope a deploy role and a policy (shop-bb-*) would reach the other's resources; " +
        "change the project or the folder name of the one that is not deployed yet",
    ]);
    // within one project, a neighbour (prod and prod-eu) is allowed: its names are excluded from the patterns
    fs.rmSync(dir, { recursive: true });
    writeEnvironments(dir, {
      prod: environmentFile({ ...net("10.1.0.0/16"), project: "shop" }),
      "prod-eu": environmentFile({ ...net("10.2.0.0/16"), project: "shop" }),
      qa: environmentFile({ ...net("10.3.0.0/16"), project: "shops" }),
    });
    expect(loadEnvironments({ dir }).map((env) => `${env.project}-${env.name}`)).toEqual([
      "shop-prod",
      "shop-prod-eu",
      "shops-qa",
    ]);
  });

  test("within a project, a neighbour named another environment's name and a word its own names begin with (prod-db beside prod: shop-prod-db-cpu is prod's alarm) is refused, naming the folder and what to call it (review BL)", () => {
    writeEnvironments(dir, {
      prod: environmentFile({ ...net("10.1.0.0/16"), project: "shop" }),
      "prod-db": environmentFile({ ...net("10.2.0.0/16"), project: "shop" }),
      "prod-p8080": environmentFile({ ...net("10.3.0.0/16"), project: "shop" }),
      "prod-app-x": environmentFile({ ...net("10.4.0.0/16"), project: "shop" }),
      // another project's prod-db is no neighbour of shop's prod
      "prod-alb": environmentFile({ ...net("10.5.0.0/16"), project: "shops" }),
    });
    const refused = (name: string, word: string) =>
      `${label()}/${name}: the folder name must not be another environment's and a word that begins that environment's own ` +
      `names: "${word}" begins ${label()}/prod's (shop-prod-${word}-...), so the two environments' names would mix: the ` +
      `exclusions that keep prod's alarms and deploy role off this environment's names would take prod's own out where a ` +
      `name pattern reaches them, this environment's deploy role would reach them, and Name tags would not tell the two ` +
      `apart; name it otherwise (prod-2, prod-eu; not prod-<admin|alarms|alb|app|...>)`;
    // (in the order the folders were last changed: sorted here)
    expect(problems().sort()).toEqual(
      [refused("prod-app-x", "app"), refused("prod-db", "db"), refused("prod-p8080", "p8080")].sort(),
    );
    // a word no name of the stacks begins with is a neighbour like prod-eu
    fs.rmSync(dir, { recursive: true });
    writeEnvironments(dir, {
      prod: environmentFile({ ...net("10.1.0.0/16"), project: "shop" }),
      "prod-dbx": environmentFile({ ...net("10.2.0.0/16"), project: "shop" }),
      "prod-2": environmentFile({ ...net("10.3.0.0/16"), project: "shop" }),
    });
    expect(loadEnvironments({ dir }).map((env) => env.name)).toEqual(["prod", "prod-2", "prod-dbx"]);
  });

  test("a folder named like a state bucket's stack (state-<bucket>) is refused: the two stacks would collide", () => {
    writeEnvironments(dir, { "state-abcd": environmentFile(net("10.1.0.0/16")) });
    expect(problems()).toEqual([
      `${label()}/state-abcd: folder name must not begin with "state-", the prefix of the state bucket stacks (state-<bucket>) (got "state-abcd")`,
    ]);
  });

  test("selecting environments returns only those, after validating all", () => {
    writeEnvironments(dir, { dev: environmentFile(net("10.1.0.0/16")), prod: environmentFile(net("10.2.0.0/16")) });
    expect(loadEnvironments({ dir, only: ["prod"] }).map((e) => e.name)).toEqual(["prod"]);
  });

  test("selecting an environment that does not exist names the ones that do", () => {
    writeEnvironments(dir, { dev: environmentFile(net("10.1.0.0/16")) });
    expect(problems({ only: ["prd"] })).toEqual([`ENVIRONMENTS: "prd" not found in ${label()} (available: dev)`]);
  });
});

describe("the ENVIRONMENTS variable", () => {
  test.each([
    [undefined, undefined],
    ["", undefined],
    ["dev", ["dev"]],
    [" dev , prod ,", ["dev", "prod"]],
  ])("%p selects %p", (value, expected) => {
    expect(parseSelection(value)).toEqual(expected);
  });

  test.each([",", " , ,"])("%p names no environment, and is refused rather than read as every one", (value) => {
    const error = (() => {
      try {
        parseSelection(value);
        return undefined;
      } catch (thrown) {
        return thrown;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      `ENVIRONMENTS=${JSON.stringify(value)} names no environment: list folder names separated by commas (ENVIRONMENTS=dev,prod), or unset it for every environment`,
    ]);
  });
});

describe("app.sameReleaseAs: an environment that runs only the release another one, deployed before it, runs (review CU)", () => {
  /** prod at deployOrder 30 on `prodVersion`, and dr after it on `version`, following prod. */
  const write = (version: string, prodVersion = "1.0.0", dr: Record<string, unknown> = {}) => {
    const prod = environmentFile({ ...net("10.1.0.0/16"), deployOrder: 30 });
    prod.app = { ...prod.app, version: prodVersion };
    const { app, ...rest } = dr;
    const follower = environmentFile({ ...net("10.2.0.0/16"), deployOrder: 40, ...rest });
    follower.app = { ...follower.app, version, sameReleaseAs: "prod", ...(app as object) };
    writeEnvironments(dir, { prod, dr: follower });
  };

  test("on the release prod runs, it loads, and says which it follows", () => {
    write("1.0.0");
    expect(loadEnvironments({ dir }).find((e) => e.name === "dr")!.app.sameReleaseAs).toBe("prod");
  });

  test("a release prod does not run (a commit that changed it alone) is refused, naming both versions and what to do", () => {
    write("1.1.0");
    expect(problems()).toEqual([
      `${label()}/dr: app.version must be prod's, "1.0.0", as app.sameReleaseAs: prod says, so that it runs only a release prod runs: change both in one commit (the chain deploys prod first) (got "1.1.0")`,
    ]);
    // and prod moved on without it
    write("1.0.0", "1.1.0");
    expect(problems()).toEqual([
      `${label()}/dr: app.version must be prod's, "1.1.0", as app.sameReleaseAs: prod says, so that it runs only a release prod runs: change both in one commit (the chain deploys prod first) (got "1.0.0")`,
    ]);
  });

  test("the environment it follows must deploy before it in the chain: a lower deployOrder, not a tie (name order, which a rename turns round)", () => {
    write("1.0.0", "1.0.0", { deployOrder: 20 });
    expect(problems()).toEqual([
      `${label()}/dr: deployOrder must be above prod's 30, as app.sameReleaseAs: prod says: a new release must reach dr only after prod's deploy in the chain (got 20)`,
    ]);
    // a tie, whichever name sorts first (review CW: qa after prod by name was taken)
    write("1.0.0", "1.0.0", { deployOrder: 30 });
    expect(problems()).toEqual([
      `${label()}/dr: deployOrder must be above prod's 30, as app.sameReleaseAs: prod says: a new release must reach dr only after prod's deploy in the chain (got 30)`,
    ]);
    fs.renameSync(path.join(dir, "dr"), path.join(dir, "qa"));
    expect(problems()).toEqual([
      `${label()}/qa: deployOrder must be above prod's 30, as app.sameReleaseAs: prod says: a new release must reach qa only after prod's deploy in the chain (got 30)`,
    ]);
  });

  test("it must name another folder: not one that does not exist, nor itself; a folder with problems of its own is reported for those alone", () => {
    write("1.0.0", "1.0.0", { app: { sameReleaseAs: "prdo" } });
    expect(problems()).toEqual([
      `${label()}/dr: app.sameReleaseAs must name another environment folder of ${label()} (one of: prod) (got "prdo")`,
    ]);
    write("1.0.0", "1.0.0", { app: { sameReleaseAs: "dr" } });
    expect(problems()).toEqual([
      `${label()}/dr: app.sameReleaseAs must name another environment folder of ${label()} (one of: prod) (got "dr")`,
    ]);
    // alone, it has nothing to follow
    fs.rmSync(path.join(dir, "prod"), { recursive: true });
    expect(problems()).toEqual([
      `${label()}/dr: app.sameReleaseAs must name another environment folder of ${label()} (there is none: remove it) (got "dr")`,
    ]);
    write("1.0.0");
    fs.writeFileSync(path.join(dir, "prod", "config.yaml"), "project: shop\n");
    expect(problems().every((problem) => problem.startsWith(`${label()}/prod: `))).toBe(true);
  });
});
