import * as fs from "node:fs";
import * as path from "node:path";
import { inCi } from "./ci";

test.each([
  ["true", true],
  ["false", false],
  ["0", false],
  ["", false],
  [undefined, false],
])("CI=%p is CI: %p", (value, expected) => {
  expect(inCi(value === undefined ? {} : { CI: value })).toBe(expected);
});

test("the drills decide 'in CI' with inCi, never with the truthiness of process.env.CI", () => {
  const files = (dir: string): string[] =>
    fs
      .readdirSync(dir, { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  const offenders = files(__dirname)
    .filter((file) => file.endsWith(".ts") && path.basename(file) !== "ci.test.ts")
    .flatMap((file) =>
      fs
        .readFileSync(file, "utf8")
        .split("\n")
        .map((line, i) => ({ line, at: `${path.relative(__dirname, file)}:${i + 1}` }))
        .filter(({ line }) => /\benv\.CI\b(?!\s*===)/.test(line) && !/^\s*(\*|\/\/)/.test(line))
        .map(({ at }) => at),
    );
  expect(offenders).toEqual([]);
});
