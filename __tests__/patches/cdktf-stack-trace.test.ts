import * as path from "node:path";
import { Lazy, TerraformOutput, TerraformStack, Testing } from "cdktf";
import { bundleRecord } from "../helpers";

// cdktf's token creation stacks (src/patches/cdktf-stack-trace.ts): recorded only on request, in
// the tests (__tests__/resolver.js, __tests__/unit-runner/register.js) and in the bundle every
// `npm run` runs (scripts/run.js).

/** A stack with an output whose token fails to resolve, as a mistake in a construct would. */
function synthesizeBrokenToken(): string {
  const app = Testing.app();
  const stack = new TerraformStack(app, "broken");
  new TerraformOutput(stack, "value", {
    value: Lazy.stringValue({
      produce: () => {
        throw new Error("the value is not known yet");
      },
    }),
  });
  try {
    Testing.synth(stack);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("the broken token resolved");
}

afterEach(() => {
  delete process.env.CDKTF_CREATION_STACKS;
});

test("a token that fails to resolve still says why, and how to see where it was created", () => {
  const message = synthesizeBrokenToken();
  expect(message).toContain("Resolution error: the value is not known yet.");
  expect(message).toContain("run again with CDKTF_CREATION_STACKS=1 to see where this token was created");
});

test("with CDKTF_CREATION_STACKS=1 the message lists where the token was created, as cdktf's own does", () => {
  process.env.CDKTF_CREATION_STACKS = "1";
  const message = synthesizeBrokenToken();
  expect(message).toContain("Object creation stack:");
  expect(message).toContain(path.basename(__filename));
});

test("the bundle npm run synth runs was built with the stand-in, not cdktf's module", () => {
  // global-setup.js ran main.ts through scripts/run.js, which records every input of the bundle
  const record = bundleRecord();
  expect(Object.keys(record.own)).toContain("src/patches/cdktf-stack-trace.ts");
  expect(Object.keys(record.deps).filter((input) => input.includes("cdktf/lib/tokens/private/stack-trace"))).toEqual(
    [],
  );
  // (by the path esbuild resolved: through a linked node_modules, as pnpm makes, it is the link's target)
  expect(
    Object.keys(record.deps).some((input) => input.endsWith("node_modules/cdktf/lib/tokens/private/intrinsic.js")),
  ).toBe(true);
});
