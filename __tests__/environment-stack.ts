import * as path from "node:path";
import { Testing } from "cdktf";
import { readReleases } from "../src/artifact/releases";
import type { EnvironmentConfig } from "../src/config/load";
import { LAYOUT_STACKS } from "../src/stacks/layouts";
import { environment, fixtureRelease, synth, type Synthesized } from "./helpers";

/** The versions this repository released: other versions get a fixture tarball. */
const RELEASED = readReleases(path.resolve(__dirname, ".."));

const byOverrides = new Map<string, Synthesized>();
const byEnvironment = new Map<string, Synthesized>();

/**
 * The synthesized stack of a validated environment in its layout's stack class. Built once per
 * test file for the same environment (whatever fixture it was written from: a field set to its
 * default is the same environment): tests only read it, and a full stack takes tens of
 * milliseconds to synthesize.
 */
export function environmentStackOf(env: EnvironmentConfig): Synthesized {
  const key = JSON.stringify(env);
  let stack = byEnvironment.get(key);
  if (!stack) {
    const release = RELEASED.has(env.app.version) ? undefined : fixtureRelease(env.app.version);
    stack = synth(new LAYOUT_STACKS[env.layout](Testing.app(), env.name, { env, release }));
    byEnvironment.set(key, stack);
  }
  return stack;
}

/**
 * The synthesized stack of a test environment (`environment(name, overrides)`, through the real
 * schema) in its layout's stack class, built once per test process (`environmentStackOf`; the
 * unit runner shares it between the files of a process).
 */
export function environmentStack(name: string, overrides: Record<string, unknown> = {}): Synthesized {
  const key = JSON.stringify([name, overrides]);
  let stack = byOverrides.get(key);
  if (!stack) {
    stack = environmentStackOf(environment(name, overrides));
    byOverrides.set(key, stack);
  }
  return stack;
}
