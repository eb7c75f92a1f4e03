import * as fs from "node:fs";
import * as path from "node:path";
import { ciDeployProblem, ciMatrix, deployChain, stateToken } from "../../src/ops/ci-environments";
import { environment, environmentFile, productionEnvironmentFile, tempDir, writeEnvironments } from "../helpers";
import { ciEnvironmentsCommand } from "../../src/ops/ci-environments-command";
import { scriptCommand } from "../../src/ops/script-runner";
import { runInProcess } from "../cli";
import { SHIPPED_ENVIRONMENTS } from "../shipped";

const { app, loadBalancer } = productionEnvironmentFile();
const productionExtras = { app, loadBalancer };

// What the workflows learn about the environment folders: the matrix, and whether CI may deploy one.
const ROOT = path.join(__dirname, "..", "..");

/** The same command in this process. */
const runCommand = (args: string[]) =>
  runInProcess(() => scriptCommand("ci-environments", ciEnvironmentsCommand, args));

describe("the CI matrix", () => {
  test("has one leg per environment folder, with its region and state backend", () => {
    const folders = fs
      .readdirSync(path.join(ROOT, "environments"), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    const matrix = ciMatrix(SHIPPED_ENVIRONMENTS);
    expect(matrix.include.map((leg) => leg.environment)).toEqual(folders);
    expect(matrix.include.find((leg) => leg.environment === "dr-osaka")).toEqual({
      environment: "dr-osaka",
      region: "ap-northeast-3",
      backend: "local",
    });
  });

  test("the script prints it as a $GITHUB_OUTPUT line that fromJSON reads back", async () => {
    // (the same through scripts/run.js in a child process, as the workflows run it: ops/entry-points.test.ts)
    const run = await runCommand([]);
    expect(run.status).toBe(0);
    const [key, value] = run.stdout.trim().split(/=(.*)/s);
    expect(key).toBe("matrix");
    expect(JSON.parse(value)).toEqual(ciMatrix(SHIPPED_ENVIRONMENTS));
  });
});

describe("the deploy chain", () => {
  test("runs lowest deployOrder first, ties in name order; without one, production comes after the rest", () => {
    const chain = deployChain([
      environment("prod", { production: true, ...productionExtras }),
      environment("staging", { deployOrder: 20 }),
      environment("qa"),
      environment("dev"),
      environment("dr", { deployOrder: 95 }),
    ]);
    // dev and qa default to 10 (name order), staging 20, prod 90 by default, dr 95
    expect(chain).toEqual(["dev", "qa", "staging", "prod", "dr"]);
  });

  test("the script prints it as a $GITHUB_OUTPUT line: every folder, in order", async () => {
    const run = await runCommand(["--chain"]);
    expect(run.status).toBe(0);
    const [key, value] = run.stdout.trim().split(/=(.*)/s);
    expect(key).toBe("chain");
    expect(JSON.parse(value)).toEqual(deployChain(SHIPPED_ENVIRONMENTS));
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

  test("the script exits 1 for a shipped environment: all keep local state, for now", async () => {
    const local = await runCommand(["--deployable", "prod"]);
    expect(local.status).toBe(1);
    expect(local.stdout).toBe("");
    expect(local.stderr).toMatch(/environments\/prod: state\.backend must be s3 or cloud/);
  });
});

describe("the HCP Terraform token in CI", () => {
  const cloud = (hostname?: string) =>
    environment("qa", { state: { backend: "cloud", organization: "acme", ...(hostname ? { hostname } : {}) } });

  test("goes to the variable Terraform reads for the state's host: dots as underscores, hyphens as two", () => {
    expect(stateToken(cloud(), "abc.atlasv1.XYZ")).toEqual({ line: "TF_TOKEN_app_terraform_io=abc.atlasv1.XYZ" });
    expect(stateToken(cloud("tfe.example-corp.com"), "t0k")).toEqual({ line: "TF_TOKEN_tfe_example__corp_com=t0k" });
  });

  test("is not asked for when the state is in S3 or local, set or not", () => {
    const s3 = environment("qa", { state: { backend: "s3", bucket: "acme-tfstate" } });
    for (const env of [s3, environment("qa")]) {
      expect(stateToken(env, undefined)).toBeUndefined();
      expect(stateToken(env, "t0k")).toBeUndefined();
    }
  });

  test("missing, it stops the job naming the environment, its state's host and the secret to add", () => {
    for (const token of [undefined, ""]) {
      expect(stateToken(cloud(), token)).toEqual({
        problem:
          "environments/qa: state.backend is cloud (app.terraform.io), and Terraform needs an API token for it: " +
          "add one as the repository secret TF_API_TOKEN (docs/ci-cd.md)",
      });
    }
  });

  test("the messages name the secret the job reads: the plan jobs' read-only one", () => {
    expect(stateToken(cloud(), undefined, "TF_PLAN_API_TOKEN")).toEqual({
      problem:
        "environments/qa: state.backend is cloud (app.terraform.io), and Terraform needs an API token for it: " +
        "add one as the repository secret TF_PLAN_API_TOKEN (docs/ci-cd.md)",
    });
  });

  test("a value that would write more lines into $GITHUB_ENV is refused", () => {
    for (const token of ["t0k\nPATH=/tmp/evil", "t0k other", " t0k"]) {
      expect(stateToken(cloud(), token)).toEqual({
        problem:
          "environments/qa: state.backend is cloud (app.terraform.io): TF_API_TOKEN must be one token, without spaces or line breaks",
      });
    }
  });

  test("the script prints the $GITHUB_ENV line from TF_API_TOKEN, nothing for other state, and exits 1 without a token", async () => {
    const dir = writeEnvironments(tempDir("ci-token-"), {
      qa: environmentFile({ state: { backend: "cloud", organization: "acme" } }),
      dev: environmentFile({ network: { ...environmentFile().network, cidr: "10.60.0.0/16" } }),
    });
    try {
      const withToken = await runInProcess(
        () => scriptCommand("ci-environments", ciEnvironmentsCommand, ["--state-token", "qa"]),
        {
          ENVIRONMENTS_DIR: dir,
          TF_API_TOKEN: "abc.atlasv1.XYZ",
        },
      );
      expect(withToken).toEqual({ status: 0, stdout: "TF_TOKEN_app_terraform_io=abc.atlasv1.XYZ\n", stderr: "" });
      const local = await runInProcess(
        () => scriptCommand("ci-environments", ciEnvironmentsCommand, ["--state-token", "dev"]),
        {
          ENVIRONMENTS_DIR: dir,
          TF_API_TOKEN: "abc.atlasv1.XYZ",
        },
      );
      expect(local).toEqual({ status: 0, stdout: "", stderr: "" });
      const missing = await runInProcess(
        () => scriptCommand("ci-environments", ciEnvironmentsCommand, ["--state-token", "qa"]),
        {
          ENVIRONMENTS_DIR: dir,
          TF_API_TOKEN: "",
          TF_API_TOKEN_SECRET: "TF_PLAN_API_TOKEN", // as the plan jobs name theirs
        },
      );
      expect(missing.status).toBe(1);
      expect(missing.stdout).toBe("");
      expect(missing.stderr).toContain("add one as the repository secret TF_PLAN_API_TOKEN");
      expect(missing.stderr).toMatch(
        /environments\/qa: state\.backend is cloud \(app\.terraform\.io\).*repository secret TF_PLAN_API_TOKEN/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
