import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import type { TerraformStack } from "cdktf";

/**
 * The AWS provider these bindings were generated for (@cdktf/provider-aws 21.22.1 binds 6.25.0),
 * exactly: older providers lack attributes the bindings write, and with a range (`~> 6.25`) every
 * `terraform init` took the newest 6.x, so a pull request's reviewed plan, staging's deploy and
 * prod's a week later could each run another provider (the stacks' `.terraform.lock.hcl` lives in
 * cdktf.out, which is not committed). An upgrade is a change like any other: this line, the tests,
 * every environment's plan.
 */
export const AWS_PROVIDER_CONSTRAINT = "6.25.0";

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
  // registry source in full and pin the version it binds.
  stack.addOverride("terraform.required_providers.aws", { source: "hashicorp/aws", version: AWS_PROVIDER_CONSTRAINT });
  return provider;
}

/** The alias of the provider `addObjectProvider` adds. */
export const OBJECT_PROVIDER_ALIAS = "objects";

/**
 * A second configuration of the stack's provider, `aws.objects`, for S3 objects: the same region
 * and account, and no default tags. S3 takes 10 tags on an object, and the provider puts every
 * default tag on every resource it creates (there is no opting one resource out), so with the
 * environment's own tags an object could be refused at apply, after the network and buckets were
 * made. An object given this provider sets its tags itself.
 */
export function addObjectProvider(
  stack: TerraformStack,
  options: Omit<AwsProviderOptions, "defaultTags">,
): AwsProvider {
  return new AwsProvider(stack, "aws_objects", {
    alias: OBJECT_PROVIDER_ALIAS,
    region: options.region,
    allowedAccountIds: options.accountId ? [options.accountId] : undefined,
  });
}
