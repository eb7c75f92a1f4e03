import * as z from "zod";
import { environmentSchema } from "./schema";

/**
 * The configuration reference of docs/configuration.md: one table row per field of
 * `environments/<name>/config.yaml`, generated from the zod schema (through its JSON Schema, the
 * same one `environments/schema.json` holds), so a field added to the schema is documented by
 * `npm run schema` and a test fails until it is.
 */

/** One documented field: its dotted path, what it accepts, its default and what it does. */
export interface ReferenceField {
  /** `network.flowLogs.enabled`; `exceptions[].rule` for list items; `tags.<key>` for a map. */
  readonly path: string;
  /** Set only for a field of one `state.backend` variant (`s3`, `cloud`). */
  readonly variant?: string;
  readonly accepts: string;
  readonly default?: string;
  readonly description: string;
}

type JsonSchema = {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  default?: unknown;
  description?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  additionalProperties?: JsonSchema | boolean;
  propertyNames?: JsonSchema;
  required?: string[];
};

/** The JSON Schema of an environment file, as editors and this reference read it. */
export function environmentFileJsonSchema(schema: z.ZodType = environmentSchema): JsonSchema {
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
}

/** Every field of the schema, depth first, in the schema's order. */
export function referenceFields(schema: JsonSchema = environmentFileJsonSchema()): ReferenceField[] {
  const fields: ReferenceField[] = [];
  /** `optionalAncestor`: the closest enclosing object that may be left out, if any. */
  type Where = { readonly variant?: string; readonly required: boolean; readonly optionalAncestor?: string };
  const field = (path: string, node: JsonSchema, accepts: string, where: Where): ReferenceField => ({
    path,
    variant: where.variant,
    accepts,
    default: node.default !== undefined ? code(node.default) : requiredText(where),
    description: node.description ?? "",
  });
  const children = (node: JsonSchema, path: string, where: Where) => {
    const ancestor = path && !where.required ? path : where.optionalAncestor;
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      if (path === "state" && key === "backend") continue;
      const childPath = path ? `${path}.${key}` : key;
      visit(child, childPath, {
        variant: where.variant,
        required: (node.required ?? []).includes(key),
        optionalAncestor: ancestor,
      });
    }
  };
  const visit = (node: JsonSchema, path: string, where: Where): void => {
    const union = node.oneOf ?? node.anyOf;
    if (union) {
      // The state backends: `backend` once, then each variant's own fields.
      const backends = union.map((option) => option.properties?.backend?.const);
      fields.push({
        ...field(`${path}.backend`, node, `one of: ${backends.map(code).join(", ")}`, where),
        default: node.default === undefined ? undefined : code((node.default as { backend?: unknown }).backend),
      });
      for (const option of union)
        children(option, path, { ...where, variant: String(option.properties?.backend?.const), required: true });
      return;
    }
    if (node.type === "object" && node.properties) return children(node, path, where);
    if (node.type === "array" && node.items?.properties) {
      fields.push(field(path, node, "a list", where));
      return children(node.items, `${path}[]`, { ...where, required: true, optionalAncestor: `${path}[]` });
    }
    if (node.type === "object" && node.propertyNames) {
      fields.push(field(`${path}.<key>`, node, `text; keys ${patternText(node.propertyNames)}`, where));
      return;
    }
    fields.push(field(path, node, acceptsOf(node), where));
  };
  visit(schema, "", { required: true });
  return fields.map((f) => (f.description ? f : { ...f, description: describedBy(schema, f.path) }));
}

/** How the default column marks a field that has no default but must be given. */
function requiredText(where: { readonly required: boolean; readonly optionalAncestor?: string }): string | undefined {
  if (!where.required) return undefined;
  if (!where.optionalAncestor) return "**required**";
  return where.optionalAncestor.endsWith("[]")
    ? "required in each item"
    : `required with \`${where.optionalAncestor}\``;
}

/** The description of the closest object around `path` that has one (for app.count.min and the like). */
function describedBy(schema: JsonSchema, path: string): string {
  const keys = path.split(".");
  let node: JsonSchema | undefined = schema;
  let found = "";
  for (const key of keys.slice(0, -1)) {
    node = node?.properties?.[key.replace(/\[\]$/, "")];
    if (node?.description) found = node.description;
  }
  return found;
}

function code(value: unknown): string {
  return `\`${typeof value === "string" ? value : JSON.stringify(value)}\``;
}

/** Patterns longer than this are left to environments/schema.json and the validation message. */
const SHOWN_PATTERN = 48;

function patternText(node: JsonSchema): string {
  return node.pattern && node.pattern.length <= SHOWN_PATTERN ? `matching \`${node.pattern}\`` : "checked";
}

function acceptsOf(node: JsonSchema): string {
  if (node.enum) return `one of: ${node.enum.map(code).join(", ")}`;
  if (node.const !== undefined) return code(node.const);
  const type = Array.isArray(node.type) ? node.type.join(" or ") : node.type;
  if (type === "array") {
    const item = node.items ? acceptsOf(node.items) : "anything";
    return `a list${node.minItems ? ` of at least ${node.minItems}` : ""}: ${item}`;
  }
  if (type === "integer" || type === "number") {
    const what = type === "integer" ? "an integer" : "a number";
    const low =
      node.exclusiveMinimum !== undefined
        ? `above ${node.exclusiveMinimum}`
        : node.minimum !== undefined
          ? `from ${node.minimum}`
          : "";
    // zod's .int() alone sets the maximum to Number.MAX_SAFE_INTEGER: no limit a reader would set.
    const bounded = node.maximum !== undefined && node.maximum < Number.MAX_SAFE_INTEGER;
    const high = bounded ? `${low ? " " : ""}to ${node.maximum}` : "";
    return `${what}${low || high ? ` ${low}${high}` : ""}`.replace(/ above (\S+) to /, " above $1, at most ");
  }
  if (type === "boolean") return "`true` or `false`";
  if (type === "string") {
    if (node.format) return `${node.format === "email" ? "an email address" : node.format}`;
    return node.pattern && node.pattern.length <= SHOWN_PATTERN ? `text matching \`${node.pattern}\`` : "text";
  }
  return type ?? "anything";
}

/** Markdown table cells must not contain a raw `|`. */
function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** The reference table, as docs/configuration.md holds it between its markers. */
export function referenceTable(fields: readonly ReferenceField[] = referenceFields()): string {
  const rows = fields.map(
    (f) =>
      `| \`${f.path}\`${f.variant ? ` (${f.variant})` : ""} | ${cell(f.accepts)} | ${f.default ? cell(f.default) : ""} | ${cell(f.description)} |`,
  );
  return ["| field | accepts | default | what it does |", "|---|---|---|---|", ...rows, ""].join("\n");
}

export const REFERENCE_START = "<!-- config-reference:start (npm run schema writes this table) -->";
export const REFERENCE_END = "<!-- config-reference:end -->";

/** The table between the markers of a page. */
export function referenceIn(page: string, where = "docs/configuration.md"): string {
  const start = page.indexOf(REFERENCE_START);
  const end = page.indexOf(REFERENCE_END);
  if (start < 0 || end < start)
    throw new Error(`${where}: the markers ${REFERENCE_START} and ${REFERENCE_END} must enclose the reference`);
  return page.slice(start + REFERENCE_START.length + 1, end);
}

/** The page with the table between its markers replaced by `table`. */
export function withReference(page: string, table: string, where = "docs/configuration.md"): string {
  referenceIn(page, where);
  const start = page.indexOf(REFERENCE_START) + REFERENCE_START.length + 1;
  return page.slice(0, start) + table + page.slice(page.indexOf(REFERENCE_END));
}
