import * as fs from "node:fs";
import * as path from "node:path";
import { TerraformStack } from "cdktf";
import { EnvironmentStack } from "../../src/stacks/environment-stack";
import { IndependentStack } from "../../src/stacks/independent-stack";
import { StateBucketStack } from "../../src/stacks/state-bucket-stack";
import { expectSameFiles, filesUnder, tempDir } from "../helpers";
import { appOf, ENVIRONMENTS } from "./shipped-app";

// Every stack skips cdktf's preparing pass (src/stacks/independent-stack.ts): over every shipped
// environment whole, seconds, so in the programs project, which npm test and CI run and npm run
// test:quick leaves out (independent-stack.test.ts has the rest).

let root: string;
beforeEach(() => {
  root = tempDir("independent-stack-");
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

test("cdktf's preparing pass, which every stack skips, would change no byte of any shipped environment or state bucket", () => {
  const skipped = appOf(path.join(root, "skipped"));
  // every stack the app builds skips it, environments and state buckets alike
  expect(skipped.stacks.every((stack) => stack instanceof IndependentStack)).toBe(true);
  expect(skipped.stacks.filter((stack) => stack instanceof EnvironmentStack)).toHaveLength(ENVIRONMENTS.length);
  expect(skipped.stacks.some((stack) => stack instanceof StateBucketStack)).toBe(true);
  const cdktfsPass = TerraformStack.prototype.prepareStack;
  let passes = 0;
  TerraformStack.prototype.prepareStack = function (this: TerraformStack) {
    passes++;
    cdktfsPass.call(this);
  };
  try {
    skipped.app.synth();
    expect(passes).toBe(0);

    const prepared = appOf(path.join(root, "prepared"));
    for (const stack of prepared.stacks) stack.prepareStack = () => TerraformStack.prototype.prepareStack.call(stack);
    prepared.app.synth();
    expect(passes).toBe(prepared.stacks.length);
  } finally {
    TerraformStack.prototype.prepareStack = cdktfsPass;
  }

  expectSameFiles(filesUnder(path.join(root, "prepared")), filesUnder(path.join(root, "skipped")));
});
