import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { packageApp } from "../src/artifact/package-app";
import { tempDir } from "./helpers";
import { SHIPPED_NAMES, shippedOutdir } from "./shipped";

/**
 * `terraform validate` of every shipped environment against a provider from a local mirror, when
 * one exists (this workplace has hashicorp/aws 5.100 in /opt/tf-plugins; TF_PROVIDER_MIRROR points
 * elsewhere). The stacks require ~> 6.25, which cannot be downloaded here, so this test relaxes
 * the version constraint in a copy of each stack (and drops its backend): it proves that the JSON
 * is valid Terraform (expressions, references, lifecycle blocks, functions) and valid for the
 * resource schemas as 5.100 has them, which is a major version older than 6.25, not the same.
 * TF_ACC=1 runs the exact check with the real provider (environments.test.ts).
 *
 * One `terraform init` and one `terraform validate` cover every environment: each stack's copy is a
 * module of one root configuration, so the provider (a 700 MB binary) starts once instead of once
 * per environment. Validation of a module checks the same schemas, references and functions; each
 * diagnostic names the module's file, so every environment still gets a verdict of its own.
 */

const ROOT = path.join(__dirname, "..");
const MIRROR = process.env.TF_PROVIDER_MIRROR ?? "/opt/tf-plugins";
const awsVersions = (() => {
  const dir = path.join(MIRROR, "registry.terraform.io/hashicorp/aws");
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
})();
const terraform = spawnSync("terraform", ["version"], { encoding: "utf8" });
const skipReason =
  terraform.error !== undefined
    ? "terraform is not on PATH"
    : awsVersions.length === 0
      ? `no hashicorp/aws provider in a local mirror at ${MIRROR} (set TF_PROVIDER_MIRROR)`
      : undefined;
if (skipReason) console.info(`skipped: terraform validate against a local provider mirror: ${skipReason}`);

interface Diagnostic {
  readonly severity: string;
  readonly summary: string;
  readonly detail?: string;
  readonly range?: { readonly filename: string };
}

(skipReason ? describe.skip : describe)(
  `terraform validate with the mirrored provider (aws ${awsVersions.join(", ")})`,
  () => {
    const work = tempDir("validate-mirror-");
    const environments = SHIPPED_NAMES;
    const terraformEnv = { ...process.env, CHECKPOINT_DISABLE: "1", TF_IN_AUTOMATION: "1" };
    let init: ReturnType<typeof spawnSync>;
    let validation: { valid: boolean; diagnostics: Diagnostic[] };

    beforeAll(() => {
      // One release tarball for every module, so that filemd5() of the release finds a file.
      const release = packageApp(path.join(ROOT, "app"), path.join(work, "dist")).file;
      const modules: Record<string, { source: string }> = {};
      for (const env of environments) {
        const stack = JSON.parse(fs.readFileSync(path.join(shippedOutdir(), "stacks", env, "cdk.tf.json"), "utf8"));
        for (const object of Object.values<{ source: string; source_hash: string }>(
          stack.resource.aws_s3_object ?? {},
        )) {
          object.source = `\${path.module}/../dist/${path.basename(release)}`;
          object.source_hash = `\${filemd5("\${path.module}/../dist/${path.basename(release)}")}`;
        }
        stack.terraform.required_providers.aws.version = ">= 5.0"; // the mirror's, not ~> 6.25
        delete stack.terraform.backend; // a module has none; the root validates without one
        fs.mkdirSync(path.join(work, env));
        fs.writeFileSync(path.join(work, env, "main.tf.json"), JSON.stringify(stack, null, 2));
        modules[env] = { source: `./${env}` };
      }
      fs.writeFileSync(path.join(work, "main.tf.json"), JSON.stringify({ module: modules }, null, 2));
      init = spawnSync("terraform", ["init", "-backend=false", "-input=false", "-no-color", `-plugin-dir=${MIRROR}`], {
        cwd: work,
        env: terraformEnv,
        encoding: "utf8",
      });
      const validate = spawnSync("terraform", ["validate", "-json", "-no-color"], {
        cwd: work,
        env: terraformEnv,
        encoding: "utf8",
      });
      validation = JSON.parse(validate.stdout || '{"valid":false,"diagnostics":[]}');
    }, 60_000);
    afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

    test("terraform init finds the provider in the mirror and says nothing else", () => {
      expect(
        String(init.stderr)
          .replace(/.*CLI configuration[\s\S]*?╵\n?/g, "")
          .trim(),
      ).toBe("");
      expect(init.status).toBe(0);
    });

    test.each(environments)("%s is valid Terraform", (env) => {
      const errors = validation.diagnostics
        .filter((d) => d.severity === "error" && (d.range === undefined || d.range.filename.startsWith(`${env}/`)))
        .map(({ summary, detail, range }) => ({ summary, detail, file: range?.filename }));
      expect(errors).toEqual([]);
    });

    test("the configuration as a whole is valid", () => {
      expect(validation.diagnostics.filter((d) => d.severity === "error").map((d) => d.summary)).toEqual([]);
      expect(validation.valid).toBe(true);
    });
  },
);
