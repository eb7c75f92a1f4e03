/**
 * Whether the tests run in CI (`.ci/run` sets CI=true, as CI services do): there a missing package
 * the pipeline installs is a failure, not a reason to skip. Only "true" counts: CI=false, CI=0 or
 * an empty CI are a developer's machine (a plain truthiness test read CI=false as CI).
 */
export function inCi(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI === "true";
}
