import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { lintWorkflow, lintWorkflowsCommand } from "../src/ops/actionlint";
import { deployChain } from "../src/ops/ci-environments";
import { REQUIRED_TERRAFORM } from "../src/stacks/state-backend";
import { environmentFolders, tempDir } from "./helpers";
import { inCi } from "./ci";
import { SHIPPED_ENVIRONMENTS, SHIPPED_NAMES } from "./shipped";

// The GitHub Actions workflows in .github/workflows: linted by actionlint, then reviewed rule by
// rule (permissions, pinning, the deploy chain), and their inline scripts run against stubs.
const ROOT = path.join(__dirname, "..");
const WORKFLOW_DIR = path.join(ROOT, ".github", "workflows");
const FILES = fs
  .readdirSync(WORKFLOW_DIR)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();
const raw = (file: string) => fs.readFileSync(path.join(WORKFLOW_DIR, file), "utf8");
const WORKFLOWS = new Map<string, any>(FILES.map((f) => [f, parse(raw(f))]));
const workflow = (file: string) => WORKFLOWS.get(file)!;

type Job = Record<string, any>;
const jobsOf = (file: string): Array<[string, Job]> => Object.entries(workflow(file).jobs);
const ALL_JOBS: Array<[string, string, Job]> = FILES.flatMap((f) =>
  jobsOf(f).map(([id, job]): [string, string, Job] => [f, id, job]),
);
const stepsOf = (job: Job): Array<Record<string, any>> => job.steps ?? [];
const usesAction = (job: Job, action: string) =>
  stepsOf(job).some((s) => String(s.uses ?? "").startsWith(`${action}@`));
const step = (job: Job, name: string) => {
  const found = stepsOf(job).find((s) => s.name === name);
  if (!found) throw new Error(`no step named "${name}"`);
  return found;
};
/**
 * A step's script run as GitHub's runners run it under `shell: bash` (every workflow here sets it
 * in `defaults.run`): `bash --noprofile --norc -eo pipefail`. Without --norc, a bash started with a
 * socket on standard input (node's pipes are socket pairs) and no SHLVL reads ~/.bashrc, as if
 * started by sshd: a step would then run after whatever this machine's ~/.bashrc does.
 */
const runStep = (file: string, script: string, options: Omit<SpawnSyncOptions, "encoding">) => {
  expect(workflow(file).defaults?.run?.shell).toBe("bash");
  return spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", script], {
    ...options,
    encoding: "utf8",
  });
};
const stepUsing = (job: Job, action: string) => {
  const found = stepsOf(job).find((s) => String(s.uses ?? "").startsWith(`${action}@`));
  if (!found) throw new Error(`no step uses ${action}`);
  return found;
};

/**
 * A stand-in for the program `name` in a folder of its own (`bin`, to put first on PATH): each call
 * logs its arguments as a line of `calls`, then runs `body`, given that file's path.
 */
function stubProgram(name: string, body: (calls: string) => string[]): { bin: string; calls: string } {
  const bin = tempDir(`stub-${name}-`);
  const calls = path.join(bin, "calls");
  fs.writeFileSync(
    path.join(bin, name),
    ["#!/bin/bash", `printf '%s\\n' "$*" >> '${calls}'`, ...body(calls), ""].join("\n"),
    { mode: 0o755 },
  );
  return { bin, calls };
}

/** `npm run lint:workflows <target>` as it runs from the project folder: its exit code and output. */
async function lint(target: string) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const status = await lintWorkflowsCommand([target], ROOT, {
    out: (line) => stdout.push(line),
    error: (line) => stderr.push(line),
  });
  return { status, stdout: stdout.join("\n"), stderr: stderr.join("\n") };
}

describe("actionlint", () => {
  test.each(FILES)("finds no problem in %s", async (file) => {
    const full = path.join(WORKFLOW_DIR, file);
    expect(await lintWorkflow(raw(file), full)).toEqual([]);
  });

  test("reports a broken workflow with file, line and kind, and exits 1", async () => {
    // given a workflow with a misspelled permission, a job that needs a missing job, and an
    // untrusted value pasted into a script
    const dir = tempDir();
    try {
      const file = path.join(dir, "broken.yml");
      fs.writeFileSync(
        file,
        [
          "on: pull_request",
          "jobs:",
          "  plan:",
          "    runs-on: ubuntu-24.04",
          "    needs: tset",
          "    permissions:",
          "      id-tokens: write",
          "    steps:",
          '      - run: echo "${{ github.event.pull_request.title }}"',
          "",
        ].join("\n"),
      );
      // when it is linted
      const run = await lint(file);
      // then each problem is reported where it is
      expect(run.status).toBe(1);
      expect(run.stdout).toMatch(/broken\.yml:3:3: job "plan" needs job "tset" which does not exist .*\[job-needs\]/);
      expect(run.stdout).toMatch(/broken\.yml:7:7: unknown permission scope "id-tokens".*\[permissions\]/);
      expect(run.stdout).toMatch(
        /broken\.yml:9:\d+: "github\.event\.pull_request\.title" is potentially untrusted.*\[expression\]/,
      );
      expect(run.stdout).toMatch(/3 problem\(s\)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("every workflow", () => {
  test("there are the pull-request, drift and deploy workflows", () => {
    expect(FILES).toEqual(["deploy-environment.yml", "deploy.yml", "drift.yml", "pull-request.yml"]);
  });

  test.each(FILES)("%s grants nothing by default and each job only what it lists", (file) => {
    expect(workflow(file).permissions).toEqual({});
    for (const [id, job] of jobsOf(file)) {
      expect({ job: id, permissions: typeof job.permissions }).toEqual({ job: id, permissions: "object" });
      for (const [scope, level] of Object.entries(job.permissions)) {
        expect({ job: id, scope, level }).toEqual({
          job: id,
          scope,
          level: expect.stringMatching(/^(read|write|none)$/),
        });
      }
    }
  });

  test("id-token: write only where AWS credentials come from OIDC, and wherever they do", () => {
    const calledNeedsOidc = (uses: string) =>
      jobsOf(path.basename(uses)).some(([, job]) => usesAction(job, "aws-actions/configure-aws-credentials"));
    for (const [file, id, job] of ALL_JOBS) {
      const oidc = job.uses ? calledNeedsOidc(job.uses) : usesAction(job, "aws-actions/configure-aws-credentials");
      expect({ file, id, idToken: job.permissions["id-token"] }).toEqual({
        file,
        id,
        idToken: oidc ? "write" : undefined,
      });
    }
  });

  test("write access: pull-requests only for the comment job, issues only for the drift issue job, contents never", () => {
    const writes = ALL_JOBS.flatMap(([file, id, job]) =>
      Object.entries(job.permissions)
        .filter(([scope, level]) => level === "write" && scope !== "id-token")
        .map(([scope]) => `${file} ${id} ${scope}`),
    );
    expect(writes.sort()).toEqual(["drift.yml issues issues", "pull-request.yml comment pull-requests"]);
    // and those two jobs have no AWS access and run no code from the repository
    for (const [file, id] of [
      ["pull-request.yml", "comment"],
      ["drift.yml", "issues"],
    ]) {
      const job = workflow(file).jobs[id];
      expect(Object.keys(job.permissions)).toHaveLength(1);
      expect(usesAction(job, "actions/checkout")).toBe(false);
    }
  });

  test("no trigger runs untrusted code with secrets (pull_request_target, workflow_run)", () => {
    for (const file of FILES) {
      const on = workflow(file).on;
      const triggers = typeof on === "string" ? [on] : Array.isArray(on) ? on : Object.keys(on);
      expect(triggers).not.toContain("pull_request_target");
      expect(triggers).not.toContain("workflow_run");
    }
  });

  test("third-party actions are pinned to full commit SHAs with the release in a comment, the same SHA everywhere", () => {
    const pins = new Map<string, Set<string>>();
    const lines = FILES.flatMap((f) => raw(f).split("\n")).filter((l) => /^\s*(- )?uses:/.test(l));
    expect(lines.length).toBeGreaterThan(10);
    for (const line of lines) {
      const target = line.replace(/^\s*(- )?uses:\s*/, "");
      if (target.startsWith("./.github/workflows/")) continue;
      expect(target).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
      const [action, pin] = target.split("@");
      pins.set(action, new Set([...(pins.get(action) ?? []), pin]));
    }
    for (const [action, shas] of pins) expect({ action, shas: shas.size }).toEqual({ action, shas: 1 });
  });

  test("scripts get workflow values through env, never as ${{ }} pasted into the script", () => {
    const offenders = ALL_JOBS.flatMap(([file, id, job]) =>
      stepsOf(job)
        .filter((s) => typeof s.run === "string" && s.run.includes("${{"))
        .map((s) => `${file} ${id} ${s.name ?? s.run}`),
    );
    expect(offenders).toEqual([]);
  });

  test("Terraform: one pinned version the stacks' required_version takes, wrapper off", () => {
    const versions = new Set<string>();
    for (const [file, id, job] of ALL_JOBS) {
      for (const s of stepsOf(job).filter((s) => String(s.uses ?? "").startsWith("hashicorp/setup-terraform@"))) {
        expect({ file, id, with: s.with }).toEqual({
          file,
          id,
          with: { terraform_version: "${{ env.TERRAFORM_VERSION }}", terraform_wrapper: false },
        });
        versions.add(workflow(file).env.TERRAFORM_VERSION);
      }
    }
    expect(versions.size).toBe(1);
    const [version] = versions;
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    // (review CU: this compared with 1.10, and took 1.10.5, which every plan would refuse)
    const [, minimum] = /^>= (\d+\.\d+\.\d+)$/.exec(REQUIRED_TERRAFORM)!;
    const [pinned, least] = [version, minimum].map((v) => v.split(".").map(Number));
    const firstDifference = pinned.findIndex((part, i) => part !== least[i]);
    expect({
      version,
      takenBy: REQUIRED_TERRAFORM,
      taken: firstDifference < 0 || pinned[firstDifference] > least[firstDifference],
    }).toEqual({
      version,
      takenBy: REQUIRED_TERRAFORM,
      taken: true,
    });
  });

  test("state in HCP Terraform: each job that runs Terraform sets its host's token first, read-only where it only plans", () => {
    // what runs Terraform against the state: the plan review and its guard, the drift check, the apply
    const runsTerraform = (s: Record<string, any>) =>
      /npm run (--silent )?(plan|drift)\b|terraform -chdir/.test(String(s.run ?? ""));
    const jobs = ALL_JOBS.filter(([, , job]) => stepsOf(job).some(runsTerraform));
    // only the job that applies gets the token that may write state; pull requests (any branch's
    // code) and the drift check plan with the read-only one
    const writes = (file: string, id: string) => file === "deploy-environment.yml" && id === "deploy";
    expect(jobs.map(([file, id]) => `${file} ${id}${writes(file, id) ? " (writes)" : ""}`).sort()).toEqual([
      "deploy-environment.yml deploy (writes)",
      "deploy-environment.yml review",
      "drift.yml drift",
      "pull-request.yml plan",
    ]);
    for (const [file, id, job] of jobs) {
      const steps = stepsOf(job);
      const first = steps.findIndex(runsTerraform);
      const token = steps.findIndex((s) => s.name === "HCP Terraform token");
      expect({ file, id, before: token >= 0 && token < first }).toEqual({ file, id, before: true });
      const secret = writes(file, id) ? "TF_API_TOKEN" : "TF_PLAN_API_TOKEN";
      // the script: ci-environments.ts --state-token (ops/ci-environments.test.ts), skipped where Terraform is
      expect(steps[token]).toEqual({
        name: "HCP Terraform token",
        ...(steps[first].if ? { if: steps[first].if } : {}),
        env: {
          ENVIRONMENT: steps[first].env.ENVIRONMENT,
          TF_API_TOKEN: `\${{ secrets.${secret} }}`,
          ...(secret === "TF_API_TOKEN" ? {} : { TF_API_TOKEN_SECRET: secret }),
        },
        run: 'node scripts/run.js scripts/ci-environments.ts --state-token "$ENVIRONMENT" >> "$GITHUB_ENV"',
      });
    }
    // the deploy passes those two secrets on, not every secret (`secrets: inherit`); nothing else reads one
    expect(workflow("deploy.yml").jobs.deploy.secrets).toEqual({
      TF_PLAN_API_TOKEN: "${{ secrets.TF_PLAN_API_TOKEN }}",
      TF_API_TOKEN: "${{ secrets.TF_API_TOKEN }}",
    });
    expect(workflow("deploy-environment.yml").on.workflow_call.secrets).toEqual({
      TF_PLAN_API_TOKEN: { description: expect.stringContaining("read state"), required: false },
      TF_API_TOKEN: { description: expect.stringContaining("write state"), required: false },
    });
    const secretsIn = (file: string) => [...new Set(raw(file).match(/secrets\.\w+/g) ?? [])].sort();
    expect(Object.fromEntries(FILES.map((file) => [file, secretsIn(file)]))).toEqual({
      "deploy-environment.yml": ["secrets.TF_API_TOKEN", "secrets.TF_PLAN_API_TOKEN"],
      "deploy.yml": ["secrets.TF_API_TOKEN", "secrets.TF_PLAN_API_TOKEN"],
      "drift.yml": ["secrets.TF_PLAN_API_TOKEN"],
      "pull-request.yml": ["secrets.TF_PLAN_API_TOKEN"],
    });
  });

  test("every node command runs a TypeScript entry point through scripts/run.js, and the entry point exists", () => {
    // nothing else is installed to run TypeScript (tsx, ts-node): a `node --require tsx/cjs` would
    // fail on the runner with "Cannot find module", and only there
    const commands = ALL_JOBS.flatMap(([file, , job]) =>
      stepsOf(job).flatMap((s) =>
        String(s.run ?? "")
          .split("\n")
          .filter((line) => /(^|[\s;&|(])node\s/.test(line))
          .map((line) => ({ file, line: line.trim() })),
      ),
    );
    expect(commands.length).toBeGreaterThanOrEqual(5);
    for (const { file, line } of commands) {
      const entry = /\bnode scripts\/run\.js (\S+\.ts)\b/.exec(line);
      expect({ file, line, launcher: entry !== null }).toEqual({ file, line, launcher: true });
      expect({ file, entry: entry![1], exists: fs.existsSync(path.join(ROOT, entry![1])) }).toEqual({
        file,
        entry: entry![1],
        exists: true,
      });
    }
  });

  test("Node comes from .nvmrc, whose major version satisfies package.json's engines", () => {
    const nvmrc = fs.readFileSync(path.join(ROOT, ".nvmrc"), "utf8").trim();
    const engines: string = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).engines.node;
    expect(nvmrc).toBe(/^>=(\d+)/.exec(engines)![1]);
    for (const [file, id, job] of ALL_JOBS) {
      for (const s of stepsOf(job).filter((s) => String(s.uses ?? "").startsWith("actions/setup-node@"))) {
        expect({ file, id, with: s.with }).toEqual({ file, id, with: { "node-version-file": ".nvmrc", cache: "npm" } });
      }
    }
  });

  test.each(FILES)("%s disables the Terraform and cdktf CLIs' checkpoint calls", (file) => {
    expect(workflow(file).env.CHECKPOINT_DISABLE).toBe("1");
  });

  test("uploads are Markdown reviews (and a review's list of changes) only: never a binary plan or a stack folder", () => {
    const paths = ALL_JOBS.flatMap(([, , job]) =>
      stepsOf(job)
        .filter((s) => String(s.uses ?? "").startsWith("actions/upload-artifact@"))
        .flatMap((s) => String(s.with.path).trim().split("\n")),
    );
    expect(paths.length).toBeGreaterThanOrEqual(3);
    for (const p of paths) expect(p).toMatch(/^[\w./${}\- ]+\.(md|status|changes\.json)$/);
    for (const p of paths) expect(p).not.toMatch(/tfplan|stacks|\*/);
  });
});

describe("pull-request.yml", () => {
  const pr = workflow("pull-request.yml");

  test("runs on pull requests: install, test and synthesize, then plan each environment folder", () => {
    expect(Object.keys(pr.on)).toEqual(["pull_request"]);
    const runs = stepsOf(pr.jobs.test).map((s) => s.run);
    expect(runs).toEqual(expect.arrayContaining(["npm ci --no-audit --no-fund", "npm test", "npm run synth"]));
    expect(runs.indexOf("npm test")).toBeLessThan(runs.indexOf("npm run synth"));
    // the matrix is what scripts/ci-environments.ts reads from environments/, not a list in the file
    expect(step(pr.jobs.test, "List the environments").run).toBe(
      'node scripts/run.js scripts/ci-environments.ts >> "$GITHUB_OUTPUT"',
    );
    expect(pr.jobs.plan.strategy.matrix).toBe("${{ fromJSON(needs.test.outputs.matrix) }}");
    const plan = step(pr.jobs.plan, "Plan review");
    expect(plan).toMatchObject({
      run: 'npm run plan -- "$ENVIRONMENT" --no-lock',
      env: { ENVIRONMENT: "${{ matrix.environment }}" },
    });
    const credentials = stepUsing(pr.jobs.plan, "aws-actions/configure-aws-credentials");
    expect(credentials.with["role-to-assume"]).toBe("${{ vars.AWS_PLAN_ROLE_ARN }}");
  });

  test("forks, and copies without the plan role set up, get the tests only; the comment job runs whether the plans passed or failed", () => {
    expect(pr.jobs.plan.if).toBe(
      "github.event.pull_request.head.repo.full_name == github.repository && vars.AWS_PLAN_ROLE_ARN != ''",
    );
    expect(pr.jobs.comment.needs).toBe("plan");
    expect(pr.jobs.comment.if).toMatch(/always\(\)/);
  });

  describe("the review comment", () => {
    test("is prepared from the plan's Markdown, says when it failed, and when state is local", () => {
      const script = step(pr.jobs.plan, "Prepare the review comment").run;
      const run = (env: Record<string, string>, planMarkdown?: string) => {
        const dir = tempDir();
        try {
          if (planMarkdown !== undefined) {
            fs.mkdirSync(path.join(dir, "cdktf.out"));
            fs.writeFileSync(path.join(dir, "cdktf.out", "plan-prod.md"), planMarkdown);
          }
          const summary = path.join(dir, "summary.md");
          const result = runStep("pull-request.yml", script, {
            cwd: dir,
            env: { PATH: process.env.PATH, ENVIRONMENT: "prod", GITHUB_STEP_SUMMARY: summary, ...env },
          });
          expect(result.status).toBe(0);
          const review = fs.readFileSync(path.join(dir, "review", "prod.md"), "utf8");
          expect(fs.readFileSync(summary, "utf8")).toBe(review);
          return review;
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      };
      expect(run({ OUTCOME: "success", BACKEND: "s3" }, "2 to add, 0 to destroy\n")).toBe(
        "### Plan review of `prod`: passed\n\n2 to add, 0 to destroy\n",
      );
      expect(run({ OUTCOME: "failure", BACKEND: "local", RUN_URL: "https://example.test/run/1" })).toBe(
        "### Plan review of `prod`: failed (failure)\n\n" +
          "> `prod` keeps local state, so this plan compares against the runner's empty state.\n\n" +
          "No review was written; see the [run log](https://example.test/run/1).\n",
      );
    });

    test("is one comment per environment, edited in place on the next push", async () => {
      // given a pull request that already has the bot's dev comment and a person's comment
      const dir = tempDir();
      fs.mkdirSync(path.join(dir, "reviews"));
      fs.writeFileSync(path.join(dir, "reviews", "dev.md"), "dev: 1 to change");
      fs.writeFileSync(path.join(dir, "reviews", "prod.md"), "prod: 2 to add");
      const github = fakeGitHub({
        comments: [
          { id: 7, user: { type: "User", login: "alice" }, body: "<!-- plan-review:prod --> quoted by a person" },
          { id: 6, user: { type: "Bot", login: "renovate[bot]" }, body: "<!-- plan-review:dev --> another bot" },
          { id: 8, user: { type: "Bot", login: "github-actions[bot]" }, body: "<!-- plan-review:dev -->\nold" },
        ],
      });
      // when the comment script runs
      await runGitHubScript(stepUsing(pr.jobs.comment, "actions/github-script").with.script, dir, github);
      // then dev's comment is updated, prod's is created, and the person's comment is left alone
      expect(github.calls).toEqual([
        [
          "updateComment",
          { owner: "acme", repo: "infra", comment_id: 8, body: "<!-- plan-review:dev -->\ndev: 1 to change" },
        ],
        [
          "createComment",
          { owner: "acme", repo: "infra", issue_number: 42, body: "<!-- plan-review:prod -->\nprod: 2 to add" },
        ],
      ]);
    });
  });
});

describe("drift.yml", () => {
  const drift = workflow("drift.yml");

  test("runs on a schedule and by hand, per environment folder, with the read-only plan role", () => {
    expect(drift.on.schedule[0].cron).toMatch(/^\d+ \d+ \* \* \*$/);
    expect(drift.on).toHaveProperty("workflow_dispatch");
    expect(drift.jobs.drift.strategy.matrix).toBe("${{ fromJSON(needs.environments.outputs.matrix) }}");
    const credentials = stepUsing(drift.jobs.drift, "aws-actions/configure-aws-credentials");
    expect(credentials.with["role-to-assume"]).toBe("${{ vars.AWS_PLAN_ROLE_ARN }}");
    expect(step(drift.jobs.drift, "Detect drift").env).toEqual({ ENVIRONMENT: "${{ matrix.environment }}" });
  });

  describe("the drift step, with a stub npm that the test writes and controls (no terraform runs)", () => {
    const detect = (exitCode: number) => {
      const dir = tempDir();
      try {
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        // stands in for `npm run --silent drift -- <env>`: prints a report, exits with the given code
        fs.writeFileSync(path.join(bin, "npm"), `#!/bin/sh\necho "report of $5 (args: $*)"\nexit ${exitCode}\n`, {
          mode: 0o755,
        });
        const output = path.join(dir, "output");
        const result = runStep("drift.yml", step(drift.jobs.drift, "Detect drift").run, {
          cwd: dir,
          env: {
            PATH: `${bin}:${process.env.PATH}`,
            ENVIRONMENT: "prod",
            GITHUB_OUTPUT: output,
            GITHUB_STEP_SUMMARY: path.join(dir, "summary"),
          },
        });
        const read = (f: string) =>
          fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), "utf8") : undefined;
        return {
          status: result.status,
          stdout: result.stdout,
          output: read("output"),
          report: read("drift/prod.md"),
          statusFile: read("drift/prod.status"),
        };
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    };

    test("exit 0 is clean, exit 2 is drift, each with the report kept", () => {
      expect(detect(0)).toMatchObject({
        status: 0,
        output: "status=clean\n",
        statusFile: "clean\n",
        // the report alone (--quiet), fenced so that drifted values are shown as text
        report: "```text\nreport of prod (args: run --silent drift -- prod --quiet)\n```\n",
      });
      expect(detect(2)).toMatchObject({ status: 0, output: "status=drift\n", statusFile: "drift\n" });
    });

    test("exit 1 fails the step with an error annotation and leaves no result for the issue job", () => {
      const failed = detect(1);
      expect(failed.status).toBe(1);
      expect(failed.stdout).toMatch(/::error title=Drift of prod::the drift check failed \(exit 1\)/);
      expect(failed.statusFile).toBeUndefined();
      expect(failed.output).toBeUndefined();
    });
  });

  describe("the issue script, against a fake GitHub API", () => {
    const script = () => stepUsing(drift.jobs.issues, "actions/github-script").with.script;
    // the environments job's matrix, as the step's env hands it over: dev and prod have S3 state
    const matrix = (...environments: [string, string][]) => ({
      MATRIX: JSON.stringify({
        include: environments.map(([environment, backend]) => ({ environment, region: "ap-northeast-2", backend })),
      }),
    });
    // as the daily run has it: a schedule, on the default branch
    const checked = { ...matrix(["dev", "s3"], ["prod", "s3"]), GITHUB_EVENT_NAME: "schedule" };
    const runScript = (dir: string, github: ReturnType<typeof fakeGitHub>, env: Record<string, string> = checked) =>
      runGitHubScript(script(), dir, github, env);
    test("the step hands the script the environments job's matrix", () => {
      expect(stepUsing(drift.jobs.issues, "actions/github-script").env).toEqual({
        MATRIX: "${{ needs.environments.outputs.matrix }}",
      });
    });
    const results = (files: Record<string, string>) => {
      const dir = tempDir();
      fs.mkdirSync(path.join(dir, "drift"));
      for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, "drift", name), content);
      return dir;
    };

    test("drift opens a labelled issue (creating the label), or updates the open one", async () => {
      const dir = results({
        "prod.status": "drift\n",
        "prod.md": "aws_db_instance changed",
        "dev.status": "drift\n",
        "dev.md": "sg changed",
      });
      const github = fakeGitHub({ issues: [{ number: 5, title: "Drift detected: dev" }], labels: [] });
      await runScript(dir, github);
      const names = github.calls.map(([name]) => name);
      expect(names).toEqual(["listForRepo", "update", "getLabel", "createLabel", "create"]);
      expect(github.calls[0][1]).toMatchObject({ state: "open", labels: "drift" });
      expect(github.calls[1][1]).toMatchObject({ issue_number: 5, body: expect.stringContaining("sg changed") });
      expect(github.calls[4][1]).toMatchObject({
        title: "Drift detected: prod",
        labels: ["drift"],
        body: expect.stringContaining("aws_db_instance changed"),
      });
    });

    test("a report over GitHub's limit is cut, inside its code block or after it, and the note after the cut reads as text", async () => {
      const long = (lines: number) =>
        `## prod\n\n\`\`\`\n${"~ aws_security_group.x tags changed\n".repeat(lines)}\`\`\`\n`;
      for (const report of [long(3000), `${long(100)}\n${"More text. ".repeat(6000)}`]) {
        const github = fakeGitHub({ issues: [], labels: ["drift"] });
        await runScript(results({ "prod.status": "drift\n", "prod.md": report }), github);
        const body: string = github.calls.find(([name]) => name === "create")![1].body;
        expect(body.length).toBeLessThan(65_536);
        const [before, note] = body.split("\n\n... cut at ");
        expect(note).toMatch(/^60000 characters: the whole report is in the run's artifacts\.$/);
        expect((before.match(/^```/gm) ?? []).length % 2).toBe(0); // every code block closed before the note
      }
    });

    test("no drift closes the environment's open issue with a comment; no issue, nothing to do", async () => {
      const dir = results({ "prod.status": "clean\n", "prod.md": "", "dev.status": "clean\n", "dev.md": "" });
      const github = fakeGitHub({ issues: [{ number: 9, title: "Drift detected: prod" }] });
      await runScript(dir, github);
      expect(github.calls.map(([name, p]) => `${name} ${p.issue_number ?? ""}`.trim())).toEqual([
        "listForRepo",
        "createComment 9",
        "update 9",
      ]);
      expect(github.calls[2][1]).toMatchObject({ state: "closed", state_reason: "completed" });
    });

    test("the issue of an environment no longer checked (its folder gone, its state local) is closed, saying why; others are left alone", async () => {
      const github = fakeGitHub({
        issues: [
          { number: 3, title: "Drift detected: old-qa" },
          { number: 4, title: "Drift detected: staging" },
          { number: 9, title: "Drift detected: prod" },
          { number: 11, title: "Something else", labels: ["drift"] },
        ],
      });
      // staging moved back to local state; old-qa's folder removed; no results at all this run
      await runScript(tempDir(), github, matrix(["prod", "s3"], ["staging", "local"]));
      expect(github.calls.map(([name, p]) => `${name} ${p.issue_number ?? ""}`.trim())).toEqual([
        "listForRepo",
        "createComment 3",
        "update 3",
        "createComment 4",
        "update 4",
      ]);
      expect(github.calls[1][1].body).toMatch(/^`old-qa` is no longer checked for drift: /);
      expect(github.calls[2][1]).toMatchObject({ state: "closed", state_reason: "not_planned" });
    });

    test("issues are closed as no longer checked only by a run of the default branch, only those titled as this script titles them, and never on a missing matrix", async () => {
      const issues = [
        { number: 3, title: "Drift detected: old-qa" },
        { number: 5, title: "Drift detected: dev (old)" },
        { number: 6, title: "Drift detected:  dev" },
      ];
      const closes = async (env: Record<string, string>) => {
        const github = fakeGitHub({ issues });
        await runScript(tempDir(), github, env);
        return github.calls.filter(([name]) => name === "update").map(([, p]) => p.issue_number);
      };
      expect(await closes(matrix(["prod", "s3"]))).toEqual([3]);
      // the daily run, whose payload names no default branch (review CW: it closed nothing)
      expect(await closes({ ...matrix(["prod", "s3"]), GITHUB_EVENT_NAME: "schedule" })).toEqual([3]);
      // a manual run from a branch that renamed a folder
      expect(await closes({ ...matrix(["prod", "s3"]), GITHUB_REF: "refs/heads/rename-qa" })).toEqual([]);
      // no matrix at all (the environments job's output lost): nothing closed, no crash
      expect(await closes({ MATRIX: "" })).toEqual([]);
    });

    test("a run of another branch opens, updates and closes no issue: its results are logged only, as main's issues are main's (review CT)", async () => {
      const dir = results({
        "prod.status": "clean\n",
        "prod.md": "",
        "dev.status": "drift\n",
        "dev.md": "sg changed",
      });
      const github = fakeGitHub({ issues: [{ number: 9, title: "Drift detected: prod" }], labels: ["drift"] });
      const logs = await runScript(dir, github, {
        ...checked,
        GITHUB_EVENT_NAME: "workflow_dispatch",
        GITHUB_REF: "refs/heads/try-ignore",
      });
      expect(github.calls.map(([name]) => name)).toEqual(["listForRepo"]);
      expect(logs).toEqual([
        "dev: drift (not acted on: refs/heads/try-ignore is not the default branch)",
        "prod: clean (not acted on: refs/heads/try-ignore is not the default branch)",
      ]);
    });

    test("an environment whose check failed has no result, so its issue is left alone", async () => {
      const dir = results({ "dev.status": "clean\n", "dev.md": "" }); // prod's check failed: no prod result
      const github = fakeGitHub({ issues: [{ number: 9, title: "Drift detected: prod" }] });
      await runScript(dir, github);
      expect(github.calls.map(([name]) => name)).toEqual(["listForRepo"]);
    });
  });
});

describe("deploy.yml and deploy-environment.yml", () => {
  const deploy = workflow("deploy.yml");
  const called = workflow("deploy-environment.yml");
  const chainStep = () => step(deploy.jobs.test, "The deploy chain, from the environment folders");

  test("runs on pushes to main: test, then one deploy job per environment, one at a time, stopping at the first failure", () => {
    expect(deploy.on.push.branches).toEqual(["main"]);
    expect(Object.keys(deploy.jobs)).toEqual(["test", "deploy"]);
    expect(stepsOf(deploy.jobs.test).map((s) => s.run)).toContain("npm test");
    expect(deploy.jobs.deploy).toMatchObject({
      needs: "test",
      strategy: {
        "max-parallel": 1,
        "fail-fast": true,
        matrix: { environment: "${{ fromJSON(needs.test.outputs.chain) }}" },
      },
      uses: "./.github/workflows/deploy-environment.yml",
      with: { environment: "${{ matrix.environment }}" },
    });
  });

  test("the chain comes from the environment folders: every folder, in deployOrder, so a new folder needs no edit here", () => {
    // the test job computes the chain after the tests pass, and hands it to the deploy job
    expect(deploy.jobs.test.outputs.chain).toBe("${{ steps.environments.outputs.chain }}");
    expect(chainStep()).toMatchObject({
      id: "environments",
      env: { ONLY: "${{ inputs.only }}" },
      run: 'node scripts/run.js scripts/ci-environments.ts --chain ${ONLY:+--only "$ONLY"} >> "$GITHUB_OUTPUT"',
    });
    expect(stepsOf(deploy.jobs.test).indexOf(chainStep())).toBeGreaterThan(
      stepsOf(deploy.jobs.test).findIndex((s) => s.run === "npm test"),
    );
    const chain = deployChain(SHIPPED_ENVIRONMENTS);
    expect([...chain].sort()).toEqual(environmentFolders());
  });

  test("run by hand with `only`, the chain is that environment alone (a rollback that must not wait behind the others); on a push, and by hand without it, the whole chain; an unknown name fails, naming the folders", () => {
    expect(deploy.on.workflow_dispatch.inputs.only).toMatchObject({ type: "string", required: false, default: "" });
    // the step's own shell line, with node standing in for nothing: the real script, in this project
    const run = (only: string) => {
      const output = path.join(tempDir(), "output");
      const result = runStep("deploy.yml", chainStep().run, {
        cwd: ROOT,
        env: { ...process.env, ONLY: only, GITHUB_OUTPUT: output },
      });
      return {
        status: result.status,
        stderr: result.stderr,
        output: fs.existsSync(output) ? fs.readFileSync(output, "utf8") : "",
      };
    };
    expect(run("prod")).toMatchObject({ status: 0, output: 'chain=["prod"]\n' });
    expect(run("")).toMatchObject({
      status: 0,
      output: `chain=${JSON.stringify(deployChain(SHIPPED_ENVIRONMENTS))}\n`,
    });
    const unknown = run("production");
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain(`unknown environment "production" (known: ${SHIPPED_NAMES.join(", ")})`);
  });

  test("the shipped order: dev, then staging, then prod, then dr-osaka (dr-osaka, deployed last, runs only releases prod already runs)", () => {
    const chain = deployChain(SHIPPED_ENVIRONMENTS);
    const at = (name: string) => chain.indexOf(name);
    expect([at("dev"), at("staging"), at("prod"), at("dr-osaka")].every((i) => i >= 0)).toBe(true);
    expect(at("dev")).toBeLessThan(at("staging"));
    expect(at("staging")).toBeLessThan(at("prod"));
    expect(at("prod")).toBeLessThan(at("dr-osaka"));
    // and the loader holds dr-osaka to prod's release (app.sameReleaseAs: config/load.test.ts)
    const [prod, dr] = ["prod", "dr-osaka"].map((name) => SHIPPED_ENVIRONMENTS.find((env) => env.name === name)!);
    expect(dr.app.sameReleaseAs).toBe("prod");
    expect(dr.app.version).toBe(prod.app.version);
  });

  test("each deploy runs in the GitHub environment of its folder's name (prod's protection applies to prod)", () => {
    // the called workflow's deploy job takes its GitHub environment from the caller's input
    const job = called.jobs.deploy;
    expect(job.environment.name).toBe("${{ inputs.environment }}");
    expect(called.on.workflow_call.inputs.environment).toMatchObject({ type: "string", required: true });
  });

  test("the deploy job's credentials last as long as the job may run: expired mid-apply, they would leave the state lock held", () => {
    const job = called.jobs.deploy;
    const credentials = stepUsing(job, "aws-actions/configure-aws-credentials").with;
    expect(credentials["role-to-assume"]).toBe("${{ vars.AWS_DEPLOY_ROLE_ARN }}");
    expect(Number(credentials["role-duration-seconds"])).toBeGreaterThanOrEqual(job["timeout-minutes"] * 60);
    // what IAM allows a role's session at most: the deploy role must be given it (docs/ci-cd.md)
    expect(Number(credentials["role-duration-seconds"])).toBeLessThanOrEqual(12 * 3600);
  });

  test("two deploys of one environment never overlap, and none is cancelled half-way", () => {
    expect(called.jobs.deploy.concurrency).toEqual({
      group: "deploy-${{ inputs.environment }}",
      "cancel-in-progress": false,
    });
  });

  test("every plan run with the plan role reads the state without its lock (the plan role may not write it); only the deploy role's plan takes it", () => {
    const planRuns = ALL_JOBS.flatMap(([file, id, job]) =>
      stepsOf(job)
        .filter((s) => /npm run (--silent )?(plan|drift)\b/.test(String(s.run ?? "")))
        .map((s) => ({
          where: `${file} ${id}`,
          run: String(s.run),
          role: stepsOf(job).find((c) => String(c.uses ?? "").startsWith("aws-actions/configure-aws-credentials@"))
            ?.with?.["role-to-assume"],
        })),
    );
    expect(planRuns.length).toBeGreaterThanOrEqual(4);
    for (const { where, run, role } of planRuns) {
      const lockFree = /npm run (--silent )?drift\b/.test(run) || run.includes("--no-lock");
      expect({ where, role, lockFree }).toEqual({ where, role, lockFree: role === "${{ vars.AWS_PLAN_ROLE_ARN }}" });
    }
  });

  test("the review runs before the approval with the plan role; the deploy re-runs the plan guard, then applies that very plan", () => {
    const { review, deploy: apply } = called.jobs;
    expect(apply.needs).toBe("review");
    expect(review.environment).toBeUndefined(); // so reviewers see the plan before they approve
    const role = (job: Job) => stepUsing(job, "aws-actions/configure-aws-credentials").with["role-to-assume"];
    expect(role(review)).toBe("${{ vars.AWS_PLAN_ROLE_ARN }}");
    expect(role(apply)).toBe("${{ vars.AWS_DEPLOY_ROLE_ARN }}");
    expect(step(review, "Refuse state that the runner would lose").run).toMatch(
      /scripts\/ci-environments\.ts --deployable "\$ENVIRONMENT"/,
    );
    const runs = stepsOf(apply)
      .map((s) => s.run)
      .filter(Boolean);
    // the review's plan is never applied: it reads the state without its lock, which the plan role may not write;
    // both plans are a deploy role's (a change to the roles' permissions boundary stops at the review)
    expect(step(review, "Plan review").run).toBe('npm run plan -- "$ENVIRONMENT" --no-lock --deploy-role');
    // the deploy's guard takes the lock, and applies that very plan
    // it plans again, and goes on only with exactly the changes the review showed and the approval was given for
    const guard = runs.indexOf(
      'npm run plan -- "$ENVIRONMENT" --deploy-role --expect-changes "reviewed/plan-$ENVIRONMENT.changes.json"',
    );
    const download = stepsOf(apply).findIndex((s) => String(s.uses ?? "").startsWith("actions/download-artifact@"));
    expect(stepsOf(apply)[download].with).toEqual({
      name: "deploy-review-${{ inputs.environment }}",
      path: "reviewed",
    });
    expect(stepUsing(review, "actions/upload-artifact").with).toMatchObject({
      name: "deploy-review-${{ inputs.environment }}",
    });
    expect(String(stepUsing(review, "actions/upload-artifact").with.path)).toContain(
      "cdktf.out/plan-${{ inputs.environment }}.changes.json",
    );
    expect(download).toBeLessThan(stepsOf(apply).findIndex((s) => s.name === "Plan review guard"));
    // it waits for a lock another run holds (a colleague's plan or apply), as the plan guard does
    const applyReviewed = runs.indexOf(
      'terraform -chdir="cdktf.out/stacks/$ENVIRONMENT" apply -input=false -no-color -lock-timeout=10m plan.tfplan',
    );
    expect(guard).toBeGreaterThan(-1);
    expect(applyReviewed).toBe(guard + 1);
    expect(step(apply, "Deploy").env).toEqual({ ENVIRONMENT: "${{ inputs.environment }}" });
  });
});

// ---- Running actions/github-script scripts against a fake GitHub ----

type Call = [string, Record<string, any>];

/** A stand-in for github-script's `github`: records every call; lists return the given data. */
function fakeGitHub(data: { comments?: any[]; issues?: any[]; labels?: string[] }) {
  const calls: Call[] = [];
  const record =
    (name: string, result: (p: any) => any = () => ({})) =>
    async (params: any) => {
      calls.push([name, params]);
      return { data: result(params) };
    };
  const issues = {
    listComments: record("listComments", () => data.comments ?? []),
    listForRepo: record("listForRepo", () => data.issues ?? []),
    createComment: record("createComment"),
    updateComment: record("updateComment"),
    create: record("create", () => ({ number: 100 })),
    update: record("update"),
    createLabel: record("createLabel"),
    getLabel: async (params: any) => {
      calls.push(["getLabel", params]);
      if (!(data.labels ?? ["drift"]).includes(params.name))
        throw Object.assign(new Error("Not Found"), { status: 404 });
      return { data: { name: params.name } };
    },
  };
  return {
    calls,
    rest: { issues },
    // the listing calls are recorded only when they are not paginated (paginate records them once)
    paginate: async (method: (p: any) => Promise<{ data: any[] }>, params: any) => (await method(params)).data,
  };
}

/** Runs a github-script `script` as the action does: an async function body, in `cwd`. */
async function runGitHubScript(
  script: string,
  cwd: string,
  github: ReturnType<typeof fakeGitHub>,
  env: Record<string, string> = {},
) {
  const context = {
    repo: { owner: "acme", repo: "infra" },
    issue: { number: 42 },
    serverUrl: "https://github.example",
    runId: 1234,
    ref: env.GITHUB_REF ?? "refs/heads/main",
    eventName: env.GITHUB_EVENT_NAME ?? "workflow_dispatch",
    // a schedule's payload is the schedule alone: it names no repository (review CW)
    payload:
      env.GITHUB_EVENT_NAME === "schedule" ? { schedule: "17 21 * * *" } : { repository: { default_branch: "main" } },
  };
  const logs: string[] = [];
  const core = { info: (m: string) => logs.push(m), warning: (m: string) => logs.push(`warning: ${m}`) };
  const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor;
  const previous = process.cwd();
  process.chdir(cwd); // the script reads the downloaded artifacts by relative path
  // the step's env, for the script's run only (the unit runner fails a file that leaves one set)
  const before = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
  Object.assign(process.env, env);
  try {
    await new AsyncFunction("require", "github", "context", "core", script)(require, github, context, core);
  } finally {
    process.chdir(previous);
    for (const [name, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    fs.rmSync(cwd, { recursive: true, force: true });
  }
  // drop listComments: paginated reads are set-up, not what the script decided
  github.calls.splice(0, github.calls.length, ...github.calls.filter(([name]) => name !== "listComments"));
  return logs;
}

describe("the deploy of one environment", () => {
  /** deploy-environment.yml's job that applies the plan. */
  const applyingJob = () =>
    jobsOf("deploy-environment.yml")
      .map(([, job]) => job)
      .find((job) => stepsOf(job).some((s) => /apply .*plan\.tfplan/.test(s.run ?? "")))!;

  test("applies exactly the reviewed plan, then waits for the instance refresh (synth rebuilds the release itself)", () => {
    const deployJob = applyingJob();
    const runs = stepsOf(deployJob).map((s) => String(s.run ?? ""));
    const index = (pattern: RegExp) => runs.findIndex((r) => pattern.test(r));
    expect(index(/package-app|dist\//)).toBe(-1);
    // The apply takes the very plan the guard reviewed.
    expect(index(/apply -input=false -no-color -lock-timeout=10m plan\.tfplan/)).toBe(index(/npm run plan/) + 1);
    // the rollout waits for a refresh started after the deploy's start, noted before the plan guard
    const noted = index(/ROLLOUT_SINCE=/);
    expect(noted).toBeGreaterThanOrEqual(0);
    expect(noted).toBeLessThan(index(/npm run plan/));
    const githubEnv = path.join(tempDir(), "github-env");
    const before = Date.now() - 1000;
    const result = runStep("deploy-environment.yml", runs[noted], { env: { ...process.env, GITHUB_ENV: githubEnv } });
    expect(result.status).toBe(0);
    const written = fs.readFileSync(githubEnv, "utf8");
    expect(written).toMatch(/^ROLLOUT_SINCE=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$/);
    const since = Date.parse(written.slice("ROLLOUT_SINCE=".length).trim());
    expect(since).toBeGreaterThanOrEqual(before - 1000); // whole seconds
    expect(since).toBeLessThanOrEqual(Date.now());
    expect(index(/npm run wait-rollout -- "\$ENVIRONMENT"/)).toBeGreaterThan(index(/apply .*plan\.tfplan/));
  });

  test("an apply cancelled part-way (by hand, or the job's timeout) ends with a step that says how to unlock and what to import", () => {
    const deployJob = applyingJob();
    const steps = stepsOf(deployJob);
    const apply = steps.find((s) => /apply .*plan\.tfplan/.test(s.run ?? ""))!;
    const recover = step(deployJob, "Say how to recover from a cancelled apply");
    // (failure() is false on a cancelled job: the errored-state push does not run then)
    expect(recover.if).toBe(`cancelled() && steps.${apply.id}.outcome == 'cancelled'`);
    expect(steps.indexOf(recover)).toBeGreaterThan(steps.indexOf(apply));
    const result = runStep("deploy-environment.yml", recover.run, {
      cwd: tempDir("cancelled-apply-"),
      env: { ...process.env, ENVIRONMENT: "prod" },
    });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("::error::the apply of prod was cancelled part-way");
    expect(result.stdout).toContain("terraform -chdir=cdktf.out/stacks/prod force-unlock");
    expect(result.stdout).toContain("npm run plan -- prod");
  });

  test("an apply that could not save the state: its errored.tfstate is pushed again (a stub terraform the test writes answers the push); when no push works, the error says what to do, and the state is not uploaded", () => {
    const deployJob = applyingJob();
    const steps = stepsOf(deployJob);
    const apply = steps.find((s) => /apply .*plan\.tfplan/.test(s.run ?? ""))!;
    const push = step(deployJob, "Push a state the apply could not save");
    // right after the apply, only when it failed
    expect(steps.indexOf(push)).toBe(steps.indexOf(apply) + 1);
    expect(push.if).toBe(`failure() && steps.${apply.id}.outcome == 'failure'`);
    const cwd = tempDir("errored-state-");
    const stack = path.join(cwd, "cdktf.out", "stacks", "prod");
    fs.mkdirSync(stack, { recursive: true });
    // STUB terraform: fails the first PUSH_FAILURES pushes
    const { bin, calls } = stubProgram("terraform", (log) => [
      `n=$(wc -l < '${log}')`,
      '[ "$n" -gt "${PUSH_FAILURES:-0}" ]',
    ]);
    const run = (failures: number) => {
      fs.rmSync(calls, { force: true });
      const result = runStep("deploy-environment.yml", push.run, {
        cwd,
        env: {
          ...process.env,
          PATH: `${bin}:${process.env.PATH}`,
          ENVIRONMENT: "prod",
          STATE_PUSH_WAITS: "0 0 0",
          PUSH_FAILURES: String(failures),
        },
      });
      const pushes = fs.existsSync(calls) ? fs.readFileSync(calls, "utf8").trim().split("\n") : [];
      return { ...result, pushes };
    };
    // an apply that failed with the state saved: nothing to push
    expect(run(0)).toMatchObject({ status: 0, pushes: [] });
    fs.writeFileSync(path.join(stack, "errored.tfstate"), "{}");
    // pushed on the second try: the job still fails, saying what to do next
    const pushed = run(1);
    expect(pushed.status).toBe(1);
    expect(pushed.pushes).toEqual(
      Array(2).fill("-chdir=cdktf.out/stacks/prod state push -lock-timeout=10m errored.tfstate"),
    );
    expect(pushed.stdout).toContain(
      "::error::the apply could not save prod's state; errored.tfstate has been pushed since",
    );
    // every push refused: the error says what the operator must do before the next deploy
    const lost = run(3);
    expect(lost.status).toBe(1);
    expect(lost.pushes).toHaveLength(3);
    expect(lost.stdout).toContain("::error::prod's state could not be saved, and pushing errored.tfstate failed too");
    expect(lost.stdout).toContain(
      "Before any other deploy of prod, run npm run plan -- prod: import (terraform import) each resource it would create",
    );
  });

  test("a deploy job without its environment's AWS_DEPLOY_ROLE_ARN (a new folder no one set up CI for) fails before anything, naming the environment, the variable and the policy file", () => {
    const deployJob = applyingJob();
    const check = step(deployJob, "The environment's deploy role");
    const steps = stepsOf(deployJob);
    expect(steps.indexOf(check)).toBe(steps.indexOf(stepUsing(deployJob, "aws-actions/configure-aws-credentials")) - 1);
    expect(check.env).toEqual({
      ENVIRONMENT: "${{ inputs.environment }}",
      ROLE: "${{ vars.AWS_DEPLOY_ROLE_ARN }}",
      ROLLOUT_ALARMS: "${{ vars.ROLLOUT_ALARMS }}",
    });
    const run = (role: string, alarms = "") =>
      runStep("deploy-environment.yml", check.run, {
        env: { ...process.env, ENVIRONMENT: "dev2", ROLE: role, ROLLOUT_ALARMS: alarms },
      });
    // ROLLOUT_ALARMS, which wait-rollout reads only after the apply, is checked before it
    expect(run("arn:aws:iam::123456789012:role/shop-deploy-dev2", "ignore").status).toBe(0);
    const typo = run("arn:aws:iam::123456789012:role/shop-deploy-dev2", "Ignore");
    expect(typo.status).toBe(1);
    expect(typo.stdout).toContain("ROLLOUT_ALARMS may only be empty or ignore (got Ignore)");
    expect(run("arn:aws:iam::123456789012:role/shop-deploy-dev2").status).toBe(0);
    const missing = run("");
    expect(missing.status).toBe(1);
    expect(missing.stdout).toContain(
      "::error::the GitHub environment dev2 has no variable AWS_DEPLOY_ROLE_ARN: create its deploy role with iam/deploy-role-policy-dev2.json",
    );
  });

  // jq runs the step's filter as gh would (.ci/run installs it; elsewhere the test says it is skipped)
  const jqMissing = spawnSync("jq", ["--version"]).status !== 0;
  if (jqMissing && !inCi())
    console.info("skipped: the newest-commit guard's test needs jq on PATH (apt-get install jq)");
  (jqMissing && !inCi() ? test.skip : test)(
    "deploys only main's newest commit, docs-only commits after it aside: a re-run of an old run, or a run a newer push overtook, fails before its plan (a stub gh the test writes stands in for GitHub's API, its --jq filters run by jq)",
    () => {
      const deployJob = applyingJob();
      const guard = step(deployJob, "Only main's newest commit");
      const steps = stepsOf(deployJob);
      expect(steps.indexOf(guard)).toBeLessThan(steps.findIndex((s) => /npm run plan/.test(s.run ?? "")));
      expect(guard.env).toEqual({ GH_TOKEN: "${{ github.token }}", REPOSITORY: "${{ github.repository }}" });
      expect(deployJob.permissions).toMatchObject({ contents: "read" });
      // the commits it lets pass are those that start no deploy of their own
      expect(workflow("deploy.yml").on.push["paths-ignore"]).toEqual(["**.md", "docs/**"]);
      const [mine, tip] = ["a".repeat(40), "b".repeat(40)];
      // answers `commits/main` with MAIN_TIP, and `compare` by applying the step's own jq filter to COMPARE
      const { bin, calls } = stubProgram("gh", () => [
        '[ "$1" = api ] && [ "$3" = --jq ] || exit 9',
        'case "$2" in',
        '  repos/acme/shop/commits/main) [ "$4" = .sha ] && echo "$MAIN_TIP" ;;',
        // the step's own filter, run by jq (gh's --jq is gojq, the same language)
        `  repos/acme/shop/compare/${mine}...${tip}) printf '%s' "$COMPARE" | jq -r "$4" ;;`,
        "  *) exit 9 ;;",
        "esac",
      ]);
      const run = (mainTip: string, compare: object = {}) =>
        runStep("deploy-environment.yml", guard.run, {
          env: {
            ...process.env,
            PATH: `${bin}:${process.env.PATH}`,
            MAIN_TIP: mainTip,
            COMPARE: JSON.stringify(compare),
            GITHUB_SHA: mine,
            REPOSITORY: "acme/shop",
          },
        });
      // its own commit is main's tip
      expect(run(mine).status).toBe(0);
      // main has moved on with code or config: refused
      const files = (...names: string[]) => names.map((filename) => ({ filename }));
      const older = run(tip, { status: "ahead", files: files("README.md", "environments/prod/config.yaml") });
      expect(older.status).toBe(1);
      expect(older.stdout).toContain(`::error::main is at ${tip}, past this run's ${mine} with changes that deploy`);
      // main has moved on with docs only (no Deploy run of their own): this run is still the newest deploy
      const docsOnly = run(tip, {
        status: "ahead",
        files: files("README.md", "docs/operations.md", "docs/ko/layouts.md"),
      });
      expect(docsOnly.status).toBe(0);
      expect(docsOnly.stdout).toContain("change only docs: deploying");
      // this run's commit is not behind main at all (a run of another branch, history rewritten): refused
      expect(run(tip, { status: "diverged", files: files("README.md") }).status).toBe(1);
      // a file moved from the code into docs is a change of the code
      expect(
        run(tip, { status: "ahead", files: [{ filename: "docs/notes.md", previous_filename: "src/app.ts" }] }).status,
      ).toBe(1);
      // a diff GitHub cuts at 300 files may hide code behind docs: taken as deployable
      expect(
        run(tip, { status: "ahead", files: Array.from({ length: 300 }, (_, i) => ({ filename: `docs/${i}.md` })) })
          .status,
      ).toBe(1);
      expect(fs.readFileSync(calls, "utf8")).toContain(`repos/acme/shop/compare/${mine}...${tip} --jq`);
    },
  );
});

test("every checkout fetches the whole history: synth rebuilds older releases from it (a shallow clone lacks them)", () => {
  const checkouts = ALL_JOBS.flatMap(([, , job]) => stepsOf(job)).filter((step) =>
    String(step.uses ?? "").startsWith("actions/checkout@"),
  );
  expect(checkouts.length).toBeGreaterThanOrEqual(6);
  for (const step of checkouts) expect(step.with).toMatchObject({ "fetch-depth": 0, "persist-credentials": false });
});

test("deploys wait for DEPLOY_ENABLED and run from main only; test jobs install what the drills run, as .ci/run does", () => {
  expect(workflow("deploy.yml").jobs.deploy.if).toBe(
    "vars.DEPLOY_ENABLED == 'true' && github.ref == 'refs/heads/main'",
  );
  for (const file of ["deploy.yml", "pull-request.yml"]) {
    const testJob = jobsOf(file)
      .map(([, job]) => job)
      .find((job) => stepsOf(job).some((s) => s.run === "npm test"))!;
    const runs = stepsOf(testJob).map((s) => String(s.run ?? ""));
    expect(runs.indexOf("bash .ci/install-packages")).toBeLessThan(runs.indexOf("npm test"));
    expect(runs.indexOf("bash .ci/install-packages")).toBeGreaterThan(-1);
  }
  // the same script .ci/run starts, and it installs every program a drill fails without in CI
  expect(fs.readFileSync(path.join(ROOT, ".ci/run"), "utf8")).toContain("bash .ci/install-packages");
  const installs = fs.readFileSync(path.join(ROOT, ".ci/install-packages"), "utf8");
  for (const pkg of ["nginx", "curl", "postgresql", "mariadb-server", "mariadb-client", "openssl", "jq"]) {
    expect({ pkg, installed: new RegExp(`PACKAGES\\+=\\([^)]*\\b${pkg}\\b`).test(installs) }).toEqual({
      pkg,
      installed: true,
    });
  }
});
