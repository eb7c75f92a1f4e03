import { stateWarnings } from "../../src/config/state-warnings";
import { environment, productionEnvironmentFile } from "../helpers";

// Production's state in a local file is allowed (a first look at what prod synthesizes), and every
// synth says so until it moves; elsewhere local state is the default and says nothing.
test("production with local state is warned about, naming the field and where to move it", () => {
  const prod = environment("prod", productionEnvironmentFile({ state: { backend: "local" } }));
  expect(stateWarnings(prod)).toEqual([
    expect.stringMatching(/^state\.backend is local in production: .* S3 or HCP Terraform .*docs\/state\.md\)$/),
  ]);
});

test("production with S3 state, and dev with local state, say nothing", () => {
  const prodS3 = environment("prod", productionEnvironmentFile({ state: { backend: "s3", bucket: "acme-tfstate" } }));
  expect(stateWarnings(prodS3)).toEqual([]);
  expect(stateWarnings(environment("dev", { state: { backend: "local" } }))).toEqual([]);
});
