import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { replaceFile } from "../replace-file";
import { makeFolder } from "../make-folder";
import { isMap, isScalar, Pair, parseDocument, Scalar, YAMLMap } from "yaml";
import { SHA256_PATTERN, VERSION_PATTERN } from "../userdata/app-host";
import { ConfigError } from "../config/errors";
import { readDocument } from "../yaml-documents";
import { DependencyError, dependencyEntries } from "./app-dependencies";
import { directoryEntries, tarGz, type TarEntry } from "./tar";

// Releases of app/ are recorded in releases.yaml (version -> the git tree of app/ at the release
// and the SHA-256 of its tarball) and rebuilt from the repository on demand, byte for byte, into
// a content-addressed cache. So any environment can run any released version from a fresh clone:
// nothing is published anywhere first, and nothing but the repository's own history is needed.

/** The file, at the project root, that lists every release. */
export const RELEASES_FILE = "releases.yaml";

/** The folder of the app the releases are made of, at the project root. */
export const APP_DIR = "app";

/** One released version of the app. */
export interface ReleaseRecord {
  readonly version: string;
  /** The git tree id of `app/` at the release: what the tarball is rebuilt from. */
  readonly tree: string;
  /** SHA-256 (hex) of the release tarball: a rebuild must give exactly these bytes. */
  readonly sha256: string;
}

/** A release tarball on disk, ready to upload. */
export interface ReleaseArtifact {
  readonly version: string;
  /** Absolute path of the tarball (in the release cache). */
  readonly file: string;
  readonly sha256: string;
}

/** A release that cannot be found or rebuilt; the message says what to do. */
export class ReleaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReleaseError";
  }
}

export interface ReleaseOptions {
  /** The project root: `releases.yaml`, `app/` and the git repository. */
  readonly root: string;
  /**
   * Where rebuilt tarballs are kept, as `<sha256>/app-<version>.tar.gz`.
   * @default - `RELEASE_CACHE_DIR`, else `<root>/node_modules/.cache/classic-servers/releases`
   */
  readonly cacheDir?: string;
}

/** The tarball name of a version. */
export function artifactFileName(version: string): string {
  return `app-${version}.tar.gz`;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

// ---- releases.yaml ----

const OID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/** Every release in `<root>/releases.yaml`, by version; none when the file does not exist. */
export function readReleases(root: string): Map<string, ReleaseRecord> {
  const file = path.join(root, RELEASES_FILE);
  const releases = new Map<string, ReleaseRecord>();
  if (!fs.existsSync(file)) return releases;
  const document = readDocument(fs.readFileSync(file, "utf8"));
  if (document.errors.length > 0) {
    throw new ReleaseError(`${RELEASES_FILE} is not valid YAML: ${document.errors[0].message.split("\n")[0]}`);
  }
  // A key YAML reads as a number (1.10 is 1.1) would name another version than the one written (review CD)
  const map = document.get("releases", true);
  for (const pair of isMap(map) ? map.items : []) {
    if (!isScalar(pair.key) || typeof pair.key.value !== "string") {
      const written = isScalar(pair.key) ? (pair.key.source ?? String(pair.key.value)) : String(pair.key);
      throw new ReleaseError(
        `${RELEASES_FILE}: releases key ${written} is not a version as YAML reads it (${JSON.stringify(isScalar(pair.key) ? pair.key.value : pair.key)}): put it in quotes, "${written}", as npm run release writes it`,
      );
    }
  }
  const raw = (document.toJS() ?? {}) as { releases?: Record<string, { tree?: unknown; sha256?: unknown }> };
  for (const [version, entry] of Object.entries(raw.releases ?? {})) {
    if (
      !VERSION_PATTERN.test(version) ||
      !OID.test(String(entry?.tree)) ||
      !SHA256_PATTERN.test(String(entry?.sha256))
    ) {
      throw new ReleaseError(
        `${RELEASES_FILE}: releases."${version}" must be a release version with tree (a git tree id) and sha256 (64 hex digits); write it with npm run release`,
      );
    }
    releases.set(version, { version, tree: String(entry.tree), sha256: String(entry.sha256) });
  }
  return releases;
}

/**
 * The order of releases in releases.yaml, by number where the versions have numbers (1.9.1 before
 * 1.10.0): the file as written whole and an entry added to it keep the same order.
 */
const versionOrder = (a: string, b: string) => a.localeCompare(b, "en", { numeric: true });

/** The content of `releases.yaml` listing `releases` (sorted by version, `versionOrder`). */
export function releasesFileContent(releases: Iterable<ReleaseRecord>): string {
  const lines = [
    "# Released versions of app/. `npm run release` adds one; an environment's app.version must be one",
    "# of them. Each is rebuilt from this repository, byte for byte: `tree` is the git tree of app/ at",
    "# the release, `sha256` the checksum the rebuilt tarball must have. Never edit or reuse an entry:",
    "# servers keep the bytes they fetched for a version (docs/releases.md).",
    "releases:",
  ];
  for (const r of [...releases].sort((a, b) => versionOrder(a.version, b.version))) {
    lines.push(`  "${r.version}":`, `    tree: "${r.tree}"`, `    sha256: "${r.sha256}"`);
  }
  return `${lines.join("\n")}\n`;
}

/**
 * `text` (a releases.yaml) with `record` added among its releases in version order, everything
 * else as it was: comments someone wrote (a note on why a release exists, say) stay where they are,
 * and an entry has the quoting the generated file gives it, so that a file never edited by hand
 * comes out exactly as `releasesFileContent` writes it.
 */
export function withRelease(text: string, record: ReleaseRecord): string {
  const document = parseDocument(text);
  const quoted = (value: string) => Object.assign(new Scalar(value), { type: Scalar.QUOTE_DOUBLE });
  const entry = new YAMLMap();
  entry.add(new Pair(new Scalar("tree"), quoted(record.tree)));
  entry.add(new Pair(new Scalar("sha256"), quoted(record.sha256)));
  let releases = document.get("releases", true);
  if (!isMap(releases)) {
    releases = new YAMLMap();
    document.set("releases", releases);
  }
  const items = (releases as YAMLMap<Scalar, unknown>).items;
  const after = items.findIndex((pair) => versionOrder(String(pair.key?.value ?? pair.key), record.version) > 0);
  const pair = new Pair(quoted(record.version), entry);
  if (after === -1) items.push(pair);
  else {
    // A comment on its own line above the first entry is kept on the map, not on that entry: it
    // must move with the entry it was written over, or it would end up over the new one (review CD).
    // One on the line of `releases:` stays with the map.
    const map = releases as YAMLMap<Scalar, unknown>;
    const first = items[0];
    if (after === 0 && map.commentBefore && isScalar(first?.key) && !commentOnKeyLine(text, document)) {
      first.key.commentBefore = [map.commentBefore, first.key.commentBefore].filter(Boolean).join("\n");
      map.commentBefore = undefined;
    }
    items.splice(after, 0, pair);
  }
  return document.toString({ lineWidth: 0 });
}

/** Whether the comment before `releases`'s map in `text` is on the line of its key (`releases: # ...`). */
function commentOnKeyLine(text: string, document: ReturnType<typeof parseDocument>): boolean {
  const pair = isMap(document.contents)
    ? document.contents.items.find((p) => isScalar(p.key) && p.key.value === "releases")
    : undefined;
  const end = isScalar(pair?.key) ? pair.key.range?.[1] : undefined;
  return end !== undefined && /^[ \t]*:[ \t]*#/.test(text.slice(end));
}

// ---- The files of a release ----

/**
 * The files and folders of `dir` (recursively), as tarball entries; symbolic links are refused.
 * A `node_modules` at the top is left out: dependencies are installed from the lock file into
 * every release (`releaseEntries`), never taken from a folder someone ran npm in (git ignores it).
 */
export function entriesFromDirectory(dir: string): TarEntry[] {
  return directoryEntries(
    dir,
    "",
    (entryPath) => entryPath === "node_modules",
    (full) => {
      throw new ReleaseError(`${full}: only regular files and folders can be released`);
    },
  );
}

/**
 * The git tree id `entries` would have if committed (`git rev-parse HEAD:app` for a clean app/),
 * computed in Node: it tells whether the working tree is exactly a release, without running git.
 */
export function gitTreeId(entries: readonly TarEntry[], objectFormat: "sha1" | "sha256" = "sha1"): string {
  const hash = (type: string, body: Buffer) =>
    createHash(objectFormat)
      .update(Buffer.concat([Buffer.from(`${type} ${body.length}\0`), body]))
      .digest();
  const treeOf = (prefix: string): Buffer => {
    const children = entries.filter((e) => {
      const rest = prefix ? (e.path.startsWith(`${prefix}/`) ? e.path.slice(prefix.length + 1) : undefined) : e.path;
      return rest !== undefined && !rest.includes("/");
    });
    // Git sorts a tree's entries by name, a folder's name as if it ended in "/".
    const key = (e: TarEntry) => Buffer.from(`${path.posix.basename(e.path)}${e.type === "directory" ? "/" : ""}`);
    const body = Buffer.concat(
      children
        .sort((a, b) => Buffer.compare(key(a), key(b)))
        .flatMap((e) => {
          const id = e.type === "directory" ? treeOf(e.path) : hash("blob", Buffer.from(e.content ?? new Uint8Array()));
          const mode = e.type === "directory" ? "40000" : e.executable ? "100755" : "100644";
          return [Buffer.from(`${mode} ${path.posix.basename(e.path)}\0`), id];
        }),
    );
    return hash("tree", body);
  };
  return treeOf("").toString("hex");
}

/**
 * The files of git tree `tree` as tarball entries, read from the repository at `root` with two
 * `git` commands (only when the release is not in the cache and differs from the working tree).
 */
export function entriesFromGitTree(root: string, tree: string): TarEntry[] {
  const git = (args: string[], input?: string): Buffer => {
    try {
      return execFileSync("git", args, { cwd: root, input, maxBuffer: 1 << 30, stdio: ["pipe", "pipe", "pipe"] });
    } catch (error) {
      const e = error as NodeJS.ErrnoException & { stderr?: Buffer };
      if (e.code === "ENOENT") throw new ReleaseError("git is not on PATH (needed to rebuild an older release)");
      const said = e.stderr?.toString().trim().split("\n")[0] ?? e.message;
      // Only a tree git cannot find is missing history; anything else (a clone owned by another
      // user, a partial clone whose remote is out of reach) is git's own error, said as it is.
      if (/dubious ownership/.test(said)) {
        throw new ReleaseError(
          `git refuses to read ${root}, which another user owns (${said}): run as that user, or trust the ` +
            `folder with git config --global --add safe.directory ${root}`,
        );
      }
      if (!/not a tree object|[Nn]ot a valid object name|bad object/.test(said)) {
        throw new ReleaseError(`git could not read the tree ${tree} (${said})`);
      }
      throw new ReleaseError(
        `the git tree ${tree} is not in this clone (${said}): fetch the repository's history ` +
          "(`git fetch --unshallow`; in GitHub Actions, actions/checkout with fetch-depth: 0)",
      );
    }
  };
  const listing = git(["ls-tree", "-r", "-t", "-z", tree])
    .toString("utf8")
    .split("\0")
    .filter(Boolean)
    .map((line) => {
      const [meta, entryPath] = line.split("\t");
      const [mode, type, oid] = meta.split(" ");
      return { mode, type, oid, path: entryPath };
    });
  const blobs = listing.filter((e) => e.type === "blob");
  for (const e of listing) {
    if (e.type === "tree") continue;
    if (e.type !== "blob" || (e.mode !== "100644" && e.mode !== "100755")) {
      throw new ReleaseError(
        `${APP_DIR}/${e.path} (git mode ${e.mode}): only regular files and folders can be released`,
      );
    }
  }
  const contents = new Map<string, Buffer>();
  if (blobs.length > 0) {
    const out = git(["cat-file", "--batch"], `${blobs.map((b) => b.oid).join("\n")}\n`);
    let at = 0;
    for (let i = 0; i < blobs.length; i++) {
      const headerEnd = out.indexOf(0x0a, at);
      const [oid, , size] = out.subarray(at, headerEnd).toString("utf8").split(" ");
      const start = headerEnd + 1;
      contents.set(oid, out.subarray(start, start + Number(size)));
      at = start + Number(size) + 1;
    }
  }
  return listing.map((e) =>
    e.type === "tree"
      ? { path: e.path, type: "directory" as const }
      : { path: e.path, type: "file" as const, executable: e.mode === "100755", content: contents.get(e.oid) },
  );
}

/**
 * What a release tarball holds: the app's files (a git tree of `app/`), and the production
 * dependencies its `package-lock.json` pins (`dependencyEntries`), so that the same tree gives the
 * same bytes on any machine and a server never runs npm.
 */
export function releaseEntries(files: readonly TarEntry[]): TarEntry[] {
  return [...files, ...dependencyEntries(files)];
}

/** The version in a release's `package.json`. */
export function versionOf(entries: readonly TarEntry[], where: string): string {
  const manifest = entries.find((e) => e.path === "package.json" && e.type === "file");
  if (!manifest) throw new ReleaseError(`${where}: package.json is missing`);
  let parsed: { version?: unknown } | null;
  try {
    parsed = JSON.parse(Buffer.from(manifest.content ?? new Uint8Array()).toString("utf8"));
  } catch (error) {
    // (JSON.parse's message alone named neither the file nor what to do: review DF)
    throw new ReleaseError(
      `${where}/package.json is not valid JSON (${(error as Error).message}): fix it, then run this again`,
    );
  }
  const version: unknown = parsed?.version;
  if (typeof version !== "string" || !VERSION_PATTERN.test(version)) {
    throw new ReleaseError(
      `${where}/package.json: version must match ${VERSION_PATTERN} (got ${JSON.stringify(version)})`,
    );
  }
  return version;
}

// ---- Resolving a version to a tarball ----

function cacheDirOf(options: ReleaseOptions): string {
  return path.resolve(
    options.cacheDir ??
      // an empty value is unset, not the working directory
      (process.env.RELEASE_CACHE_DIR ||
        path.join(options.root, "node_modules", ".cache", "classic-servers", "releases")),
  );
}

/**
 * The tarball of released `version`: from the cache when a file with its checksum is there,
 * otherwise rebuilt from the working tree's `app/` (when that is exactly the release's tree) or
 * from the git tree recorded for it, checked against the recorded SHA-256 and cached.
 */
export function resolveRelease(
  version: string,
  options: ReleaseOptions,
  releases: ReadonlyMap<string, ReleaseRecord> = readReleases(options.root),
): ReleaseArtifact {
  const record = releases.get(version);
  if (!record) {
    const known = [...releases.keys()].join(", ") || "none yet";
    throw new ReleaseError(
      `"${version}" is not a release (released: ${known}): set app/package.json's version to ${version} and run npm run release`,
    );
  }
  const file = path.join(cacheDirOf(options), record.sha256, artifactFileName(version));
  if (fs.existsSync(file) && sha256Hex(fs.readFileSync(file)) === record.sha256) {
    return { version, file, sha256: record.sha256 };
  }
  const working = path.join(options.root, APP_DIR);
  const local = fs.existsSync(working) ? entriesFromDirectory(working) : [];
  const entries =
    local.length > 0 && gitTreeId(local) === record.tree ? local : entriesFromGitTree(options.root, record.tree);
  const bytes = tarGz(releaseEntries(entries));
  const sha256 = sha256Hex(bytes);
  if (sha256 !== record.sha256) {
    throw new ReleaseError(
      `rebuilding release ${version} from tree ${record.tree} gave sha256 ${sha256}, but ${RELEASES_FILE} records ${record.sha256}: ` +
        "the entry was edited, or the packing changed (then re-record it on purpose)",
    );
  }
  makeFolder(
    path.dirname(file),
    (error) =>
      new ReleaseError(
        `cannot create the release cache folder ${error.folder} (${error.code}): ` +
          "set RELEASE_CACHE_DIR to a folder that can be written, or unset it",
      ),
  );
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, bytes);
  fs.renameSync(temporary, file);
  return { version, file, sha256 };
}

/** The release tarball of a folder of app files (the working tree's `app/`, or a test's). */
export function packDirectory(dir: string): {
  version: string;
  bytes: Uint8Array;
  sha256: string;
  entries: TarEntry[];
} {
  const entries = entriesFromDirectory(dir);
  const version = versionOf(entries, dir);
  const bytes = tarGz(releaseEntries(entries));
  return { version, bytes, sha256: sha256Hex(bytes), entries };
}

// ---- Recording a release (npm run release) ----

/** What `npm run release` did. */
export interface RecordedRelease {
  readonly record: ReleaseRecord;
  /** False when the same version was already released with the same files. */
  readonly added: boolean;
}

/**
 * Why `app/` as it is now is not what its version's release holds, or undefined when it is that
 * release or its version is not released yet. A change to the app under a released version would
 * never reach a server: every environment on that version deploys the recorded tree, however
 * `app/` reads (npm test checks the shipped app with this).
 */
export function unreleasedAppChange(root: string): string | undefined {
  const entries = entriesFromDirectory(path.join(root, APP_DIR));
  const version = versionOf(entries, APP_DIR);
  const released = readReleases(root).get(version);
  if (released === undefined || released.tree === gitTreeId(entries)) return undefined;
  return (
    `${APP_DIR}/ differs from release ${version} (tree ${released.tree}), which every environment on ${version} ` +
    `deploys: give ${APP_DIR}/package.json a new version, commit, then npm run release (a file git does not ` +
    `track, such as a log, counts too: git status --ignored ${APP_DIR} lists them; remove it)`
  );
}

/**
 * Records the app as committed at HEAD as a release in `releases.yaml`: its version (from
 * `app/package.json`), its git tree and the SHA-256 of its tarball. Refuses uncommitted changes
 * in `app/` and a version already released with other files.
 */
export function recordRelease(root: string): RecordedRelease {
  const entries = entriesFromDirectory(path.join(root, APP_DIR));
  const version = versionOf(entries, APP_DIR);
  const tree = gitTreeId(entries);
  let head: string;
  try {
    head = execFileSync("git", ["rev-parse", `HEAD:${APP_DIR}`], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
      .toString()
      .trim();
  } catch {
    throw new ReleaseError(`${APP_DIR}/ is not committed in a git repository at ${root}: commit it, then release`);
  }
  if (head !== tree) {
    throw new ReleaseError(
      `${APP_DIR}/ differs from what HEAD has committed (tree ${head}): commit your changes to ${APP_DIR}/ first, so that the release can be rebuilt from history`,
    );
  }
  const releases = readReleases(root);
  const existing = releases.get(version);
  if (existing) {
    if (existing.tree === tree) return { record: existing, added: false };
    throw new ReleaseError(
      `${version} is already released with other files (tree ${existing.tree}): give ${APP_DIR}/package.json a new version; a released version's bytes never change`,
    );
  }
  const bytes = tarGz(releaseEntries(entries));
  const record = { version, tree, sha256: sha256Hex(bytes) };
  releases.set(version, record);
  const file = path.join(root, RELEASES_FILE);
  replaceFile(
    file,
    fs.existsSync(file) ? withRelease(fs.readFileSync(file, "utf8"), record) : releasesFileContent(releases.values()),
  );
  return { record, added: true };
}

// ---- Every environment's release, before any stack exists ----

/**
 * The tarball of each environment's `app.version`, resolved before any stack is built, or one
 * `ConfigError` naming each environment whose version is not released or cannot be rebuilt.
 */
export function resolveEnvironmentReleases(
  environments: readonly { readonly name: string; readonly app: { readonly version: string } }[],
  options: ReleaseOptions & { readonly environmentsLabel: string },
): Map<string, ReleaseArtifact> {
  const problems: string[] = [];
  const resolved = new Map<string, ReleaseArtifact>();
  let releases: Map<string, ReleaseRecord>;
  try {
    releases = readReleases(options.root);
  } catch (error) {
    throw new ConfigError([(error as Error).message]);
  }
  for (const env of environments) {
    const version = env.app.version;
    if (resolved.has(version)) continue;
    try {
      resolved.set(version, resolveRelease(version, options, releases));
    } catch (error) {
      if (!(error instanceof ReleaseError || error instanceof DependencyError)) throw error;
      const message = error.message.startsWith(`"${version}" is not a release`)
        ? error.message
        : `"${version}" cannot be rebuilt: ${error.message}`;
      for (const user of environments.filter((e) => e.app.version === version)) {
        problems.push(`${options.environmentsLabel}/${user.name}: app.version ${message}`);
      }
      resolved.set(version, undefined as never);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return resolved;
}
