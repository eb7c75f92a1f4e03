import * as fs from "node:fs";
import * as path from "node:path";
import { App, TerraformOutput, TerraformStack } from "cdktf";
import { buildStacks } from "../../src/app";
import { resolveEnvironmentReleases } from "../../src/artifact/releases";
import { PROJECT_ROOT } from "../../src/project-root";
import { EnvironmentStack } from "../../src/stacks/environment-stack";
import { IndependentStack } from "../../src/stacks/independent-stack";
import { StateBucketStack } from "../../src/stacks/state-bucket-stack";
import { synthesizeAtomically } from "../../src/synth";
import { environment, expectSameFiles, filesUnder, tempDir } from "../helpers";
import { SHIPPED_ENVIRONMENTS } from "../shipped";

/**
 * Every stack of this project skips cdktf's preparing pass (src/stacks/independent-stack.ts),
 * which exists only for references between stacks, and a reference between stacks is refused.
 */

/** The shipped environments and one more with its state in S3, for a state bucket's stack. */
const ENVIRONMENTS = [...SHIPPED_ENVIRONMENTS, environment("qa", { state: { backend: "s3", bucket: "acme-tfstate" } })];
const releases = resolveEnvironmentReleases(ENVIRONMENTS, { root: PROJECT_ROOT, environmentsLabel: "environments" });

let root: string;
beforeEach(() => {
  root = tempDir("independent-stack-");
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** The app of ENVIRONMENTS, every stack built as `npm run synth` builds it. */
function appOf(outdirOrApp: string | App): { app: App; stacks: TerraformStack[] } {
  const app = typeof outdirOrApp === "string" ? new App({ outdir: outdirOrApp }) : outdirOrApp;
  buildStacks(app, ENVIRONMENTS, { projectRootFromStack: "../../..", releases });
  return { app, stacks: app.node.findAll().filter(TerraformStack.isStack) };
}

test("cdktf's preparing pass, which every stack skips, would change no byte of any shipped environment or state bucket", () => {
  const skipped = appOf(path.join(root, "skipped"));
  // every stack the app builds skips it, environments and state buckets alike
  expect(skipped.stacks.every((stack) => stack instanceof IndependentStack)).toBe(true);
  expect(skipped.stacks.filter((stack) => stack instanceof EnvironmentStack)).toHaveLength(ENVIRONMENTS.length);
  expect(skipped.stacks.some((stack) => stack instanceof StateBucketStack)).toBe(true);
  skipped.app.synth();

  const prepared = appOf(path.join(root, "prepared"));
  let passes = 0;
  for (const stack of prepared.stacks) {
    stack.prepareStack = () => {
      passes++;
      TerraformStack.prototype.prepareStack.call(stack);
    };
  }
  prepared.app.synth();
  expect(passes).toBe(prepared.stacks.length);

  expectSameFiles(filesUnder(path.join(root, "prepared")), filesUnder(path.join(root, "skipped")));
});

test("a reference to another stack's resource stops the synthesis, naming both stacks, and nothing is written", () => {
  const outdir = path.join(root, "cdktf.out");
  const borrowing = (app: App) => {
    const [origin, borrower] = appOf(app).stacks.filter((s): s is EnvironmentStack => s instanceof EnvironmentStack);
    new TerraformOutput(borrower, "borrowed_vpc", { value: origin.network.vpcId });
  };
  const [origin, borrower] = ENVIRONMENTS.map((env) => env.name);
  expect(() => synthesizeAtomically(outdir, borrowing)).toThrow(
    `Stack "${borrower}" refers to a resource of stack "${origin}" (at /output/borrowed_vpc/value)`,
  );
  expect(fs.readdirSync(root)).toEqual([]);
});
