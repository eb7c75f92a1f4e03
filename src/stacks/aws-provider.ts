import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import type { TerraformStack } from "cdktf";

/**
 * The AWS provider versions these bindings were generated for (@cdktf/provider-aws 21.x binds
 * 6.25.0): older providers lack attributes the bindings write, and 7.x may change them.
 */
export const AWS_PROVIDER_CONSTRAINT = "~> 6.25";

export interface AwsProviderOptions {
  /** Region every resource of the stack lives in. */
  readonly region: string;
  /** When set, Terraform refuses to run with credentials of any other account. */
  readonly accountId?: string;
  /** Tags on every resource the provider creates. */
  readonly defaultTags: Record<string, string>;
}

/** Adds the stack's AWS provider, pinned to the provider versions the bindings match. */
export function addAwsProvider(stack: TerraformStack, options: AwsProviderOptions): AwsProvider {
  const provider = new AwsProvider(stack, "aws", {
    region: options.region,
    allowedAccountIds: options.accountId ? [options.accountId] : undefined,
    defaultTags: [{ tags: options.defaultTags }],
  });
  // The binding writes `source: "aws", version: "~> 6.0"` and has no prop for either: name the
  // registry source in full and narrow the versions to the ones it binds.
  stack.addOverride("terraform.required_providers.aws", { source: "hashicorp/aws", version: AWS_PROVIDER_CONSTRAINT });
  return provider;
}
