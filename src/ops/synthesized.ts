import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { App } from "cdktf";
import { buildStacks } from "../app";
import type { EnvironmentConfig } from "../config/load";
import type { StackDocument } from "../policy/types";

/**
 * Each environment's synthesized Terraform JSON, exactly as `npm run synth` builds it, from a
 * synth into a temporary folder that is removed afterwards (`cdktf.out/` is never touched).
 */
export function synthesizeDocuments(environments: readonly EnvironmentConfig[]): Map<string, StackDocument> {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "classic-servers-synth-"));
  try {
    const app = new App({ outdir });
    buildStacks(app, environments, { projectRootFromStack: "." });
    app.synth();
    return new Map(
      environments.map((env) => [
        env.name,
        JSON.parse(fs.readFileSync(path.join(outdir, "stacks", env.name, "cdk.tf.json"), "utf8")) as StackDocument,
      ]),
    );
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}
