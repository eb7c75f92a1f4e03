import type * as z from "zod";
import { closest, valueMeant } from "./suggest";

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
  // JSON has no Infinity or NaN (YAML's .inf, .nan, 1e400): it would say null
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Where an issue's input came from, when the file is at hand: the scalar's text as written. */
export type SourceText = (path: readonly PropertyKey[]) => string | undefined;

/**
 * One zod issue as `<field.path> <rule> (got <value>)`. `allowedKeys` names the fields that the
 * object at a path accepts, so that a misspelled field is answered with the right spelling;
 * `sourceText` gives a value as the YAML file spells it (`1.0`, which YAML reads as the number 1).
 */
export function describeIssue(
  issue: z.core.$ZodIssue,
  allowedKeys: (path: PropertyKey[]) => string[],
  sourceText: SourceText = () => undefined,
  /** What the field says of a value as text, or undefined when it takes it (a number YAML read where text was meant). */
  textProblem: (path: PropertyKey[], text: string) => string | undefined = () => undefined,
): string[] {
  const field = fieldPath(issue.path);
  const input = (issue as { input?: unknown }).input;
  const got = (value: unknown) => gotSuffix(issue, value);
  switch (issue.code) {
    case "unrecognized_keys": {
      const allowed = allowedKeys(issue.path);
      return issue.keys.map((key) => {
        const meant = closest(key, allowed);
        return `${fieldPath([...issue.path, key])} is not a known field${meant ? `: did you mean ${meant}?` : ""} (allowed: ${allowed.join(", ")})`;
      });
    }
    case "invalid_key":
      return issue.issues.map((inner) => `${field} ${inner.message}${got(input)}`);
    case "invalid_value": {
      const values = issue.values.map(String);
      if (input === undefined || input === null) return [`${field} is required (one of: ${values.join(", ")})`];
      const meant = typeof input === "string" ? valueMeant(input, values) : undefined;
      return [`${field} must be one of: ${values.join(", ")}${meant ? `: did you mean ${meant}?` : ""}${got(input)}`];
    }
    case "invalid_type":
      return [invalidType(issue, field, input, allowedKeys, sourceText, textProblem)];
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

/** Text meant as a boolean: YAML 1.1's words for one, and a quoted true or false. */
const YAML_11_BOOLEANS = new Map<string, boolean>([
  ...["yes", "y", "on", "true"].map((word) => [word, true] as const),
  ...["no", "n", "off", "false"].map((word) => [word, false] as const),
]);

/** A value of the wrong type, or none: what is required, or what to write instead. */
function invalidType(
  issue: z.core.$ZodIssue & { code: "invalid_type" },
  field: string,
  input: unknown,
  allowedKeys: (path: PropertyKey[]) => string[],
  sourceText: SourceText,
  textProblem: (path: PropertyKey[], text: string) => string | undefined,
): string {
  const own = !isDefaultMessage(issue.message);
  // An empty value (`max:`) is YAML's null: as good as missing.
  if (input === undefined || input === null) {
    if (!own) return `${field} is required (expected ${issue.expected})`;
    // A field's own message either says what to put there ("is required: ...") or states its rule.
    return issue.message.startsWith("must be ")
      ? `${field} is required (${issue.message.slice("must be ".length)})`
      : `${field} ${issue.message}`;
  }
  // YAML reads `1.0`, `16` or `yes` unquoted as a number or a boolean, where text was meant.
  if (issue.expected === "string" && (typeof input === "number" || typeof input === "boolean")) {
    const written = sourceText(issue.path) ?? String(input);
    const key = String(issue.path[issue.path.length - 1]);
    // quoted, would it do? If not, the field's own rule is the answer (`cidr: 10`)
    const rule = textProblem(issue.path, written);
    if (rule) return `${field} ${rule.replace(/ \(got .*\)$/, "")} (got ${written})`;
    return (
      `${field} must be text, so quote it: ${key}: "${written}" ` +
      `(YAML reads ${written} unquoted as the ${typeof input} ${String(input)}) (got ${written})`
    );
  }
  // YAML 1.1 read `yes`, `no`, `on` and `off` as booleans; the YAML 1.2 this project reads takes
  // them as text, and a quoted "true" is text in both.
  if (issue.expected === "boolean" && typeof input === "string") {
    const meant = YAML_11_BOOLEANS.get(input.toLowerCase());
    if (meant !== undefined) {
      const key = String(issue.path[issue.path.length - 1]);
      return (
        `${field} must be true or false: write ${key}: ${meant} ` +
        `(YAML reads ${shown(input)} as text, not as a boolean) (got ${shown(input)})`
      );
    }
  }
  if (own && !issue.message.startsWith("is required")) return `${field} ${issue.message}${gotSuffix(issue, input)}`;
  if (issue.expected === "object") {
    const fields = allowedKeys(issue.path);
    const shape = fields.length > 0 ? ` with the fields ${fields.join(", ")}` : "";
    return `${field} must be an object${shape} (got ${shown(input)})`;
  }
  const what =
    issue.expected === "array" ? "a list" : `${/^[aeiou]/.test(issue.expected) ? "an" : "a"} ${issue.expected}`;
  return `${field} must be ${what} (got ${shown(input)})`;
}

function gotSuffix(issue: z.core.$ZodIssue, input: unknown): string {
  return issue.message.includes("(got ") ? "" : ` (got ${shown(input)})`;
}

/** zod's own wording ("Invalid input: ...") rather than a rule this project wrote. */
function isDefaultMessage(message: string): boolean {
  return message.startsWith("Invalid ");
}
