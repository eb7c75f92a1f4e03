import { environmentFileJsonSchema } from "./reference";

/** `environments/schema.json` as text: the JSON Schema of an environment file, for editors. */
export function environmentJsonSchema(): string {
  const schema = environmentFileJsonSchema();
  return `${JSON.stringify({ ...schema, title: "Environment (environments/<name>/config.yaml)" }, null, 2)}\n`;
}
