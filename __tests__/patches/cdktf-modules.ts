import * as fs from "node:fs";
import * as path from "node:path";
import { DefaultTokenResolver, StringConcat, type TerraformStack } from "cdktf";
import * as standIn from "../../src/patches/cdktf-resolve";
import { PROJECT_ROOT } from "../../src/project-root";
import { filesUnder, tempDir } from "../helpers";

// cdktf's own `resolve` module beside its stand-in (src/patches/cdktf-resolve.ts), for the tests
// that compare the two: cdktf-resolve.test.ts and, over the shipped environments,
// cdktf-resolve-shipped.test.ts.

export type ResolveModule = typeof standIn;
export type Cdktf = typeof import("cdktf");

/** cdktf's own module, by its path: the resolver replaces only the request cdktf's token.js makes. */
export const CDKTF_RESOLVE = path.join(
  path.dirname(require.resolve("cdktf/package.json")),
  "lib/tokens/private/resolve.js",
);
export const cdktfResolve = require(CDKTF_RESOLVE) as ResolveModule;
export const STAND_IN = require.resolve("../../src/patches/cdktf-resolve");
/** cdktf's module that loads its resolve module. */
export const TOKEN_JS = path.join(path.dirname(CDKTF_RESOLVE), "..", "token.js");

export const IMPLEMENTATIONS = [
  ["cdktf's module", cdktfResolve],
  ["the stand-in", standIn],
] as const;

export function options(scope: TerraformStack, preparing: boolean) {
  return { scope, preparing, resolver: new DefaultTokenResolver(new StringConcat()) };
}

/** What `implementation` returns for `value`, or the message it throws. */
export function outcome(implementation: ResolveModule, value: () => unknown, scope: TerraformStack, preparing = false) {
  try {
    return { value: implementation.resolve(value(), options(scope, preparing)) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** What holds cdktf's classes: cdktf, the provider bindings and the project's sources. */
const FRESH_FOLDERS = [
  path.dirname(require.resolve("cdktf/package.json")),
  path.dirname(path.dirname(require.resolve("@cdktf/provider-aws/package.json"))),
  path.join(PROJECT_ROOT, "src"),
].map((folder) => folder + path.sep);
const isFresh = (file: string) => FRESH_FOLDERS.some((folder) => file.startsWith(folder));

/** Node's module resolution, which the unit runner (__tests__/unit-runner/register.js) extends. */
const NodeModule = require("node:module") as { _resolveFilename: (this: unknown, ...args: unknown[]) => string };

/**
 * The files `build` synthesizes into a new folder, with cdktf's `lib/tokens/private/resolve`
 * being `implementation`.
 * - "cdktf": cdktf, the provider bindings and the project's sources load afresh around cdktf's
 *   module (the modules this test file's process already holds are set aside meanwhile, then put
 *   back, so that the test files that run after it in the same process get them unchanged).
 * - "stand-in": the modules this process already holds, whose cdktf resolves through the stand-in
 *   as `npm run synth`'s bundle does (the unit runner's register.js puts it in place of cdktf's
 *   module, as scripts/run.js does in the bundle; checked here first). Loading everything afresh a
 *   second time cost more than both synths: in a full run, this file's process holds the modules
 *   and heap of the files before it, and the second load's garbage made its collections long.
 */
export function synthesizeWith(
  implementation: "cdktf" | "stand-in",
  build: (cdktf: Cdktf, outdir: string) => { synth(): void },
): Map<string, Buffer> {
  const outdir = path.join(tempDir("cdktf-resolve-"), "out");
  try {
    if (implementation === "stand-in") {
      expect(resolveModuleOf(fromTheStart)).toBe(STAND_IN);
      build(fromTheStart, outdir).synth();
      return filesUnder(outdir);
    }
    return withCdktfsModule(() => {
      const cdktf = require("cdktf") as Cdktf;
      if (cdktf === fromTheStart)
        throw new Error("cdktf did not load afresh: is the unit runner's module cache require.cache?");
      expect(resolveModuleOf(cdktf)).toBe(CDKTF_RESOLVE);
      build(cdktf, outdir).synth();
      return filesUnder(outdir);
    });
  } finally {
    fs.rmSync(path.dirname(outdir), { recursive: true, force: true });
  }
}

/**
 * Runs `fn` with cdktf, the provider bindings and the project's sources loaded afresh around
 * cdktf's own resolve module.
 */
export function withCdktfsModule<T>(fn: () => T): T {
  const cache = require.cache;
  const setAside = Object.entries(cache).filter(([file]) => isFresh(file));
  for (const [file] of setAside) delete cache[file];
  const resolveFilename = NodeModule._resolveFilename;
  NodeModule._resolveFilename = function (...args) {
    const file = resolveFilename.apply(this, args);
    return file === STAND_IN ? CDKTF_RESOLVE : file;
  };
  try {
    return fn();
  } finally {
    NodeModule._resolveFilename = resolveFilename;
    for (const file of Object.keys(cache)) if (isFresh(file)) delete cache[file];
    for (const [file, module] of setAside) cache[file] = module;
  }
}

/**
 * Which of the two resolve modules `cdktf`'s token.js loaded, as `require.cache` records it
 * (token.js is the first to load either: this file imports cdktf before the stand-in, and nothing
 * else in the tests imports the stand-in).
 */
export function resolveModuleOf(cdktf: Cdktf): string | undefined {
  const tokenJs = require.cache[TOKEN_JS];
  if (tokenJs?.exports.Token !== cdktf.Token) return undefined;
  return tokenJs.children.find((child) => child.filename === STAND_IN || child.filename === CDKTF_RESOLVE)?.filename;
}

/** cdktf as this file imported it: what the process holds outside synthesizeWith. */
export const fromTheStart = require("cdktf") as Cdktf;
