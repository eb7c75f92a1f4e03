import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { loadEnvironments } from "../../src/config/load";
import { ciDeployProblem, ciMatrix } from "../../src/ops/ci-environments";
import { environment } from "../helpers";
import { entryCommand } from "../../src/project-root";

// What the workflows learn about the environment folders: the matrix, and whether CI may deploy one.
const ROOT = path.join(__dirname, "..", "..");

const runScript = (args: string[]) => {
  const result = spawnSync(...entryCommand("scripts/ci-environments.ts", args), {
    cwd: ROOT,
    encoding: "utf8",
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
};

describe("the CI matrix", () => {
  test("has one leg per environment folder, with its region and state backend", () => {
    const folders = fs
      .readdirSync(path.join(ROOT, "environments"), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    const matrix = ciMatrix(loadEnvironments({ dir: path.join(ROOT, "environments") }));
    expect(matrix.include.map((leg) => leg.environment)).toEqual(folders);
    expect(matrix.include.find((leg) => leg.environment === "dr-osaka")).toEqual({
      environment: "dr-osaka",
      region: "ap-northeast-3",
      backend: "local",
    });
  });

  test("the script prints it as a $GITHUB_OUTPUT line that fromJSON reads back", () => {
    const run = runScript([]);
    expect(run.status).toBe(0);
    const [key, value] = run.stdout.trim().split(/=(.*)/s);
    expect(key).toBe("matrix");
    expect(JSON.parse(value)).toEqual(ciMatrix(loadEnvironments({ dir: path.join(ROOT, "environments") })));
  });
});

describe("deploying from CI", () => {
  test("is refused for local state, which the runner throws away, naming the environment, field and what is allowed", () => {
    expect(ciDeployProblem(environment("qa"))).toMatch(
      /^environments\/qa: state\.backend must be s3 or cloud to deploy from CI \(got "local"\)/,
    );
    expect(ciDeployProblem(environment("qa", { state: { backend: "s3", bucket: "acme-tfstate" } }))).toBeUndefined();
    expect(ciDeployProblem(environment("qa", { state: { backend: "cloud", organization: "acme" } }))).toBeUndefined();
  });

  test("the script exits 1 for a shipped environment: all keep local state, for now", () => {
    const local = runScript(["--deployable", "prod"]);
    expect(local.status).toBe(1);
    expect(local.stdout).toBe("");
    expect(local.stderr).toMatch(/environments\/prod: state\.backend must be s3 or cloud/);
  });
});
