import * as path from "node:path";
import { TerraformElement, TerraformStack, Testing } from "cdktf";
import { buildStacks } from "../../src/app";
import { resolveEnvironmentReleases } from "../../src/artifact/releases";
import { PROJECT_ROOT } from "../../src/project-root";
import { expectSameFiles, filesUnder } from "../helpers";
import { SHIPPED_ENVIRONMENTS, shippedOutdir } from "../shipped";
import { IMPLEMENTATIONS, outcome, synthesizeWith, type Cdktf } from "./cdktf-modules";

// The stand-in for cdktf's resolve (src/patches/cdktf-resolve.ts) against cdktf's own module, over
// the shipped environments whole: seconds each, so in the programs project, which npm test and CI
// run and npm run test:quick leaves out (cdktf-resolve.test.ts compares them value by value).

describe("the stand-in for cdktf's resolve, over the shipped environments", () => {
  test("synthesizes every shipped environment to the same files as cdktf's module", () => {
    // end to end, each with cdktf (and the project's constructs) loaded afresh around its module
    const build = (cdktf: Cdktf, outdir: string) => {
      const app = new cdktf.App({ outdir });
      const { buildStacks: build } = require("../../src/app") as typeof import("../../src/app");
      const { resolveEnvironmentReleases: releasesOf } =
        require("../../src/artifact/releases") as typeof import("../../src/artifact/releases");
      const releases = releasesOf(SHIPPED_ENVIRONMENTS, { root: PROJECT_ROOT, environmentsLabel: "environments" });
      // the project root as the shared synth's stacks see it (its local state path)
      const projectRootFromStack = path.relative(path.join(shippedOutdir(), "stacks", "dev"), PROJECT_ROOT);
      build(app, SHIPPED_ENVIRONMENTS, { projectRootFromStack, releases });
      return app;
    };
    // against the stand-in's: the run's shared synth, `npm run synth` as it runs (the bundle, with
    // the stand-in; main.test.ts shows main.ts from the sources writes the same bytes)
    const fromCdktf = synthesizeWith("cdktf", build);
    expectSameFiles(fromCdktf, filesUnder(shippedOutdir()));
    for (const env of SHIPPED_ENVIRONMENTS) expect(fromCdktf.has(`stacks/${env.name}/cdk.tf.json`)).toBe(true);
  });

  test("resolves each element of every shipped environment, preparing or not, to what cdktf's module does", () => {
    // (what a synth resolves of each element: once preparing, once for output)
    const app = Testing.app();
    const releases = resolveEnvironmentReleases(SHIPPED_ENVIRONMENTS, {
      root: PROJECT_ROOT,
      environmentsLabel: "environments",
    });
    buildStacks(app, SHIPPED_ENVIRONMENTS, { projectRootFromStack: "../../..", releases });
    let compared = 0;
    for (const stack of app.node.findAll().filter(TerraformStack.isStack)) {
      for (const element of stack.node.findAll().filter(TerraformElement.isTerraformElement)) {
        for (const preparing of [true, false]) {
          for (const produce of [() => element.toTerraform(), () => element.toMetadata()]) {
            const [expected, actual] = IMPLEMENTATIONS.map(([, implementation]) =>
              outcome(implementation, produce, stack, preparing),
            );
            expect(actual).toStrictEqual(expected);
            compared++;
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(1000);
  });
});
