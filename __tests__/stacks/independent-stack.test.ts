import * as fs from "node:fs";
import * as path from "node:path";
import {
  AssetType,
  Fn,
  TerraformAsset,
  TerraformDataSource,
  TerraformHclModule,
  TerraformOutput,
  TerraformProvider,
  TerraformResource,
  TerraformStack,
} from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { EnvironmentStack } from "../../src/stacks/environment-stack";
import { CROSS_STACK_REFERENCE, IndependentStack } from "../../src/stacks/independent-stack";
import { synthesizeAtomically } from "../../src/synth";
import { tempDir } from "../helpers";
import { appOf, ENVIRONMENTS } from "./shipped-app";

/**
 * Every stack of this project skips cdktf's preparing pass (src/stacks/independent-stack.ts),
 * which exists only for references between stacks, and a reference between stacks is refused, as
 * is another stack's provider. (With cdktf's own resolve module the pass runs:
 * __tests__/patches/cdktf-resolve.test.ts.) That the pass, skipped, changes no byte of any shipped
 * environment: independent-stack-shipped.test.ts.
 */

let root: string;
beforeEach(() => {
  root = tempDir("independent-stack-");
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** Two environments' stacks, the second given `borrow(origin, borrower)`, synthesized as main.ts does. */
function synthesizeBorrowing(borrow: (origin: EnvironmentStack, borrower: EnvironmentStack) => void): () => void {
  return () =>
    synthesizeAtomically(path.join(root, "cdktf.out"), (app) => {
      const [origin, borrower] = appOf(app, ENVIRONMENTS.slice(0, 2)).stacks.filter(
        (stack): stack is EnvironmentStack => stack instanceof EnvironmentStack,
      );
      borrow(origin, borrower);
    });
}

const [ORIGIN, BORROWER] = ENVIRONMENTS.map((env) => env.name);

test.each([
  [
    "an output's value",
    (o: EnvironmentStack, b: EnvironmentStack) => new TerraformOutput(b, "x", { value: o.network.vpcId }),
  ],
  [
    "a function's argument",
    (o: EnvironmentStack, b: EnvironmentStack) =>
      new TerraformOutput(b, "x", { value: Fn.join(",", [o.network.vpcId, "local"]) }),
  ],
  [
    "a string around it",
    (o: EnvironmentStack, b: EnvironmentStack) => new TerraformOutput(b, "x", { value: `vpc ${o.network.vpcId}` }),
  ],
  [
    "depends_on",
    (o: EnvironmentStack, b: EnvironmentStack) =>
      new TerraformResource(b, "x", {
        terraformResourceType: "terraform_data",
        dependsOn: [o.network.node.findAll().find(TerraformResource.isTerraformResource)!],
      }),
  ],
  [
    "an override of an element",
    (o: EnvironmentStack, b: EnvironmentStack) =>
      new TerraformResource(b, "x", { terraformResourceType: "terraform_data" }).addOverride("input", o.network.vpcId),
  ],
  [
    "an override of the stack",
    (o: EnvironmentStack, b: EnvironmentStack) => b.addOverride("locals.x", o.network.vpcId),
  ],
])(
  "a reference to another stack's resource in %s stops the synthesis, naming both stacks, and nothing is written",
  (_where, borrow) => {
    // (within a function, cdktf wraps the message in a "Resolution error" of its own)
    expect(synthesizeBorrowing(borrow)).toThrow(
      new RegExp(`Stack "${BORROWER}" refers to aws_\\w+\\.\\S+ of stack "${ORIGIN}" \\(at /`),
    );
    expect(fs.readdirSync(root)).toEqual([]);
  },
);

test("the error of a reference to another stack's resource has the code the stacks' probe looks for", () => {
  const borrowVpc = (o: EnvironmentStack, b: EnvironmentStack) =>
    new TerraformOutput(b, "x", { value: o.network.vpcId });
  let thrown: unknown;
  try {
    synthesizeBorrowing(borrowVpc)();
  } catch (error) {
    thrown = error;
  }
  expect((thrown as { code?: string }).code).toBe(CROSS_STACK_REFERENCE);
});

test.each([
  [
    "a resource",
    (stack: EnvironmentStack, provider: TerraformProvider) =>
      new TerraformResource(stack, "x", { terraformResourceType: "terraform_data", provider }),
  ],
  [
    "a data source",
    (stack: EnvironmentStack, provider: TerraformProvider) =>
      new TerraformDataSource(stack, "x", { terraformResourceType: "aws_caller_identity", provider }),
  ],
  [
    "a module (as { provider, moduleAlias })",
    (stack: EnvironmentStack, provider: TerraformProvider) =>
      new TerraformHclModule(stack, "x", {
        source: "terraform-aws-modules/vpc/aws",
        providers: [{ provider, moduleAlias: "aws" }],
      }),
  ],
  [
    "a module (as the provider itself)",
    (stack: EnvironmentStack, provider: TerraformProvider) =>
      new TerraformHclModule(stack, "x", { source: "terraform-aws-modules/vpc/aws", providers: [provider] }),
  ],
])("%s given another stack's provider stops the synthesis, naming both stacks", (_what, use) => {
  const borrowProvider = (origin: EnvironmentStack, borrower: EnvironmentStack) =>
    use(borrower, origin.node.findAll().find(TerraformProvider.isTerraformProvider)!);
  expect(synthesizeBorrowing(borrowProvider)).toThrow(
    `Stack "${BORROWER}": ${BORROWER}/x uses the provider of stack "${ORIGIN}" (configured for that stack)`,
  );
  expect(fs.readdirSync(root)).toEqual([]);
});

test.each([
  ["an IndependentStack", (scope: EnvironmentStack) => new IndependentStack(scope, "inner")],
  ["a plain TerraformStack", (scope: EnvironmentStack) => new TerraformStack(scope, "inner")],
])("%s nested in another is checked against its own providers, not its parent's", (_what, nest) => {
  // (cdktf writes a nested stack as a stack of its own, with its own providers)
  const ownProvider = (_origin: EnvironmentStack, borrower: EnvironmentStack) => {
    const inner = nest(borrower);
    const provider = new AwsProvider(inner, "aws", { region: "ap-northeast-2" });
    new TerraformResource(inner, "y", { terraformResourceType: "terraform_data", provider });
  };
  expect(synthesizeBorrowing(ownProvider)).not.toThrow();
  const parentsProvider = (_origin: EnvironmentStack, borrower: EnvironmentStack) => {
    const inner = nest(borrower);
    const provider = borrower.node.findAll().find(TerraformProvider.isTerraformProvider)!;
    new TerraformResource(inner, "y", { terraformResourceType: "terraform_data", provider });
  };
  fs.rmSync(path.join(root, "cdktf.out"), { recursive: true, force: true });
  expect(synthesizeBorrowing(parentsProvider)).toThrow(
    `Stack "inner": ${BORROWER}/inner/y uses the provider of stack "${BORROWER}"`,
  );
});

test("a stack made to depend on another (addDependency) stops the synthesis, as a reference would, also a plain stack nested in one", () => {
  expect(synthesizeBorrowing((origin, borrower) => borrower.addDependency(origin))).toThrow(
    `Stack "${BORROWER}" depends on stack "${ORIGIN}"`,
  );
  expect(
    synthesizeBorrowing((origin, borrower) => new TerraformStack(borrower, "inner").addDependency(origin)),
  ).toThrow(`Stack "inner" depends on stack "${ORIGIN}"`);
  expect(fs.readdirSync(root)).toEqual([]);
});

test("a folder asset to zip stops the synthesis with what to do instead (cdktf would re-run the bundle to zip it)", () => {
  const folder = fs.mkdtempSync(path.join(root, "folder-"));
  const zipFolder = (_origin: EnvironmentStack, borrower: EnvironmentStack) =>
    new TerraformAsset(borrower, "zip", { path: folder, type: AssetType.ARCHIVE });
  expect(synthesizeBorrowing(zipFolder)).toThrow(
    /the asset \S+\/zip is a folder to zip .* as an AssetType\.FILE asset/,
  );
  expect(fs.readdirSync(root)).toEqual([path.basename(folder)]);
});
