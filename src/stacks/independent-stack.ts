import { TerraformStack } from "cdktf";

/**
 * A stack that stands alone: it never refers to another stack's resources, as each environment
 * (and each state bucket's bootstrap stack) has its own state, account and often its own region.
 * Every stack of this project extends it.
 *
 * Before it writes anything, cdktf's `App.synth()` calls `prepareStack()` on every stack, which
 * computes each element's Terraform JSON and resolves it once ("preparing") for one purpose: a
 * reference to another stack's resource, for which it adds an output to that stack and a remote
 * state to this one. The synthesis then computes and resolves every element again for the output.
 * Here that pass is skipped, and the backend check it also makes is kept: the pass was a third of
 * cdktf's synthesis (docs/development.md#benchmark), and the output is the same byte for byte
 * (`__tests__/stacks/independent-stack.test.ts` compares every shipped environment with and
 * without it).
 *
 * A reference to another stack's resource cannot slip through: cdktf's resolution (its stand-in,
 * `src/patches/cdktf-resolve.ts`, which `scripts/run.js` and the tests load in cdktf's place)
 * stops the synthesis with an error that names both stacks, where cdktf without the pass would
 * write a reference to a resource the stack does not have (or, as every environment's constructs
 * share their names, to its own).
 */
export class IndependentStack extends TerraformStack {
  public override prepareStack(): void {
    this.ensureBackendExists();
  }
}
