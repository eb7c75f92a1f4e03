/**
 * Why Terraform must not run with `TF_WORKSPACE` as it is set, or undefined.
 *
 * Every environment keeps its state in the default workspace of its backend (the local file, the
 * S3 key, the HCP Terraform workspace its config names): an environment is a folder of
 * environments/, never a Terraform workspace. A `TF_WORKSPACE` left in a shell makes `terraform
 * init` switch, silently, to a workspace whose state is empty, and the next plan creates every
 * resource again beside the ones that exist (with S3 under `env:/<name>/`, with local state under
 * terraform.tfstate.d/ in the stack's folder, which the next synth replaces).
 */
export function workspaceProblem(value: string | undefined = process.env.TF_WORKSPACE): string | undefined {
  if (value === undefined || value === "" || value === "default") return undefined;
  return (
    `TF_WORKSPACE=${value} is set: Terraform would read and write that workspace's state, which is empty, and plan ` +
    "to create every resource again. Every environment keeps its state in its backend's default workspace (an " +
    "environment is a folder of environments/): unset TF_WORKSPACE"
  );
}
