import * as path from "node:path";
import { Testing } from "cdktf";
import { readReleases } from "../src/artifact/releases";
import { LAYOUT_STACKS } from "../src/stacks/layouts";
import { environment, fixtureRelease, synth, type Synthesized } from "./helpers";

/** The versions this repository released: other versions get a fixture tarball. */
const RELEASED = readReleases(path.resolve(__dirname, ".."));

const built = new Map<string, Synthesized>();

/**
 * The synthesized stack of a test environment (`environment(name, overrides)`, through the real
 * schema) in its layout's stack class. Built once per test file for the same name and overrides:
 * tests only read it, and a full stack takes tens of milliseconds to synthesize.
 */
export function environmentStack(name: string, overrides: Record<string, unknown> = {}): Synthesized {
  const key = JSON.stringify([name, overrides]);
  let stack = built.get(key);
  if (!stack) {
    const env = environment(name, overrides);
    const release = RELEASED.has(env.app.version) ? undefined : fixtureRelease(env.app.version);
    stack = synth(new LAYOUT_STACKS[env.layout](Testing.app(), env.name, { env, release }));
    built.set(key, stack);
  }
  return stack;
}
