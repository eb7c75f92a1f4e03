import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { TerraformOutput, TerraformStack } from "cdktf";
import { outputLockFile } from "../src/output-lock";
import { OutputFolderError, projectRootFromStack, synthesizeAtomically } from "../src/synth";
import { tempDir } from "./helpers";

let root: string;
let outdir: string;
beforeEach(() => {
  root = tempDir();
  outdir = path.join(root, "cdktf.out");
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** A stack with one output, so that it synthesizes to a small real file. */
function addStack(app: Parameters<Parameters<typeof synthesizeAtomically>[1]>[0], id: string): TerraformStack {
  const stack = new TerraformStack(app, id);
  new TerraformOutput(stack, "name", { value: id });
  return stack;
}

/** Every file under `dir` with its content, to compare a tree before and after. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else files[path.relative(dir, full)] = fs.readFileSync(full, "utf8");
    }
  };
  walk(dir);
  return files;
}

describe("synthesizeAtomically", () => {
  test("never replaces a folder that is not an earlier output: the project, a folder of it, files without a manifest", () => {
    // given a project with its environments, and a folder of someone's files
    const project = path.join(root, "project");
    const environments = path.join(project, "environments");
    const notes = path.join(root, "notes");
    fs.mkdirSync(path.join(environments, "dev"), { recursive: true });
    fs.writeFileSync(path.join(environments, "dev", "config.yaml"), "project: shop\n");
    fs.mkdirSync(notes);
    fs.writeFileSync(path.join(notes, "todo.txt"), "keep me\n");
    fs.writeFileSync(path.join(root, "README.md"), "# readme\n");
    const sources = path.join(project, "src");
    fs.mkdirSync(path.join(sources, "stacks"), { recursive: true });
    fs.writeFileSync(path.join(sources, "app.ts"), "export {};\n");
    fs.writeFileSync(path.join(sources, "stacks", "environment-stack.ts"), "export {};\n");
    const onlyStacks = path.join(root, "only-stacks");
    fs.mkdirSync(path.join(onlyStacks, "stacks"), { recursive: true });
    fs.writeFileSync(path.join(onlyStacks, "stacks", "layouts.test.ts"), "export {};\n");
    const webApp = path.join(root, "web-app");
    fs.mkdirSync(webApp);
    fs.writeFileSync(path.join(webApp, "manifest.json"), '{"name":"app","icons":[]}\n');
    const before = snapshot(root);
    const attempts: Array<[string, RegExp]> = [
      [project, /the output folder .*project is .*project, which a synth would replace; set CDKTF_OUTDIR/],
      [root, /is a folder that holds .*project, which a synth would replace/], // a parent of the project
      [environments, /environments is .*environments, which a synth would replace/],
      [notes, /holds files but no cdktf manifest\.json, so it is not an earlier synth's output/],
      // a folder of the project's sources that holds a stacks/ folder (src/, __tests__/): cdktf's
      // stacks/ alone is not an earlier output beside other files, nor when it holds files
      [sources, /holds files but no cdktf manifest\.json/],
      [path.join(sources, "stacks"), /holds files but no cdktf manifest\.json/],
      [onlyStacks, /holds files but no cdktf manifest\.json/],
      // a manifest.json that is not cdktf's (a web app's)
      [webApp, /holds files but no cdktf manifest\.json/],
      [path.join(root, "README.md"), /is a file, which a synth would replace/],
    ];
    for (const [target, message] of attempts) {
      const attempt = () =>
        synthesizeAtomically(target, (app) => addStack(app, "dev"), undefined, {
          protectedPaths: [project, environments],
        });
      expect(attempt).toThrow(OutputFolderError);
      expect(attempt).toThrow(message);
    }
    expect(snapshot(root)).toEqual(before);
    // the project reached through a link: the environments folder is still refused
    const linked = path.join(root, "linked-project");
    fs.symlinkSync(project, linked);
    expect(() =>
      synthesizeAtomically(path.join(project, "environments"), (app) => addStack(app, "dev"), undefined, {
        protectedPaths: [linked, path.join(linked, "environments")],
      }),
    ).toThrow(/environments is .*environments, which a synth would replace/);
    fs.rmSync(linked);
    expect(snapshot(root)).toEqual(before);
    // the working directory, always (CDKTF_OUTDIR= empty, cdktf synth -o .): here a folder of the test's
    const cwd = process.cwd();
    process.chdir(notes);
    try {
      expect(() => synthesizeAtomically("", (app) => addStack(app, "dev"))).toThrow(
        /is .*notes, which a synth would replace/,
      );
    } finally {
      process.chdir(cwd);
    }
    expect(snapshot(root)).toEqual(before);
    // one that cannot be made (Node.js's recursive mkdir looped forever under /proc)
    expect(() => synthesizeAtomically("/proc/classic-servers-test/out", (app) => addStack(app, "dev"))).toThrow(
      /^cannot create the folder \/proc\/classic-servers-test \(ENOENT\), which holds the output folder/,
    );
    // what a cdktf App leaves as it starts (cdktf.out/stacks/, empty: npm run cost, a test) is cdktf's
    const started = path.join(root, "started");
    fs.mkdirSync(path.join(started, "stacks"), { recursive: true });
    expect(synthesizeAtomically(started, (app) => addStack(app, "dev"))).toEqual(["dev"]);
    // an empty folder, or an earlier output, is fine
    const empty = path.join(root, "empty");
    fs.mkdirSync(empty);
    expect(synthesizeAtomically(empty, (app) => addStack(app, "dev"))).toEqual(["dev"]);
    expect(synthesizeAtomically(empty, (app) => addStack(app, "prod"))).toEqual(["prod"]);
  });

  test("what a synth stopped half-way left beside the output (Ctrl-C) goes with the next one; a running synth's stays", () => {
    // a process that has ended, and one that runs (this one's parent: the test runner)
    const ended = spawnSync(process.execPath, ["-e", "0"]).pid!;
    for (const name of [
      `cdktf.out.staging-${ended}`,
      `cdktf.out.retired-${ended}`,
      `cdktf.out.staging-${process.ppid}`,
    ]) {
      fs.mkdirSync(path.join(root, name, "stacks", "dev"), { recursive: true });
    }
    fs.mkdirSync(path.join(root, "cdktf.out.staging-notes")); // not a synth's: left alone
    synthesizeAtomically(outdir, (app) => addStack(app, "dev"));
    expect(fs.readdirSync(root).sort()).toEqual([
      "cdktf.out",
      `cdktf.out.staging-${process.ppid}`,
      "cdktf.out.staging-notes",
    ]);
  });

  test("a plan that takes the output folder's lock while the synth builds stops the swap: the folder it runs terraform in stays, and nothing is left beside it (review CY)", () => {
    synthesizeAtomically(outdir, (app) => addStack(app, "dev"));
    const before = snapshot(outdir);
    const lock = outputLockFile(outdir);
    expect(() =>
      synthesizeAtomically(outdir, (app) => {
        addStack(app, "prod");
        // a run that is alive (this one's parent: the test runner) takes the lock meanwhile
        fs.writeFileSync(lock, `${process.ppid} npm run plan for dev\n`);
      }),
    ).toThrow(
      `npm run plan for dev (pid ${process.ppid}) is running terraform in ${outdir}, and a synth now would delete`,
    );
    expect(snapshot(outdir)).toEqual(before);
    expect(fs.readdirSync(root).sort()).toEqual(["cdktf.out", "cdktf.out.lock"]);
  });

  test("writes every stack and the manifest, and nothing beside the output folder", () => {
    const stacks = synthesizeAtomically(outdir, (app) => ["dev", "prod"].forEach((id) => addStack(app, id)));
    expect(stacks).toEqual(["dev", "prod"]);
    expect(fs.existsSync(path.join(outdir, "stacks", "prod", "cdk.tf.json"))).toBe(true);
    expect(fs.readdirSync(root)).toEqual(["cdktf.out"]);
  });

  test("an output folder whose parent does not exist yet (CDKTF_OUTDIR=build/out) is written with its parents", () => {
    const nested = path.join(root, "build", "ci", "cdktf.out");
    expect(synthesizeAtomically(nested, (app) => addStack(app, "dev"))).toEqual(["dev"]);
    expect(fs.existsSync(path.join(nested, "stacks", "dev", "cdk.tf.json"))).toBe(true);
    expect(fs.readdirSync(path.dirname(nested))).toEqual(["cdktf.out"]);
  });

  test("an output folder that cannot be made is refused in one line, naming it, the file in the way if there is one, and what to do; nothing is written (review DE)", () => {
    fs.writeFileSync(path.join(root, "notes.md"), "a file\n");
    const build = (app: Parameters<Parameters<typeof synthesizeAtomically>[1]>[0]) => addStack(app, "dev");
    const cases: [string, string][] = [
      // a file where a folder of the path should be: fs said ENOTDIR from lstat, with a stack trace
      [path.join(root, "notes.md", "out"), "ENOTDIR: " + path.join(root, "notes.md") + " is a file"],
      [path.join(root, "notes.md", "a", "out"), "ENOTDIR: " + path.join(root, "notes.md") + " is a file"],
      // a folder no one can make anything in: cdktf's own mkdir threw ENOENT, with a stack trace
      ["/proc/classic-servers-out", "ENOENT"],
    ];
    for (const [target, why] of cases) {
      expect(() => synthesizeAtomically(target, build)).toThrow(
        new OutputFolderError(
          `cannot make the output folder ${target} (${why}): set CDKTF_OUTDIR (or cdktf's -o) to a folder that can be written`,
        ),
      );
    }
    expect(fs.readdirSync(root)).toEqual(["notes.md"]);
  });

  test("a stack that fails app.synth() validation leaves the previous output exactly as it was", () => {
    // given a previous good output
    synthesizeAtomically(outdir, (app) => ["dev", "prod"].forEach((id) => addStack(app, id)));
    const before = snapshot(outdir);
    // when a later synth fails in app.synth(), after the first stack is already written
    expect(() =>
      synthesizeAtomically(outdir, (app) => {
        addStack(app, "dev");
        const broken = addStack(app, "zz-broken");
        broken.node.addValidation({ validate: () => ["this stack is broken on purpose"] });
      }),
    ).toThrow(/this stack is broken on purpose/);
    // then the old output is untouched and no staging folder is left behind
    expect(snapshot(outdir)).toEqual(before);
    expect(fs.readdirSync(root)).toEqual(["cdktf.out"]);
  });

  test("a verify step (the policy pass) that rejects the staged output leaves the previous output as it was", () => {
    synthesizeAtomically(outdir, (app) => addStack(app, "dev"));
    const before = snapshot(outdir);
    let seen: string[] = [];
    expect(() =>
      synthesizeAtomically(
        outdir,
        (app) => ["dev", "prod"].forEach((id) => addStack(app, id)),
        (staged, stacks) => {
          seen = stacks;
          expect(fs.existsSync(path.join(staged, "stacks", "prod", "cdk.tf.json"))).toBe(true);
          throw new Error("policy says no");
        },
      ),
    ).toThrow("policy says no");
    expect(seen).toEqual(["dev", "prod"]);
    expect(snapshot(outdir)).toEqual(before);
    expect(fs.readdirSync(root)).toEqual(["cdktf.out"]);
  });

  test("an error while building stacks writes nothing", () => {
    expect(() =>
      synthesizeAtomically(outdir, () => {
        throw new Error("bad input");
      }),
    ).toThrow("bad input");
    expect(fs.readdirSync(root)).toEqual([]);
  });

  test("an output folder that is a symbolic link stays one: the output goes where it points, with the stacks a selection keeps", () => {
    // given cdktf.out linked to a folder elsewhere, holding dev (initialized) and prod
    const real = path.join(root, "disk", "out");
    fs.mkdirSync(path.dirname(real));
    fs.symlinkSync(real, outdir);
    expect(() => synthesizeAtomically(outdir, (app) => addStack(app, "dev"))).toThrow(
      /^the output folder .*cdktf\.out is a symbolic link to .*disk\/out, which does not exist: create that folder/,
    );
    expect(fs.lstatSync(outdir).isSymbolicLink()).toBe(true);
    fs.mkdirSync(real);
    synthesizeAtomically(outdir, (app) => ["dev", "prod"].forEach((id) => addStack(app, id)));
    fs.mkdirSync(path.join(outdir, "stacks", "dev", ".terraform"));
    // when dev alone is synthesized again, keeping the others
    synthesizeAtomically(outdir, (app) => addStack(app, "dev"), undefined, { keepOtherStacks: () => true });
    // then the link is still a link to the same folder, which holds both stacks and dev's init
    expect(fs.lstatSync(outdir).isSymbolicLink()).toBe(true);
    expect(fs.readlinkSync(outdir)).toBe(real);
    expect(fs.readdirSync(path.join(real, "stacks")).sort()).toEqual(["dev", "prod"]);
    expect(Object.keys(JSON.parse(fs.readFileSync(path.join(real, "manifest.json"), "utf8")).stacks).sort()).toEqual([
      "dev",
      "prod",
    ]);
    expect(fs.existsSync(path.join(real, "stacks", "dev", ".terraform"))).toBe(true);
    expect(fs.readdirSync(root).sort()).toEqual(["cdktf.out", "disk"]);
    expect(fs.readdirSync(path.dirname(real))).toEqual(["out"]);
  });

  test("saved plans go with every synth, also from the stacks a selection keeps (their reviews beside the stacks go too)", () => {
    synthesizeAtomically(outdir, (app) => ["dev", "prod"].forEach((id) => addStack(app, id)));
    for (const stack of ["dev", "prod"]) {
      for (const file of ["plan.tfplan", "drift.tfplan"])
        fs.writeFileSync(path.join(outdir, "stacks", stack, file), "plan");
    }
    fs.mkdirSync(path.join(outdir, "stacks", "prod", ".terraform"));
    fs.writeFileSync(path.join(outdir, "plan-prod.md"), "review");
    // when dev alone is synthesized, keeping prod
    synthesizeAtomically(outdir, (app) => addStack(app, "dev"), undefined, { keepOtherStacks: () => true });
    // then neither stack has a plan file, and prod keeps its terraform init and its JSON
    expect(fs.readdirSync(path.join(outdir, "stacks", "prod")).sort()).toEqual([".terraform", "cdk.tf.json"]);
    expect(fs.readdirSync(path.join(outdir, "stacks", "dev"))).toEqual(["cdk.tf.json"]);
    expect(fs.existsSync(path.join(outdir, "plan-prod.md"))).toBe(false);
  });

  test.each([
    [
      "errored.tfstate",
      "dev",
      /errored\.tfstate is the state Terraform could not save to dev's backend.*state push errored\.tfstate/,
    ],
    [
      "terraform.tfstate.d/foo/terraform.tfstate",
      "dev",
      /terraform\.tfstate\.d holds the states of Terraform workspaces other than default/,
    ],
    [
      "terraform.tfstate",
      "prod",
      /terraform\.tfstate is Terraform state, which no backend here writes in a stack's folder/,
    ],
    ["terraform.tfstate.backup", "prod", /terraform\.tfstate\.backup is Terraform state/],
  ])(
    "state Terraform left in a stack's folder (%s, the only copy of it) stops the synth that would delete it, also when its stack is no longer built; nothing changes",
    (file, stack, message) => {
      synthesizeAtomically(outdir, (app) => ["dev", "prod"].forEach((id) => addStack(app, id)));
      const state = path.join(outdir, "stacks", stack, file);
      fs.mkdirSync(path.dirname(state), { recursive: true });
      fs.writeFileSync(state, '{"version": 4}');
      const before = snapshot(outdir);
      // a full synth and one that no longer builds the stack
      for (const build of [["dev", "prod"], ["dev"]]) {
        const synth = () => synthesizeAtomically(outdir, (app) => build.forEach((id) => addStack(app, id)));
        expect(synth).toThrow(OutputFolderError);
        expect(synth).toThrow(message);
        expect(synth).toThrow(/a synth replaces .*cdktf\.out whole and would delete it\. .*, then synthesize again$/);
      }
      expect(snapshot(outdir)).toEqual(before);
      // a selection that keeps the stack as it is moves it across whole, with its state
      const other = stack === "dev" ? "prod" : "dev";
      synthesizeAtomically(outdir, (app) => addStack(app, other), undefined, { keepOtherStacks: () => true });
      expect(fs.readFileSync(state, "utf8")).toBe('{"version": 4}');
      // one that drops it does not
      expect(() =>
        synthesizeAtomically(outdir, (app) => addStack(app, other), undefined, { keepOtherStacks: () => false }),
      ).toThrow(message);
      // nor one that would keep it but cannot: a folder the manifest does not list is not moved
      const manifestFile = path.join(outdir, "manifest.json");
      const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8"));
      const listed = fs.readFileSync(manifestFile, "utf8");
      delete manifest.stacks[stack];
      fs.writeFileSync(manifestFile, JSON.stringify(manifest));
      expect(() =>
        synthesizeAtomically(outdir, (app) => addStack(app, other), undefined, { keepOtherStacks: () => true }),
      ).toThrow(message);
      fs.writeFileSync(manifestFile, listed);
      // moved out, the synth goes on
      fs.rmSync(path.join(outdir, "stacks", stack, file.split("/")[0]), { recursive: true });
      expect(synthesizeAtomically(outdir, (app) => addStack(app, "dev"))).toEqual(["dev"]);
    },
  );

  test("terraform init's providers and lock file survive a new synth; dropped stacks do not", () => {
    synthesizeAtomically(outdir, (app) => ["dev", "prod"].forEach((id) => addStack(app, id)));
    fs.mkdirSync(path.join(outdir, "stacks", "dev", ".terraform", "providers"), { recursive: true });
    fs.writeFileSync(path.join(outdir, "stacks", "dev", ".terraform.lock.hcl"), "# lock");
    synthesizeAtomically(outdir, (app) => addStack(app, "dev"));
    expect(fs.existsSync(path.join(outdir, "stacks", "dev", ".terraform", "providers"))).toBe(true);
    expect(fs.readFileSync(path.join(outdir, "stacks", "dev", ".terraform.lock.hcl"), "utf8")).toBe("# lock");
    expect(fs.readdirSync(path.join(outdir, "stacks"))).toEqual(["dev"]);
  });
});

describe("projectRootFromStack: the path local state is written by, from a stack's folder to the project", () => {
  test("in place: three folders up from cdktf.out/stacks/<stack>", () => {
    expect(projectRootFromStack(path.join(root, "cdktf.out"), root)).toBe("../../..");
  });

  test("an output folder that is a link: from the folder it points at, where Terraform resolves the path", () => {
    // given cdktf.out linked to a folder on another disk, deeper than the project
    const project = path.join(root, "project");
    const real = path.join(root, "disk", "deep", "out");
    fs.mkdirSync(project);
    fs.mkdirSync(real, { recursive: true });
    fs.symlinkSync(real, path.join(project, "cdktf.out"));
    // then the path leads from the real stack folder back to the project, not to the link's target's parents
    const fromStack = projectRootFromStack(path.join(project, "cdktf.out"), project);
    expect(path.resolve(real, "stacks", "dev", fromStack)).toBe(fs.realpathSync(project));
    // and an output folder not created yet, under a linked parent, is resolved as well
    fs.symlinkSync(path.join(root, "disk", "deep"), path.join(project, "build"));
    const nested = projectRootFromStack(path.join(project, "build", "new-out"), project);
    expect(path.resolve(root, "disk", "deep", "new-out", "stacks", "dev", nested)).toBe(fs.realpathSync(project));
  });
});
