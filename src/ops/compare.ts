import type { EnvironmentConfig } from "../config/load";

/** One setting whose value differs between two environments; `undefined` where one does not set it. */
export interface Difference {
  /** Dotted path into the resolved config: `database.multiAz`, `network.availabilityZones`. */
  readonly path: string;
  readonly left: unknown;
  readonly right: unknown;
}

/**
 * The settings that differ between two resolved environments, defaults included (so prod's
 * stricter defaults show), in the order the config lists them (a setting only the right one has
 * comes after its neighbour there). Nested objects are flattened to dotted paths; arrays are compared as whole values. The
 * environment's `name` is left out: it always differs.
 *
 * @example
 * compareEnvironments(dev, prod) // [{ path: "layout", left: "single-server", right: "load-balanced" }, ...]
 */
export function compareEnvironments(left: EnvironmentConfig, right: EnvironmentConfig): Difference[] {
  const { name: _l, ...l } = left;
  const { name: _r, ...r } = right;
  const a = flatten(l);
  const b = flatten(r);
  return mergeOrder([...a.keys()], [...b.keys()])
    .filter((p) => JSON.stringify(a.get(p)) !== JSON.stringify(b.get(p)))
    .map((p) => ({ path: p, left: a.get(p), right: b.get(p) }));
}

/** `{ a: { b: 1, c: [2] } }` -> `a.b` = 1, `a.c` = [2]. Arrays and scalars are leaves. */
export function flatten(value: unknown, prefix = "", into = new Map<string, unknown>()): Map<string, unknown> {
  if (isPlainObject(value)) {
    for (const [key, inner] of Object.entries(value)) flatten(inner, prefix ? `${prefix}.${key}` : key, into);
  } else if (prefix) {
    into.set(prefix, value);
  }
  return into;
}

/** A value as the table shows it: strings bare, `(not set)` for nothing, JSON for the rest. */
export function shownValue(value: unknown): string {
  if (value === undefined) return "(not set)";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** The differences as an aligned table with a header naming both environments. */
export function formatDifferences(leftName: string, rightName: string, differences: readonly Difference[]): string {
  if (differences.length === 0) return `${leftName} and ${rightName} have the same settings.\n`;
  const rows = [
    ["setting", leftName, rightName],
    ...differences.map((d) => [d.path, shownValue(d.left), shownValue(d.right)]),
  ];
  const widths = [0, 1].map((col) => Math.max(...rows.map((row) => row[col].length)));
  const line = (row: string[]) => `${row[0].padEnd(widths[0])}  ${row[1].padEnd(widths[1])}  ${row[2]}`.trimEnd();
  const rule = ["-".repeat(widths[0]), "-".repeat(widths[1]), "-".repeat(Math.max(...rows.map((r) => r[2].length)))];
  return [line(rows[0]), line(rule), ...rows.slice(1).map(line)].join("\n") + "\n";
}

/** `left`'s order, with each key only `right` has placed after the key it follows in `right`. */
function mergeOrder(left: string[], right: string[]): string[] {
  const merged = [...left];
  right.forEach((key, i) => {
    if (merged.includes(key)) return;
    merged.splice(i === 0 ? 0 : merged.indexOf(right[i - 1]) + 1, 0, key);
  });
  return merged;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
