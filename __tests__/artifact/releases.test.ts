import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Testing } from "cdktf";
import { gunzipSync } from "fflate";
import {
  entriesFromDirectory,
  entriesFromGitTree,
  readReleases,
  recordRelease,
  releasesFileContent,
  withRelease,
  resolveEnvironmentReleases,
  resolveRelease,
  RELEASES_FILE,
  sha256Hex,
  unreleasedAppChange,
} from "../../src/artifact/releases";
import { LAYOUT_STACKS } from "../../src/stacks/layouts";
import { environment, synth, tempDir } from "../helpers";

/**
 * Releases are recorded in releases.yaml and rebuilt from the repository's history, so every
 * environment can run any released version (dev ahead of prod, a rollback) from a fresh clone.
 * Each test works in a throwaway git repository (git is run by the test to make history).
 */

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: "test",
  GIT_AUTHOR_EMAIL: "test@test.invalid",
  GIT_COMMITTER_NAME: "test",
  GIT_COMMITTER_EMAIL: "test@test.invalid",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
};
const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", args, { cwd, env: GIT_ENV, stdio: "pipe" }).toString();

function writeApp(root: string, version: string, body: string): void {
  fs.mkdirSync(path.join(root, "app"), { recursive: true });
  fs.writeFileSync(path.join(root, "app/package.json"), `${JSON.stringify({ name: "app", version })}\n`);
  fs.writeFileSync(path.join(root, "app/server.js"), body);
}

/** A repository that released 1.0.0, then changed the app and released 1.1.0 (app/ is now 1.1.0). */
function repositoryWithTwoReleases(): string {
  const root = tempDir("releases-repo-");
  git(root, "init", "-q", "-b", "main");
  writeApp(root, "1.0.0", "// one\n");
  git(root, "add", "app");
  git(root, "commit", "-q", "-m", "app 1.0.0");
  expect(recordRelease(root).added).toBe(true);
  git(root, "add", RELEASES_FILE);
  git(root, "commit", "-q", "-m", "release 1.0.0");
  writeApp(root, "1.1.0", "// two\n");
  git(root, "commit", "-q", "-am", "app 1.1.0");
  expect(recordRelease(root).added).toBe(true);
  git(root, "commit", "-q", "-am", "release 1.1.0");
  return root;
}

/** The files of a release tarball, by name (a minimal ustar reader for the test's own check). */
function filesIn(tarball: Uint8Array): Record<string, string> {
  const tar = Buffer.from(gunzipSync(tarball));
  const files: Record<string, string> = {};
  for (let at = 0; tar[at] !== 0;) {
    const name = tar.toString("utf8", at, at + 100).replace(/\0.*$/s, "");
    const size = parseInt(tar.toString("utf8", at + 124, at + 136), 8);
    files[name] = tar.toString("utf8", at + 512, at + 512 + size);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

const root = repositoryWithTwoReleases();
const cacheDir = () => tempDir("release-cache-");

test("npm run release records version, git tree and tarball checksum, and is idempotent", () => {
  const releases = readReleases(root);
  expect([...releases.keys()]).toEqual(["1.0.0", "1.1.0"]);
  expect(releases.get("1.1.0")!.tree).toBe(git(root, "rev-parse", "HEAD:app").trim());
  expect(recordRelease(root)).toEqual({ record: releases.get("1.1.0"), added: false });
});

test("npm run release keeps what someone wrote in releases.yaml: comments stay, the new entry goes in version order", () => {
  // a file never edited by hand comes out as the generated one
  expect(fs.readFileSync(path.join(root, RELEASES_FILE), "utf8")).toBe(
    releasesFileContent(readReleases(root).values()),
  );
  const repo = tempDir("releases-comments-");
  git(repo, "init", "-q", "-b", "main");
  writeApp(repo, "1.9.0", "// nine\n");
  git(repo, "add", "app");
  git(repo, "commit", "-q", "-m", "app 1.9.0");
  recordRelease(repo);
  const file = path.join(repo, RELEASES_FILE);
  const edited = fs
    .readFileSync(file, "utf8")
    .replace("releases:\n", "# Team note: 1.9.0 is the last release before the schema change.\nreleases:\n")
    .replace('  "1.9.0":\n', '  # hotfix for the login bug\n  "1.9.0":\n')
    .replace(/(sha256: "[0-9a-f]{64}")\n/, "$1 # checked by ops on 12-01\n");
  fs.writeFileSync(file, edited);
  writeApp(repo, "1.10.0", "// ten\n");
  git(repo, "commit", "-q", "-am", "app 1.10.0");
  expect(recordRelease(repo).added).toBe(true);
  const text = fs.readFileSync(file, "utf8");
  expect(text.startsWith(edited.slice(0, edited.indexOf('  "1.9.0"')))).toBe(true);
  expect(text).toContain("# Team note: 1.9.0 is the last release before the schema change.\nreleases:\n");
  expect(text).toContain('  # hotfix for the login bug\n  "1.9.0":\n');
  expect(text).toMatch(
    /sha256: "[0-9a-f]{64}" # checked by ops on 12-01\n  "1\.10\.0":\n    tree: "[0-9a-f]{40}"\n    sha256: "[0-9a-f]{64}"\n$/,
  );
  expect([...readReleases(repo).keys()]).toEqual(["1.9.0", "1.10.0"]);
  // an earlier version than the last goes before it (1.9.1 between 1.9.0 and 1.10.0), by number, not text
  writeApp(repo, "1.9.1", "// nine, fixed\n");
  git(repo, "commit", "-q", "-am", "app 1.9.1");
  recordRelease(repo);
  expect([...readReleases(repo).keys()]).toEqual(["1.9.0", "1.9.1", "1.10.0"]);
  expect(fs.readFileSync(file, "utf8")).toContain("# Team note: 1.9.0 is the last release");
});

test("a comment over the first release stays over it when an earlier version goes first; one on the releases: line stays at the top (review CD)", () => {
  const entry = (version: string, tree: string, sha: string) =>
    `  "${version}":\n    tree: "${tree.repeat(40)}"\n    sha256: "${sha.repeat(64)}"\n`;
  const record = { version: "1.9.1", tree: "a".repeat(40), sha256: "b".repeat(64) };
  const over = withRelease(
    `releases:\n  # 2.0.0 was the first release (ticket 12)\n${entry("2.0.0", "c", "d")}`,
    record,
  );
  expect(over).toBe(
    `releases:\n${entry("1.9.1", "a", "b")}  # 2.0.0 was the first release (ticket 12)\n${entry("2.0.0", "c", "d")}`,
  );
  const onKey = withRelease(`releases: # every release: see ticket 7\n${entry("2.0.0", "c", "d")}`, record);
  expect(onKey.split("\n").slice(0, 3)).toEqual(["releases:", "  # every release: see ticket 7", '  "1.9.1":']);
});

test("a version key YAML reads as a number (1.10 is 1.1) is refused, saying to quote it, before anything is written (review CD)", () => {
  const dir = tempDir("releases-number-key-");
  fs.writeFileSync(
    path.join(dir, RELEASES_FILE),
    `releases:\n  1.10:\n    tree: "${"c".repeat(40)}"\n    sha256: "${"d".repeat(64)}"\n`,
  );
  expect(() => readReleases(dir)).toThrow(
    'releases.yaml: releases key 1.10 is not a version as YAML reads it (1.1): put it in quotes, "1.10", as npm run release writes it',
  );
});

test("an older release is rebuilt from history while app/ is at a newer version, byte for byte", () => {
  const old = resolveRelease("1.0.0", { root, cacheDir: cacheDir() });
  const bytes = fs.readFileSync(old.file);
  expect(sha256Hex(bytes)).toBe(readReleases(root).get("1.0.0")!.sha256);
  expect(filesIn(bytes)).toEqual({ "package.json": '{"name":"app","version":"1.0.0"}\n', "server.js": "// one\n" });
  expect(filesIn(fs.readFileSync(resolveRelease("1.1.0", { root, cacheDir: cacheDir() }).file))["server.js"]).toBe(
    "// two\n",
  );
});

test("a cached release is used as it is: no git, no packing (git is not even on PATH)", () => {
  const cache = cacheDir();
  const first = resolveRelease("1.0.0", { root, cacheDir: cache });
  const saved = process.env.PATH;
  process.env.PATH = "";
  try {
    expect(resolveRelease("1.0.0", { root, cacheDir: cache })).toEqual(first);
  } finally {
    process.env.PATH = saved;
  }
});

test("a cache folder that cannot be made fails at once, saying which and what to set; an empty RELEASE_CACHE_DIR is unset", () => {
  // under /proc nothing can be made: Node.js's recursive mkdir looped there forever
  expect(() => resolveRelease("1.0.0", { root, cacheDir: "/proc/classic-servers-test/cache" })).toThrow(
    /^cannot create the release cache folder \/proc\/classic-servers-test \(ENOENT\): set RELEASE_CACHE_DIR to a folder that can be written, or unset it$/,
  );
  const saved = { dir: process.env.RELEASE_CACHE_DIR, cwd: process.cwd() };
  const elsewhere = tempDir("release-cwd-");
  process.env.RELEASE_CACHE_DIR = "";
  process.chdir(elsewhere);
  try {
    const built = resolveRelease("1.0.0", { root });
    expect(built.file.startsWith(path.join(root, "node_modules", ".cache", "classic-servers", "releases"))).toBe(true);
    expect(fs.readdirSync(elsewhere)).toEqual([]); // not the working directory
  } finally {
    process.chdir(saved.cwd);
    if (saved.dir === undefined) delete process.env.RELEASE_CACHE_DIR;
    else process.env.RELEASE_CACHE_DIR = saved.dir;
    fs.rmSync(elsewhere, { recursive: true, force: true });
  }
});

test("a corrupted cache entry is rebuilt, never uploaded", () => {
  const cache = cacheDir();
  const first = resolveRelease("1.0.0", { root, cacheDir: cache });
  fs.writeFileSync(first.file, "tampered");
  expect(sha256Hex(fs.readFileSync(resolveRelease("1.0.0", { root, cacheDir: cache }).file))).toBe(first.sha256);
});

test("dev on 1.1.0 while prod stays on 1.0.0: each stack carries its own release in its folder", () => {
  const dev = environment("dev", {
    app: { instanceType: "t3.micro", version: "1.1.0", count: { min: 1, desired: 1, max: 2 } },
  });
  const prod = environment("prod");
  const releases = resolveEnvironmentReleases([dev, prod], {
    root,
    cacheDir: cacheDir(),
    environmentsLabel: "environments",
  });
  for (const [env, body] of [
    [dev, "// two\n"],
    [prod, "// one\n"],
  ] as const) {
    const release = releases.get(env.app.version)!;
    const json = synth(new LAYOUT_STACKS[env.layout](Testing.app(), env.name, { env, release }));
    const object = json.resources("aws_s3_object")[0].values;
    expect(object.metadata).toEqual({ "app-version": env.app.version });
    expect(object.source).toBe(
      `assets/Artifacts_Tarball_${object.source.split("/")[1].split("_").pop()}/${release.sha256}/app-${env.app.version}.tar.gz`,
    );
    expect(object.source_hash).toBe(release.sha256);
    expect(filesIn(fs.readFileSync(release.file))["server.js"]).toBe(body);
  }
});

test("an environment on a version that was never released is a problem naming it, before any stack exists", () => {
  const qa = environment("qa", {
    app: { instanceType: "t3.micro", version: "2.0.0", count: { min: 1, desired: 1, max: 2 } },
  });
  expect(() =>
    resolveEnvironmentReleases([qa], { root, cacheDir: cacheDir(), environmentsLabel: "environments" }),
  ).toThrow(
    'environments/qa: app.version "2.0.0" is not a release (released: 1.0.0, 1.1.0): set app/package.json\'s version to 2.0.0 and run npm run release',
  );
});

test("a release whose dependencies cannot be installed is a problem naming the environment, not a stack trace", () => {
  // app/ pins a dependency but has no lock file (npm would have nothing to install exactly)
  const repo = tempDir("releases-deps-");
  git(repo, "init", "-q", "-b", "main");
  fs.mkdirSync(path.join(repo, "app"));
  fs.writeFileSync(
    path.join(repo, "app/package.json"),
    `${JSON.stringify({ name: "app", version: "1.0.0", dependencies: { pg: "8.23.1" } })}\n`,
  );
  git(repo, "add", "app");
  git(repo, "commit", "-q", "-m", "app 1.0.0");
  const tree = git(repo, "rev-parse", "HEAD:app").trim();
  fs.writeFileSync(
    path.join(repo, RELEASES_FILE),
    `releases:\n  "1.0.0":\n    tree: "${tree}"\n    sha256: "${"0".repeat(64)}"\n`,
  );
  const qa = environment("qa", {
    app: { instanceType: "t3.micro", version: "1.0.0", count: { min: 1, desired: 1, max: 2 } },
  });
  expect(() =>
    resolveEnvironmentReleases([qa], { root: repo, cacheDir: cacheDir(), environmentsLabel: "environments" }),
  ).toThrow(
    'environments/qa: app.version "1.0.0" cannot be rebuilt: the app has dependencies but no package-lock.json: run npm install in app/ and commit the lock file',
  );
});

// (as root: chown gives the clone to another user; as anyone else, the clone is already theirs)
const asRoot = process.getuid?.() === 0;
if (!asRoot) console.info("skipped: a clone another user owns (the test chowns one, which needs root)");
(asRoot ? test : test.skip)(
  "a clone another user owns is refused by git for that, not taken for missing history",
  () => {
    const clone = tempDir("releases-owner-");
    git(clone, "clone", "-q", `file://${root}`, "repo");
    const repo = path.join(clone, "repo");
    const tree = git(repo, "rev-parse", "HEAD:app").trim();
    execFileSync("chown", ["-R", "nobody", repo]);
    // without this machine's git settings (a safe.directory there would let the clone in)
    const saved = { ...process.env };
    Object.assign(process.env, { GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" });
    try {
      expect(() => entriesFromGitTree(repo, tree)).toThrow(
        `which another user owns (fatal: detected dubious ownership in repository at '${repo}'): run as that user, or trust the folder with git config --global --add safe.directory ${repo}`,
      );
      expect(() => entriesFromGitTree(repo, tree)).not.toThrow(/unshallow/);
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  },
);

test("a shallow clone without the release's history says what to fetch", () => {
  const clone = tempDir("releases-shallow-");
  git(clone, "clone", "-q", "--depth", "1", `file://${root}`, "repo");
  const shallow = path.join(clone, "repo");
  expect(() => resolveRelease("1.1.0", { root: shallow, cacheDir: cacheDir() })).not.toThrow(); // app/ is 1.1.0
  expect(() => resolveRelease("1.0.0", { root: shallow, cacheDir: cacheDir() })).toThrow(
    /is not in this clone .*git fetch --unshallow.*fetch-depth: 0/,
  );
  git(shallow, "fetch", "-q", "--unshallow");
  expect(resolveRelease("1.0.0", { root: shallow, cacheDir: cacheDir() }).sha256).toBe(
    readReleases(root).get("1.0.0")!.sha256,
  );
});

test("releasing refuses uncommitted changes to app/ and a version already released with other files", () => {
  // a copy of the repository whose app/ is 1.1.0 as released (its history included)
  const repo = tempDir("releases-refuse-");
  fs.cpSync(root, repo, { recursive: true });
  fs.writeFileSync(path.join(repo, "app/server.js"), "// changed\n");
  expect(() => recordRelease(repo)).toThrow(/app\/ differs from what HEAD has committed .*commit your changes/);
  git(repo, "commit", "-q", "-am", "changed without a new version");
  expect(() => recordRelease(repo)).toThrow(/1\.1\.0 is already released with other files .*new version/);
});

test("an app/package.json that is not JSON is named, committed or not, with what to do (review DF: JSON.parse's message alone)", () => {
  const repo = tempDir("releases-bad-json-");
  fs.cpSync(root, repo, { recursive: true });
  fs.appendFileSync(path.join(repo, "app/package.json"), "// x\n");
  const notJson = /^app\/package\.json is not valid JSON \(Unexpected .*\): fix it, then run this again$/;
  expect(() => recordRelease(repo)).toThrow(notJson);
  git(repo, "commit", "-q", "-am", "a comment in package.json");
  expect(() => recordRelease(repo)).toThrow(notJson);
});

test("an edited checksum in releases.yaml fails the rebuild instead of uploading other bytes", () => {
  const repo = tempDir("releases-edited-");
  fs.cpSync(root, repo, { recursive: true });
  const file = path.join(repo, RELEASES_FILE);
  const record = readReleases(repo).get("1.0.0")!;
  fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(record.sha256, "0".repeat(64)));
  expect(() => resolveRelease("1.0.0", { root: repo, cacheDir: cacheDir() })).toThrow(
    /gave sha256 .* but releases\.yaml records 0{64}/,
  );
});

test("this repository's releases rebuild to their recorded checksums (app/ unchanged since its release, or history present)", () => {
  const project = path.resolve(__dirname, "../..");
  const releases = readReleases(project);
  expect(releases.size).toBeGreaterThan(0);
  for (const version of releases.keys()) {
    expect(resolveRelease(version, { root: project, cacheDir: cacheDir() }).sha256).toBe(releases.get(version)!.sha256);
  }
  expect(spawnSync("git", ["--version"]).status).toBe(0);
});

test("the shipped app/ is the release of its own version, or a version not released yet: a change to the app bumps its version", () => {
  const project = path.resolve(__dirname, "../..");
  expect(unreleasedAppChange(project)).toBeUndefined();
  // the check itself: the throwaway repository's app/ edited after its release of 1.1.0, then bumped
  fs.appendFileSync(path.join(root, "app", "server.js"), "// changed after the release\n");
  try {
    expect(unreleasedAppChange(root)).toBe(
      `app/ differs from release 1.1.0 (tree ${readReleases(root).get("1.1.0")!.tree}), which every environment on 1.1.0 deploys: give app/package.json a new version, commit, then npm run release (a file git does not track, such as a log, counts too: git status --ignored app lists them; remove it)`,
    );
    writeApp(root, "1.2.0", fs.readFileSync(path.join(root, "app", "server.js"), "utf8"));
    expect(unreleasedAppChange(root)).toBeUndefined();
  } finally {
    git(root, "checkout", "-q", "--", "app");
  }
  expect(unreleasedAppChange(root)).toBeUndefined();
});

test("a release leaves out only the node_modules at the top of app/, never a folder of the app's own of that name deeper or of a longer name (review DP)", () => {
  const dir = tempDir("release-entries-");
  for (const file of [
    "server.js",
    "node_modules/dep/index.js",
    "lib/node_modules/vendored.js",
    "my_node_modules/z.js",
  ]) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), file);
  }
  const files = entriesFromDirectory(dir)
    .filter((e) => e.type === "file")
    .map((e) => e.path)
    .sort();
  expect(files).toEqual(["lib/node_modules/vendored.js", "my_node_modules/z.js", "server.js"]);
});
