import type { EnvironmentConfig } from "./load";

/**
 * What every synth says of where an environment keeps its state. A production environment's state
 * in a local file lives on one machine only: lost, every resource it created is orphaned, and no
 * colleague or pipeline sees it (CI's deploy job refuses it). Allowed, for a first look at what
 * production synthesizes; warned about until the state moves to S3 or HCP Terraform.
 */
export function stateWarnings(env: EnvironmentConfig): string[] {
  if (!env.production || env.state.backend !== "local") return [];
  return [
    "state.backend is local in production: its state (every resource's id, and the values Terraform " +
      "reads) is a file on this machine only, and CI's deploy job refuses it: put it in S3 or HCP " +
      "Terraform before the first deploy (docs/state.md)",
  ];
}
