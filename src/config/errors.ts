import type { z } from "zod";

/**
 * Every problem found in the environment folders, one line each, in the form
 * `environments/<env>: <field.path> <rule> (got <value>)`. Thrown before any stack exists.
 */
export class ConfigError extends Error {
  constructor(public readonly problems: readonly string[]) {
    super(
      `invalid environment configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n  ${problems.join("\n  ")}`,
    );
    this.name = "ConfigError";
  }
}

/** `["network", "availabilityZones", 1]` -> `network.availabilityZones[1]`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`)).join("");
}

/** A value as it appears after "got": short, JSON-quoted. */
export function shown(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * One zod issue as `<field.path> <rule> (got <value>)`. `allowedKeys` names the fields that the
 * object at a path accepts, so that a misspelled field is answered with the right spelling.
 */
export function describeIssue(issue: z.core.$ZodIssue, allowedKeys: (path: PropertyKey[]) => string[]): string[] {
  const field = fieldPath(issue.path);
  const input = (issue as { input?: unknown }).input;
  const got = (value: unknown) => (issue.message.includes("(got ") ? "" : ` (got ${shown(value)})`);
  switch (issue.code) {
    case "unrecognized_keys": {
      const allowed = allowedKeys(issue.path);
      return issue.keys.map(
        (key) => `${fieldPath([...issue.path, key])} is not a known field (allowed: ${allowed.join(", ")})`,
      );
    }
    case "invalid_key":
      return issue.issues.map((inner) => `${field} ${inner.message}${got(input)}`);
    case "invalid_value":
      return [
        input === undefined
          ? `${field} is required (one of: ${issue.values.map(String).join(", ")})`
          : `${field} must be one of: ${issue.values.map(String).join(", ")}${got(input)}`,
      ];
    case "invalid_type":
      if (input === undefined) {
        // A field's own message ("is required: ...") says what to put there; zod's default only the type.
        return [
          isDefaultMessage(issue.message)
            ? `${field} is required (expected ${issue.expected})`
            : `${field} ${issue.message}`,
        ];
      }
      if (!isDefaultMessage(issue.message)) return [`${field} ${issue.message}${got(input)}`];
      return [`${field} must be ${issue.expected === "array" ? "a list" : `a ${issue.expected}`}${got(input)}`];
    case "invalid_union": {
      const discriminator = (issue as { discriminator?: string }).discriminator;
      const tag =
        discriminator && input && typeof input === "object" ? (input as Record<string, unknown>)[discriminator] : input;
      return [tag === undefined ? `${field} is required (${issue.message})` : `${field} ${issue.message}${got(tag)}`];
    }
    default:
      return [`${field} ${issue.message}${got(input)}`];
  }
}

/** zod's own wording ("Invalid input: ...") rather than a rule this project wrote. */
function isDefaultMessage(message: string): boolean {
  return message.startsWith("Invalid ");
}
