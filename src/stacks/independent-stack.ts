import {
  AssetType,
  DefaultTokenResolver,
  StringConcat,
  TerraformAsset,
  TerraformDataSource,
  TerraformModule,
  TerraformProvider,
  TerraformResource,
  TerraformStack,
  Tokenization,
} from "cdktf";
import type { IConstruct } from "constructs";

/**
 * A stack that stands alone: it never refers to another stack's resources or provider, as each
 * environment (and each state bucket's bootstrap stack) has its own state, account and often its
 * own region. Every stack of this project extends it.
 *
 * Before it writes anything, cdktf's `App.synth()` calls `prepareStack()` on every stack, which
 * computes each element's Terraform JSON and resolves it once ("preparing") for one purpose: a
 * reference to another stack's resource, for which it adds an output to that stack and a remote
 * state to this one. The synthesis then computes and resolves every element again for the output.
 * Here that pass is skipped, and the backend check it also makes is kept: the pass was a third of
 * cdktf's synthesis (docs/development.md#benchmark), and the output is the same byte for byte
 * (`__tests__/stacks/independent-stack.test.ts` compares every shipped environment with and
 * without it). The pass also fixed each element's logical ID before cdktf runs Aspects; this
 * project has none.
 *
 * The pass is skipped only where a reference to another stack's resource cannot slip through:
 * cdktf's resolution must be the stand-in (`src/patches/cdktf-resolve.ts`, which `scripts/run.js`
 * and the tests load in cdktf's place), which stops the synthesis with an error naming both stacks
 * where cdktf without the pass would write a reference to a resource the stack does not have (or,
 * as every environment's constructs share their names, to its own). A probe asks the resolution in
 * use, once per loaded copy of this module; through a plain TypeScript loader, or after a cdktf
 * upgrade the stand-in no longer replaces, the pass runs as cdktf runs it; either way a stack that
 * depends on another (the pass wires a reference through a remote state; or addDependency) is
 * refused.
 *
 * Two things no resolution sees are checked here instead, before anything is written:
 * - a resource, data source or module given another stack's provider (cdktf writes only the
 *   provider's name, which the stack's own provider of that name would answer, configured for this
 *   stack: another region, account or credentials);
 * - a folder asset to zip (`AssetType.ARCHIVE`): cdktf zips by running its own module file as a
 *   program, and in the launcher's bundle that file is the whole app, which would synthesize again.
 */
export class IndependentStack extends TerraformStack {
  public override prepareStack(): void {
    if (!crossStackReferencesStopped(this)) {
      super.prepareStack();
    } else {
      this.ensureBackendExists();
    }
    // (where the pass ran, a reference to another stack's resource made this stack depend on it)
    refuseDependencies(this);
    for (const construct of this.node.findAll()) {
      // A stack nested in this one is checked against its own providers; one that is itself an
      // IndependentStack checks its own constructs.
      const owner = TerraformStack.of(construct);
      if (owner !== this && owner instanceof IndependentStack) continue;
      // a plain stack nested in this one does not refuse its own (its addDependency)
      if (owner === construct && owner !== this) refuseDependencies(owner);
      for (const provider of providersOf(construct)) {
        if (TerraformStack.of(provider) === owner) continue;
        throw new Error(
          `Stack "${owner.node.id}": ${construct.node.path} uses the provider of stack "${TerraformStack.of(provider).node.id}" ` +
            "(configured for that stack): every stack here has its own providers. Give it one of this stack's.",
        );
      }
      if (construct instanceof TerraformAsset && construct.type === AssetType.ARCHIVE) {
        throw new Error(
          `Stack "${owner.node.id}": the asset ${construct.node.path} is a folder to zip (AssetType.ARCHIVE), which ` +
            "cdktf cannot do when it runs from scripts/run.js's bundle: zip the folder first and give the zip as an " +
            "AssetType.FILE asset.",
        );
      }
    }
  }
}

/** Throws when `stack` depends on another stack: every stack here stands alone. */
function refuseDependencies(stack: TerraformStack): void {
  const [other] = stack.dependencies;
  if (other) {
    throw new Error(
      `Stack "${stack.node.id}" depends on stack "${other.node.id}" (a reference to one of its resources, which ` +
        "cdktf would read through a remote state, or addDependency): every stack here stands alone, with its own " +
        "state. Give this stack its own resource or data source, or pass the value in through its configuration.",
    );
  }
}

/** The providers a construct is given: a resource's or data source's own, each of a module's. */
function providersOf(construct: IConstruct): TerraformProvider[] {
  if (TerraformResource.isTerraformResource(construct) || TerraformDataSource.isTerraformDataSource(construct)) {
    return construct.provider ? [construct.provider] : [];
  }
  if (construct instanceof TerraformModule) {
    // as cdktf tells its two forms apart: a provider, or { provider, moduleAlias }
    return (construct.providers ?? []).map((entry) =>
      TerraformProvider.isTerraformProvider(entry) ? entry : entry.provider,
    );
  }
  return [];
}

/**
 * Whether the cdktf resolution in use stops references between stacks; asked once per loaded copy
 * of this module.
 */
let stopped: boolean | undefined;

/**
 * Resolves a probe that looks to the stand-in like a reference to another stack's resource: the
 * stand-in throws its error (`code` CROSS_STACK_REFERENCE), cdktf's own module calls the probe.
 */
function crossStackReferencesStopped(scope: IConstruct): boolean {
  if (stopped !== undefined) return stopped;
  const probe = {
    creationStack: [],
    originStack: { node: { id: "probe" } },
    crossStackIdentifier: {},
    resolve: () => "resolved by a module that does not stop references between stacks",
  };
  try {
    Tokenization.resolve(probe, { scope, preparing: false, resolver: new DefaultTokenResolver(new StringConcat()) });
    stopped = false;
  } catch (error) {
    stopped = (error as { code?: string }).code === CROSS_STACK_REFERENCE;
  }
  return stopped;
}

/** The `code` of the stand-in's error for a reference to another stack's resource. */
export const CROSS_STACK_REFERENCE = "CROSS_STACK_REFERENCE";
