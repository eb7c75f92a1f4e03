import { App, TerraformStack } from "cdktf";
import { buildStacks } from "../../src/app";
import { resolveEnvironmentReleases } from "../../src/artifact/releases";
import { PROJECT_ROOT } from "../../src/project-root";
import { environment } from "../helpers";
import { SHIPPED_ENVIRONMENTS, unusedEnvironmentName } from "../shipped";

// The app npm run synth builds, for the tests of IndependentStack (independent-stack.test.ts and,
// over every environment whole, independent-stack-shipped.test.ts).

/** The shipped environments and one more with its state in S3, for a state bucket's stack. */
export const ENVIRONMENTS = [
  ...SHIPPED_ENVIRONMENTS,
  environment(unusedEnvironmentName("qa"), { state: { backend: "s3", bucket: "acme-tfstate" } }),
];
const releases = resolveEnvironmentReleases(ENVIRONMENTS, { root: PROJECT_ROOT, environmentsLabel: "environments" });

/** The app of `environments`, every stack built as `npm run synth` builds it. */
export function appOf(outdirOrApp: string | App, environments = ENVIRONMENTS): { app: App; stacks: TerraformStack[] } {
  const app = typeof outdirOrApp === "string" ? new App({ outdir: outdirOrApp }) : outdirOrApp;
  buildStacks(app, environments, { projectRootFromStack: "../../..", releases });
  return { app, stacks: app.node.findAll().filter(TerraformStack.isStack) };
}
