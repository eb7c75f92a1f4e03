import * as fs from "node:fs";
import * as path from "node:path";

// The order jest starts test files in (__tests__/sequencer.js): the longest first, from jest's own
// record where it has one, else from the durations recorded in the repository.
const Sequencer = require("./sequencer.js") as {
  new (options: { contexts: unknown[]; globalConfig: unknown }): { sort(tests: TestLike[]): TestLike[] };
  RECORDED: Record<string, number>;
};

interface TestLike {
  readonly path: string;
  readonly context: { hasteFS: { getSize(file: string): number } };
  duration?: number;
}

/** A sequencer whose jest cache holds `cached` ([failed, ms] by absolute path), as jest's would. */
function sequencer(cached: Record<string, [number, number]>) {
  class WithCache extends Sequencer {
    _getCache() {
      return cached;
    }
  }
  return new WithCache({ contexts: [], globalConfig: {} });
}

const test_ = (relative: string): TestLike => ({
  path: path.join(__dirname, relative),
  // by size, the order is the other way round: the smaller the file here, the longer it takes
  context: { hasteFS: { getSize: () => 1000 - relative.length } },
});
const order = (tests: TestLike[]) => tests.map((t) => path.relative(__dirname, t.path));

test("without jest's record (a fresh clone), the recorded durations order the files, the longest first, and files not listed come last", () => {
  const sorted = sequencer({}).sort(
    ["cidr.test.ts", "validate-mirror.test.ts", "server/faults.test.ts", "server/database.test.ts"].map(test_),
  );
  expect(order(sorted)).toEqual([
    "server/database.test.ts",
    "server/faults.test.ts",
    "validate-mirror.test.ts",
    "cidr.test.ts",
  ]);
});

test("files neither jest nor the sequencer has a time for come last, the larger first, as jest orders by size", () => {
  const sorted = sequencer({}).sort(["cidr.test.ts", "naming.test.ts", "server/faults.test.ts"].map(test_));
  // (test_ makes the shorter name the larger file)
  expect(order(sorted)).toEqual(["server/faults.test.ts", "cidr.test.ts", "naming.test.ts"]);
});

test("jest's own record of a file's last run wins over the recorded one", () => {
  const cidr = test_("cidr.test.ts");
  const sorted = sequencer({ [cidr.path]: [0, 60_000] }).sort([test_("server/database.test.ts"), cidr]);
  expect(order(sorted)).toEqual(["cidr.test.ts", "server/database.test.ts"]);
});

test("every recorded file exists (a renamed one would silently lose its place)", () => {
  for (const relative of Object.keys(Sequencer.RECORDED)) {
    expect([relative, fs.existsSync(path.join(__dirname, relative))]).toEqual([relative, true]);
  }
});

test("every file of the integration and programs projects has a recorded duration: one without starts last in a fresh clone (worker-exit.test.ts, unlisted, ran alone for the last 7 s of a run)", () => {
  const config = require("../jest.config.js") as { projects: { displayName: string; testMatch: string[] }[] };
  const listed = (pattern: string): string[] => {
    const relative = pattern.replace("<rootDir>/__tests__/", "");
    if (!relative.endsWith("/**/*.test.ts")) return [relative];
    const dir = relative.slice(0, -"**/*.test.ts".length);
    return (fs.readdirSync(path.join(__dirname, dir), { recursive: true }) as string[])
      .filter((file) => file.endsWith(".test.ts"))
      .map((file) => `${dir}${file.split(path.sep).join("/")}`);
  };
  const files = config.projects
    .filter((project) => ["integration", "programs"].includes(project.displayName))
    .flatMap((project) => project.testMatch.flatMap(listed));
  expect(files.length).toBeGreaterThan(25);
  expect(files.filter((file) => !(file in Sequencer.RECORDED))).toEqual([]);
});
