import * as fs from "node:fs";
import * as path from "node:path";
import standIn = require("../../src/patches/stable-stringify");
import { PROJECT_ROOT } from "../../src/project-root";
import { bundleRecord } from "../helpers";
import { SHIPPED_NAMES, shippedOutdir } from "../shipped";

/**
 * The stand-in for json-stable-stringify (src/patches/stable-stringify.ts), which cdktf writes
 * every cdk.tf.json and the manifest with, against the package itself (loaded by its path, past
 * the replacement): the same string for every shipped stack and for what a stack could hold.
 */
type Stringify = (value: unknown, options?: { space?: string | number }) => string | undefined;
const PACKAGE = path.join(PROJECT_ROOT, "node_modules", "cdktf", "node_modules", "json-stable-stringify");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const original = require(PACKAGE) as Stringify;

test("is the package cdktf 0.21.0 depends on, 1.3.0 (after an upgrade, compare again)", () => {
  expect(JSON.parse(fs.readFileSync(path.join(PACKAGE, "package.json"), "utf8")).version).toBe("1.3.0");
});

test("writes every shipped stack and the manifest byte for byte as the package does", () => {
  const outdir = shippedOutdir();
  const documents = [
    JSON.parse(fs.readFileSync(path.join(outdir, "manifest.json"), "utf8")),
    ...SHIPPED_NAMES.map((name) =>
      JSON.parse(fs.readFileSync(path.join(outdir, "stacks", name, "cdk.tf.json"), "utf8")),
    ),
  ];
  expect(documents.length).toBeGreaterThan(4);
  for (const document of documents) {
    expect(standIn(document, { space: 2 })).toBe(original(document, { space: 2 }));
  }
});

test.each([
  ["empty objects and arrays, nested", { a: {}, b: [], c: [{}, []], d: { e: { f: [] } } }],
  ["undefined members left out, undefined items written null", { a: undefined, b: [1, undefined, 3], c: 1 }],
  [
    "keys as Array.prototype.sort orders them, integer-like ones too",
    { b: 1, a: 2, "10": 3, "2": 4, B: 5, é: 6, "": 7 },
  ],
  ["toJSON honoured at any depth", { when: new Date(0), nested: { value: { toJSON: () => ({ z: 1, a: 2 }) } } }],
  ["strings that need escaping", { 'a"b': "line\nbreak\ttab \u2028 \\ ${x}", emoji: "🙂" }],
  ["numbers, booleans, null, and what JSON drops", { n: -0.5, big: 1e21, t: true, f: false, z: null, fn: () => 1 }],
  ["a value at the top that is not an object", [1, "two", null]],
  [
    "the same object twice (not a cycle)",
    (() => {
      const shared = { x: 1 };
      return { a: shared, b: shared };
    })(),
  ],
])("%s: the same string, with and without indentation", (_, value) => {
  for (const options of [{ space: 2 }, { space: "\t" }, {}, undefined]) {
    expect(standIn(value, options)).toBe(original(value, options));
  }
});

test("a cycle is the same TypeError", () => {
  const cycle: Record<string, unknown> = { a: 1 };
  cycle.self = cycle;
  expect(() => original(cycle, { space: 2 })).toThrow(new TypeError("Converting circular structure to JSON"));
  expect(() => standIn(cycle, { space: 2 })).toThrow(new TypeError("Converting circular structure to JSON"));
  expect(standIn(undefined)).toBe(original(undefined));
});

test("the bundle npm run synth runs was built with the stand-in: the package is not in it", () => {
  const record = bundleRecord();
  expect(Object.keys(record.own)).toContain("src/patches/stable-stringify.ts");
  expect(Object.keys(record.deps).filter((input) => input.includes("json-stable-stringify"))).toEqual([]);
});
