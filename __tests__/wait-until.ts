/**
 * Resolves once `condition` holds (polled every 20 ms), with how many milliseconds that took;
 * rejects after `timeoutMs` saying `what`, and what `detail` shows of the state then. Its own module
 * (no import beyond Node's): the test beds' drills and the programs tests both wait with it.
 */
export async function waitUntil(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  detail?: () => string,
): Promise<number> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) {
      throw new Error(`${what}: not after ${timeoutMs} ms${detail ? `\n${detail()}` : ""}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Date.now() - started;
}
