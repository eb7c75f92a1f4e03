import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { tempDir } from "./helpers";
import { shippedStack } from "./shipped";

/**
 * The final snapshot's name, evaluated by a REAL Terraform: the exact `final_snapshot_identifier`
 * expression and `ignore_changes` the database is synthesized with, put on Terraform's built-in
 * `terraform_data` resource (no provider to download), which stands in for the RDS instance. It
 * shows what teardown relies on: the name is fixed when the instance is created (a second plan
 * changes nothing), and a destroyed and re-created instance gets a new one, so the second destroy
 * of an environment does not collide with the snapshot the first one left.
 */

const terraform = spawnSync("terraform", ["version"], { encoding: "utf8" });
const skip = terraform.error ? `terraform is not on PATH (${terraform.error.message})` : undefined;
if (skip) console.info(`skipped: the final snapshot's name on a real Terraform: ${skip}`);

(skip ? describe.skip : describe)(
  "the final snapshot's name, on a real Terraform (terraform_data stands in for RDS)",
  () => {
    const dir = tempDir("final-snapshot-");
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    const run = (...args: string[]) => {
      const result = spawnSync("terraform", [...args, "-input=false", "-no-color"], {
        cwd: dir,
        encoding: "utf8",
        env: { ...process.env, CHECKPOINT_DISABLE: "1", TF_IN_AUTOMATION: "1" },
      });
      if (result.status !== 0 && args[0] !== "plan") throw new Error(`terraform ${args[0]}: ${result.stderr}`);
      return result;
    };
    const name = () => JSON.parse(fs.readFileSync(path.join(dir, "terraform.tfstate"), "utf8")).outputs.name.value;

    test("is kept across plans, and is new after a destroy and a re-create", async () => {
      // given the database's own expression and lifecycle, from the synthesized staging stack
      const [db] = shippedStack("staging").resources("aws_db_instance");
      const expression: string = db.values.final_snapshot_identifier;
      expect(db.values.lifecycle.ignore_changes).toContain("final_snapshot_identifier");
      fs.writeFileSync(
        path.join(dir, "main.tf.json"),
        JSON.stringify({
          resource: { terraform_data: { db: { input: expression, lifecycle: { ignore_changes: ["input"] } } } },
          output: { name: { value: "${terraform_data.db.output}" } },
        }),
      );
      run("init");
      run("apply", "-auto-approve");
      const first = name();
      expect(first).toMatch(/^shop-staging-db-final-\d{14}$/);
      // a later plan changes nothing: the name is the one taken at creation
      expect(run("plan", "-detailed-exitcode").status).toBe(0);
      // destroyed, then created again in a later second: a name of its own
      run("destroy", "-auto-approve");
      await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 50));
      run("apply", "-auto-approve");
      expect(name()).toMatch(/^shop-staging-db-final-\d{14}$/);
      expect(name()).not.toBe(first);
    }, 30_000);
  },
);
