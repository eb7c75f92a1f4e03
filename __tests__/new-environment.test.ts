import * as fs from "node:fs";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { cidrsOverlap } from "../src/cidr";
import { loadEnvironments } from "../src/config/load";
import { writeArchitectureDocs } from "../src/ops/architecture-docs";
import { deployChain } from "../src/ops/ci-environments";
import { compareEnvironments } from "../src/ops/compare";
import { selectionFor } from "../src/ops/workflow";
import { checkedProject, ENVIRONMENT_CHECKS, environmentProblems } from "./environment-checks";
import { ENVIRONMENTS_DIR, environmentFolders, loadProblems, tempDir } from "./helpers";

// "Adding an environment is adding a folder", done as the README says, in a temporary copy of the
// project: copy environments/dev to environments/qa, give it its own network.cidr, run
// `npm run diagram` (in-process: writeArchitectureDocs), and every environment-driven check of
// the suite passes for it, with no code change. The checks run in-process on the copy (the same
// functions environments.test.ts runs over the real folders), not by running jest again.

const ROOT = path.join(__dirname, "..");
const SOURCE = "dev";
/** The copy's name: qa, or another when the project already has a folder of that name. */
const COPY = ["qa", "uat", "sandbox", "preview"].find((name) => !environmentFolders().includes(name))!;

/** A project with the real environments/ and docs/, and environments/qa copied from dev. */
function projectWithCopy(cidr?: string): string {
  const root = tempDir("new-environment-");
  fs.cpSync(ENVIRONMENTS_DIR, path.join(root, "environments"), { recursive: true });
  fs.cpSync(path.join(ROOT, "docs"), path.join(root, "docs"), { recursive: true });
  fs.cpSync(path.join(root, "environments", SOURCE), path.join(root, "environments", COPY), { recursive: true });
  if (cidr) {
    // edit only network.cidr, as a user would, keeping the file's comments
    const file = path.join(root, "environments", COPY, "config.yaml");
    const document = parseDocument(fs.readFileSync(file, "utf8"));
    document.setIn(["network", "cidr"], cidr);
    fs.writeFileSync(file, document.toString());
  }
  return root;
}

/** A /16 no shipped environment uses. */
function freeCidr(): string {
  const taken = loadEnvironments({ dir: ENVIRONMENTS_DIR }).map((env) => env.network.cidr);
  for (let second = 200; second < 256; second++) {
    const cidr = `10.${second}.0.0/16`;
    if (!taken.some((other) => cidrsOverlap(cidr, other))) return cidr;
  }
  throw new Error("no free 10.x.0.0/16 left for the copy");
}

const roots: string[] = [];
afterAll(() => roots.forEach((root) => fs.rmSync(root, { recursive: true, force: true })));
const made = (root: string) => {
  roots.push(root);
  return root;
};

describe("a copied environment folder, with its own CIDR", () => {
  const root = made(projectWithCopy(freeCidr()));
  // the README's step: npm run diagram writes the new environment's page
  const before = checkedProject(root, [COPY]);
  const copy = before.environments.find((env) => env.name === COPY)!;
  const problemsBefore = environmentProblems(copy, before);
  const first = writeArchitectureDocs(root, [copy], before.documents);
  const project = before; // the same folders and stacks; the page is read when a check runs

  test("before npm run diagram, the only problem is its missing page, and the message says what to run", () => {
    expect(problemsBefore).toEqual([
      `docs/architecture-<env>.md is what npm run diagram writes: docs/architecture-${COPY}.md is missing: run npm run diagram`,
    ]);
  });

  test("npm run diagram names the page it wrote, and again finds it as it would write it: unchanged, and not written again", () => {
    const page = `docs/architecture-${COPY}.md`;
    expect(first).toEqual([{ file: page, changed: true }]);
    const written = fs.statSync(path.join(root, page));
    expect(writeArchitectureDocs(root, [copy], before.documents)).toEqual([{ file: page, changed: false }]);
    expect(fs.statSync(path.join(root, page)).ino).toBe(written.ino);
  });

  test.each(Object.keys(ENVIRONMENT_CHECKS))("then it passes: %s", (check) => {
    expect(
      ENVIRONMENT_CHECKS[check](
        project.environments.find((env) => env.name === COPY)!,
        project,
      ),
    ).toEqual([]);
  });

  test("it deploys with the order of the folder it was copied from, after it (ties in name order), and npm run plan knows it", () => {
    const chain = deployChain(project.environments);
    const orderOf = (name: string) => project.environments.find((env) => env.name === name)!.deployOrder;
    expect(orderOf(COPY)).toBe(orderOf(SOURCE));
    expect(chain.indexOf(COPY)).toBeGreaterThan(chain.indexOf(SOURCE));
    // whatever deploys between them shares that order
    const between = chain.slice(chain.indexOf(SOURCE), chain.indexOf(COPY) + 1);
    expect(between.filter((name) => orderOf(name) !== orderOf(SOURCE))).toEqual([]);
    expect(selectionFor(COPY, path.join(root, "environments"))).toBe(COPY);
  });

  test("npm run compare shows it differs from its source only where the folder was edited", () => {
    const [source, qa] = [SOURCE, COPY].map((name) => project.environments.find((env) => env.name === name)!);
    expect(compareEnvironments(source, qa).map((d) => d.path)).toEqual(["network.cidr", "state.path"]);
  });
});

test("a copy that keeps its source's CIDR is refused, naming the folder, the field and the overlap", () => {
  const root = made(projectWithCopy());
  const problems = loadProblems(path.join(root, "environments"));
  expect(problems).toEqual([
    expect.stringMatching(
      new RegExp(
        `/environments/${COPY}: network\\.cidr must not overlap another environment's VPC, so they can be peered later: ` +
          "10\\.10\\.0\\.0/16 overlaps 10\\.10\\.0\\.0/16 of .*/environments/dev; change it in the one that is not " +
          "deployed yet \\(a new block replaces its VPC\\), to a free block such as 10\\.\\d+\\.0\\.0/16$",
      ),
    ),
  ]);
});

test("the refusal names the copy even when its name sorts before its source's (staging copied to alpha): the newer config.yaml is the one to change", () => {
  const root = made(tempDir("new-environment-"));
  const dir = path.join(root, "environments");
  fs.cpSync(ENVIRONMENTS_DIR, dir, { recursive: true });
  const source = environmentFolders().at(-1)!;
  const copy = "alpha";
  expect(copy < source).toBe(true);
  // the copy is made after the folders it is made from, as cp -r makes it
  const past = new Date(Date.now() - 60_000);
  for (const name of environmentFolders()) fs.utimesSync(path.join(dir, name, "config.yaml"), past, past);
  fs.cpSync(path.join(dir, source), path.join(dir, copy), { recursive: true });
  const problems = loadProblems(dir);
  expect(problems.length).toBeGreaterThan(0);
  for (const problem of problems)
    expect(problem).toMatch(new RegExp(`/environments/${copy}: .*/environments/${source}\\b`));
});
