import { CloudBackend, LocalBackend, NamedCloudWorkspace, S3Backend, type TerraformStack } from "cdktf";
import type { StateConfig } from "../config/load";

export interface StateBackendOptions {
  /**
   * Path from the stack's Terraform working directory (`<outdir>/stacks/<stack>`) to the project
   * root. Local state lives in `<project root>/state/`, outside `cdktf.out`, and the path written
   * into the JSON is relative, so it is the same on every machine.
   */
  readonly projectRootFromStack: string;
  /** When set, the S3 backend refuses credentials of any other account. */
  readonly allowedAccountIds?: string[];
}

/**
 * The minimum Terraform for S3-native locking (`use_lockfile`): an experiment in 1.10, generally
 * available from 1.11.
 */
export const REQUIRED_TERRAFORM = ">= 1.11.0";

/**
 * Configures where `stack` keeps its Terraform state: a local file, S3 with S3-native locking, or
 * an HCP Terraform workspace.
 */
export function addStateBackend(stack: TerraformStack, state: StateConfig, options: StateBackendOptions): void {
  switch (state.backend) {
    case "local":
      new LocalBackend(stack, { path: `${options.projectRootFromStack}/${state.path}` });
      break;
    case "s3": {
      const backend = new S3Backend(stack, {
        bucket: state.bucket,
        key: state.key,
        region: state.region,
        encrypt: true,
        allowedAccountIds: options.allowedAccountIds,
      });
      // The 0.21 S3Backend binding predates S3-native locking (Terraform >= 1.11) and has no
      // `useLockfile` prop; without it two applies can write the same state at once.
      backend.addOverride("use_lockfile", true);
      break;
    }
    case "cloud":
      new CloudBackend(stack, {
        organization: state.organization,
        hostname: state.hostname,
        workspaces: new NamedCloudWorkspace(state.workspace),
      });
      break;
  }
  // No binding prop sets the Terraform version constraint; S3 locking needs 1.11.
  stack.addOverride("terraform.required_version", REQUIRED_TERRAFORM);
}
