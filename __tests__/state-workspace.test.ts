import { workspaceProblem } from "../src/state-workspace";

// Every environment keeps its state in its backend's default workspace: a TF_WORKSPACE left in a
// shell would switch Terraform to an empty state (the wrappers and main.ts refuse it: their tests).

test("TF_WORKSPACE unset, empty (which Terraform takes for unset) or default is no problem; any other name is, naming it (review DP)", () => {
  for (const value of [undefined, "", "default"])
    expect({ value, problem: workspaceProblem(value) }).toEqual({ value, problem: undefined });
  expect(workspaceProblem("staging")).toMatch(
    /^TF_WORKSPACE=staging is set: Terraform would read and write that workspace's state, which is empty, .*: unset TF_WORKSPACE$/,
  );
});
