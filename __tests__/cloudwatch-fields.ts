/**
 * A log line's fields as CloudWatch Logs splits it for a space-delimited filter pattern
 * (`[addr, time, ...]`): on spaces, except that a field in [] or "" is one field, whatever it holds.
 */
export function cloudWatchFields(line: string): string[] {
  return [...line.matchAll(/\[[^\]]*\]|"[^"]*"|\S+/g)].map((m) => m[0]);
}
