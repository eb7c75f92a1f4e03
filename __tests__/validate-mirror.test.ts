import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { packageApp } from "../src/artifact/package-app";
import { tempDir } from "./helpers";

/**
 * `terraform validate` of every shipped environment against a provider from a local mirror, when
 * one exists (this workplace has hashicorp/aws 5.100 in /opt/tf-plugins; TF_PROVIDER_MIRROR points
 * elsewhere). The stacks require ~> 6.25, which cannot be downloaded here, so this test relaxes
 * the version constraint in a copy of each stack (and drops its backend): it proves that the JSON
 * is valid Terraform (expressions, references, lifecycle blocks, functions) and valid for the
 * resource schemas as 5.100 has them, which is close to, not the same as, 6.25. TF_ACC=1 runs the
 * exact check with the real provider (environments.test.ts).
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

(skipReason ? describe.skip : describe)(
  `terraform validate with the mirrored provider (aws ${awsVersions.join(", ")})`,
  () => {
    const work = tempDir("validate-mirror-");
    const outdir = path.join(work, "out");
    const environments = fs
      .readdirSync(path.join(ROOT, "environments"), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);

    beforeAll(() => {
      const synth = spawnSync(process.execPath, ["--require", "tsx/cjs", path.join(ROOT, "main.ts")], {
        cwd: ROOT,
        env: { ...process.env, CDKTF_OUTDIR: outdir },
        encoding: "utf8",
      });
      if (synth.status !== 0) throw new Error(`synth failed: ${synth.stderr}`);
    }, 60_000);
    afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

    test.each(environments)(
      "%s is valid Terraform",
      (env) => {
        // A copy beside its own dist/, so that filemd5() of the release finds a tarball.
        const dir = path.join(work, env, "stacks", env);
        fs.mkdirSync(dir, { recursive: true });
        const stack = JSON.parse(fs.readFileSync(path.join(outdir, "stacks", env, "cdk.tf.json"), "utf8"));
        const version: string = stack.resource.aws_s3_object
          ? (Object.values(stack.resource.aws_s3_object)[0] as { source: string }).source.match(
              /app-(.+)\.tar\.gz$/,
            )![1]
          : "";
        for (const object of Object.values<{ source: string; source_hash: string }>(
          stack.resource.aws_s3_object ?? {},
        )) {
          object.source = `\${path.module}/../../dist/app-${version}.tar.gz`;
          object.source_hash = `\${filemd5("\${path.module}/../../dist/app-${version}.tar.gz")}`;
        }
        packageApp(path.join(ROOT, "app"), path.join(work, env, "dist"));
        stack.terraform.required_providers.aws.version = ">= 5.0"; // the mirror's, not ~> 6.25
        delete stack.terraform.backend;
        fs.writeFileSync(path.join(dir, "main.tf.json"), JSON.stringify(stack));
        const env_ = { ...process.env, CHECKPOINT_DISABLE: "1", TF_IN_AUTOMATION: "1" };
        const init = spawnSync(
          "terraform",
          ["init", "-backend=false", "-input=false", "-no-color", `-plugin-dir=${MIRROR}`],
          {
            cwd: dir,
            env: env_,
            encoding: "utf8",
          },
        );
        expect(init.stderr.replace(/.*CLI configuration[\s\S]*?╵\n?/g, "").trim()).toBe("");
        expect(init.status).toBe(0);
        const validate = spawnSync("terraform", ["validate", "-json", "-no-color"], {
          cwd: dir,
          env: env_,
          encoding: "utf8",
        });
        const result = JSON.parse(validate.stdout);
        expect(result.diagnostics.filter((d: { severity: string }) => d.severity === "error")).toEqual([]);
        expect(result.valid).toBe(true);
      },
      60_000,
    );
  },
);
