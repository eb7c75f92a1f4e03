import { z } from "zod";
import { environmentSchema } from "./schema";

/** `environments/schema.json` as text: the JSON Schema of an environment file, for editors. */
export function environmentJsonSchema(): string {
  const schema = z.toJSONSchema(environmentSchema, { io: "input", unrepresentable: "any" });
  return `${JSON.stringify({ ...schema, title: "Environment (environments/<name>/config.yaml)" }, null, 2)}\n`;
}
