import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { synthesizeDocuments } from "../src/ops/synthesized";
import { environment, tempDir } from "./helpers";

/**
 * The pinned AMI's record (`terraform_data`, Terraform's built-in resource: no provider to
 * download), exactly as a production fleet is synthesized, planned by a REAL Terraform against the
 * state an earlier apply left: the pin keeps its AMI through a new Amazon Linux release, and
 * refuses the plan when app.instanceType moves to the other architecture, whose servers could not
 * launch from it, until the pin is bumped.
 */

const terraform = spawnSync("terraform", ["version"], { encoding: "utf8" });
const skip = terraform.error ? `terraform is not on PATH (${terraform.error.message})` : undefined;
if (skip) console.info(`skipped: the pinned AMI on a real Terraform: ${skip}`);

/** The AMI each architecture's SSM parameter gives, as AWS would answer a read of it. */
const AMI = { arm64: "ami-0aaaaaaaaaaaaaaa1", x86_64: "ami-0bbbbbbbbbbbbbbb2" };

/** The pin record of a fleet of `instanceType` with its AMI pinned (production's default), its reads of the parameter answered. */
function pinConfig(instanceType: string, amiPinnedAt?: string): string {
  const env = environment("prod", {
    app: { instanceType, version: "1.0.0", count: { min: 2, desired: 2, max: 4 }, amiUpdates: "pinned", amiPinnedAt },
  });
  const doc = synthesizeDocuments([env]).get("prod") as Record<string, any>;
  const [[, pin]] = Object.entries<any>(doc.resource.terraform_data).filter(([id]) => id.includes("AmiPin"));
  const [parameter] = Object.values<any>(doc.data.aws_ssm_parameter).filter((p) => p.name.includes("al2023"));
  const architecture = parameter.name.endsWith("arm64") ? "arm64" : "x86_64";
  const { "//": _, ...resource } = pin;
  resource.input = { ami: AMI[architecture as keyof typeof AMI], parameter: parameter.name };
  return JSON.stringify({
    resource: { terraform_data: { pin: resource } },
    output: { ami: { value: "${terraform_data.pin.output.ami}" } },
  });
}

(skip ? describe.skip : describe)("the pinned AMI, on a real Terraform (terraform_data, as synthesized)", () => {
  const dir = tempDir("ami-pin-");
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const run = (...args: string[]) =>
    spawnSync("terraform", [...args, "-input=false", "-no-color"], {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, CHECKPOINT_DISABLE: "1", TF_IN_AUTOMATION: "1" },
    });
  const write = (config: string) => fs.writeFileSync(path.join(dir, "main.tf.json"), config);

  test("a plan that moves app.instanceType to the other architecture fails, naming what to run; a bump moves the pin", () => {
    // given a fleet of arm64 servers, applied
    write(pinConfig("m7g.large"));
    expect(run("init").status).toBe(0);
    expect(run("apply", "-auto-approve").status).toBe(0);
    // a later plan changes nothing
    expect(run("plan", "-detailed-exitcode").status).toBe(0);
    // when app.instanceType becomes an x86_64 one
    write(pinConfig("m7i.large"));
    const refused = run("plan");
    // then the plan fails on the pin, and says so
    expect(refused.status).toBe(1);
    expect(refused.stderr.replace(/\s+/g, " ")).toContain(
      "The AMI pinned for environments/prod is not the x86_64 one its app.instanceType needs",
    );
    expect(refused.stderr.replace(/\s+/g, " ")).toContain("Run npm run bump-ami -- prod in the same change");
    // and with the pin bumped in the same change, it plans, and applies the x86_64 AMI
    write(pinConfig("m7i.large", "2026-12-05T14:30:00Z"));
    expect(run("plan", "-detailed-exitcode").status).toBe(2);
    expect(run("apply", "-auto-approve").status).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(dir, "terraform.tfstate"), "utf8")).outputs.ami.value).toBe(AMI.x86_64);
  });
});
