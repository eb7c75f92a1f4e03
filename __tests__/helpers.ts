import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { TerraformStack } from "cdktf";
import { stringify } from "yaml";
import { artifactFileName, readReleases, sha256Hex, type ReleaseArtifact } from "../src/artifact/releases";
import { tarGz } from "../src/artifact/tar";
import { ConfigError } from "../src/config/errors";
import { loadEnvironments, parseEnvironment, type EnvironmentConfig } from "../src/config/load";
import { appPorts, PASSIVE_HEALTH_CHECK, SERVER_PATHS, type AppHost } from "../src/userdata/app-host";
import { userDataScript } from "../src/userdata/encode";
import { metricNamespaces } from "../src/userdata/metric-namespaces";
import { pathOf } from "../src/on-path";

/** A synthesized resource: its Terraform name and arguments. */
export interface SynthResource {
  readonly name: string;
  readonly values: Record<string, any>;
}

/** Synthesized Terraform JSON, parsed once, with lookups by type, construct path and reference. */
export class Synthesized {
  public readonly json: string;
  public readonly doc: Record<string, any>;

  constructor(json: string) {
    this.json = json;
    this.doc = JSON.parse(json);
  }

  /** Every resource of one Terraform type (e.g. `aws_subnet`). */
  resources(type: string): SynthResource[] {
    return Object.entries(this.doc.resource?.[type] ?? {}).map(([name, values]: [string, any]) => ({ name, values }));
  }

  countOf(type: string): number {
    return this.resources(type).length;
  }

  dataSources(type: string): SynthResource[] {
    return Object.entries(this.doc.data?.[type] ?? {}).map(([name, values]: [string, any]) => ({ name, values }));
  }

  /**
   * The one resource (or data source, with `data: true`) of `type` whose construct id is `id`.
   * Terraform names are the construct path joined by `_` plus a hash: `Network_PublicA_CDD44E1B`.
   */
  named(type: string, id: string, data = false): SynthResource {
    const all = data ? this.dataSources(type) : this.resources(type);
    const found = all.filter((r) => new RegExp(`(^|_)${id}_[0-9A-F]{8}$`).test(r.name));
    if (found.length !== 1) throw new Error(`expected one ${type} with id ${id}, found ${found.length}`);
    return found[0];
  }

  /** The resource (or data source) a `${type.name.attr}` / `${data.type.name.attr}` reference points at. */
  referenced(reference: string): SynthResource & { type: string } {
    const match = /^\$\{(data\.)?([a-z0-9_]+)\.([A-Za-z0-9_]+)\.[a-z0-9_]+\}$/.exec(reference);
    if (!match) throw new Error(`not a single resource reference: ${reference}`);
    const [, data, type, name] = match;
    const found = (data ? this.dataSources(type) : this.resources(type)).find((r) => r.name === name);
    if (!found) throw new Error(`reference to a resource that does not exist: ${reference}`);
    return { ...found, type };
  }
}

/** Synthesizes a stack as `Testing.synth` does (which skips the validations `app.synth()` runs). */
export function synth(stack: TerraformStack): Synthesized {
  // cdktf is loaded here, not at the top: the test files that only read config or files through
  // these helpers do not load it.
  const { Testing } = require("cdktf") as typeof import("cdktf");
  return new Synthesized(Testing.synth(stack));
}

/** `${type.name.attr}`: how one resource refers to another in the JSON. */
export function ref(resource: { name: string; type?: string }, type: string, attr = "id"): string {
  return `\${${type}.${resource.name}.${attr}}`;
}

/** A valid environment file's content; tests change one field at a time. */
export function environmentFile(overrides: Record<string, unknown> = {}): Record<string, any> {
  const file: Record<string, any> = {
    project: "shop",
    region: "ap-northeast-2",
    accountId: "111122223333", // an example account (a warning, not a placeholder): production requires one
    layout: "load-balanced",
    network: {
      cidr: "10.50.0.0/16",
      availabilityZones: ["ap-northeast-2a", "ap-northeast-2c"],
      natGateways: "single",
    },
    app: { instanceType: "t3.micro", version: "1.0.0", count: { min: 1, desired: 1, max: 2 } },
    database: { engine: "postgres", engineVersion: "16", instanceClass: "db.t4g.micro", allocatedStorageGb: 20 },
    loadBalancer: { https: false },
    monitoring: { alarmEmails: ["oncall@example.net"] },
    ...overrides,
  };
  // What the layout has no use for is refused (load.ts, inapplicableSettingProblems): a layout
  // given by `overrides` drops the defaults above that it does not take, unless they are given too.
  if (file.layout !== "load-balanced" && !("loadBalancer" in overrides)) delete file.loadBalancer;
  if (file.layout !== "load-balanced" && !("network" in overrides))
    file.network = { ...file.network, natGateways: "none" };
  if (file.layout === "single-server" && !("database" in overrides)) {
    file.database = { engine: "postgres", engineVersion: "16" };
  }
  return file;
}

/** A production environment's file that keeps every production rule (HTTPS, at least 2 servers). */
export function productionEnvironmentFile(overrides: Record<string, unknown> = {}): Record<string, any> {
  const loadBalanced = (overrides.layout ?? "load-balanced") === "load-balanced";
  return environmentFile({
    production: true,
    app: { instanceType: "m7g.large", version: "1.0.0", count: { min: 2, desired: 2, max: 4 } },
    ...(loadBalanced && {
      loadBalancer: {
        https: true,
        certificateArn: "arn:aws:acm:ap-northeast-2:111122223333:certificate/5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
      },
    }),
    ...overrides,
  });
}

/** A validated `EnvironmentConfig`, through the real schema, or a thrown list of its problems. */
export function environment(name = "test", overrides: Record<string, unknown> = {}): EnvironmentConfig {
  const parsed = parseEnvironment(name, environmentFile(overrides));
  if (!parsed.environment) throw new Error(`fixture is invalid:\n${parsed.problems.join("\n")}`);
  return parsed.environment;
}

/** The project's own `environments/`. */
export const ENVIRONMENTS_DIR = path.join(__dirname, "..", "environments");

/**
 * The environment folders' names, sorted, read from disk: tests derive every list of environments
 * from this (or from `loadEnvironments`), never from names written down, so a new folder is covered.
 */
export function environmentFolders(dir = ENVIRONMENTS_DIR): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

/**
 * Whether process `pid` still runs. A zombie (ended, not yet reaped by its parent: a child of a
 * thread blocked in a synchronous wait, whose exit event needs the event loop) does not. Without
 * /proc (not Linux) a zombie counts as running: the caller's deadline decides.
 */
export function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

/** The real `program`: the first on this process's PATH (a test puts stand-ins before it in a script's). */
export function installedProgram(program: string): string {
  const found = pathOf(program);
  if (!found) throw new Error(`no ${program} on PATH`);
  return found;
}

/** The problems `loadEnvironments` reports for the environment folders in `dir`: none when it loads them. */
export function loadProblems(dir: string, options: { only?: string[] } = {}): string[] {
  try {
    loadEnvironments({ dir, ...options });
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
}

/** A fresh temporary directory, in the run's folder (TMPDIR: global-setup.js), which the run's end removes. */
export function tempDir(prefix = "cdktf-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Every file under `dir` (recursively), by its path relative to `dir`, with its bytes. */
export function filesUnder(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    files.set(path.relative(dir, file), fs.readFileSync(file));
  }
  return files;
}

/**
 * Expects `actual` to hold the same files as `expected`, byte for byte. Bytes are compared with
 * Buffer#equals: jest's deep equality walks a tarball's bytes one at a time (seconds per stack). A
 * difference is shown as text (the JSON files), and fails whatever the text shows.
 */
export function expectSameFiles(expected: Map<string, Buffer>, actual: Map<string, Buffer>): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [file, content] of expected) {
    const other = actual.get(file);
    if (other !== undefined && other.equals(content)) continue;
    expect({ file, text: other?.toString("utf8") }).toEqual({ file, text: content.toString("utf8") });
    expect({ file, sameBytes: false }).toEqual({ file, sameBytes: true });
  }
}

/** Writes `<dir>/<name>/config.yaml` for each entry (an object is written as YAML, a string as is). */
export function writeEnvironments(dir: string, files: Record<string, Record<string, unknown> | string>): string {
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.join(dir, name), { recursive: true });
    fs.writeFileSync(path.join(dir, name, "config.yaml"), typeof content === "string" ? content : stringify(content));
  }
  return dir;
}

export { userDataScript };

/** The boot script of a synthesized stack's app servers (the instance's, or the launch template's). */
export function bootScriptOf(json: Synthesized): string {
  return userDataScript(
    json.resources("aws_instance")[0]?.values.user_data_base64 ??
      json.resources("aws_launch_template")[0].values.user_data,
  );
}

/**
 * The content of `file` as a boot script writes it (its quoted here-document, without the final
 * newline); throws when the script writes no such file.
 */
export function writtenFile(script: string, file: string): string {
  const heredoc = new RegExp(`cat > ${file.replace(/[/.@]/g, "\\$&")} <<'(\\w+)'\\n([\\s\\S]*?)\\n\\1\\n`).exec(script);
  if (!heredoc) throw new Error(`the boot script writes no ${file}`);
  return heredoc[2];
}

/**
 * The boot script's first deploy of `version`, a release of this repository, with the checksum
 * releases.yaml records for it (the deploy refuses a download with other bytes).
 */
export function firstDeployLine(version: string): string {
  const sha256 = readReleases(path.join(__dirname, "..")).get(version)?.sha256;
  if (!sha256) throw new Error(`firstDeployLine: ${version} is not in releases.yaml`);
  return `\n/opt/app/bin/deploy ${version} ${sha256} || first_deploy=$?\n`;
}

/** A release tarball of `version` (a one-file app) for stacks on versions this repository never released. */
export function fixtureRelease(version: string): ReleaseArtifact {
  const bytes = tarGz([{ path: "package.json", type: "file", content: Buffer.from(JSON.stringify({ version })) }]);
  const file = path.join(tempDir("release-fixture-"), artifactFileName(version));
  fs.writeFileSync(file, bytes);
  return { version, file, sha256: sha256Hex(bytes) };
}

/**
 * A database section for fixtures whose app opens many connections (32 processes, a fleet of 9 or
 * 100): 8 GiB of memory, about 760 connections, where the default db.t4g.micro takes about 95.
 */
export const LARGER_DATABASE = {
  engine: "postgres",
  engineVersion: "16",
  instanceClass: "db.m7g.large",
  allocatedStorageGb: 20,
} as const;

/** The metric namespaces of a test's "dev" servers: `shop/dev/CWAgent`, `.../AppHealth`, `.../AppBackups`. */
export const TEST_METRIC_NAMESPACES = metricNamespaces("shop", "dev", "environment");

/**
 * What runs inside a test's app server, as the stacks describe it: nginx on 80 over 2 processes,
 * the shipped paths and users, version 1.0.0 of "dev", no artifact source and no database, unless
 * `overrides` says otherwise.
 */
export function testHost(overrides: Partial<AppHost> = {}): AppHost {
  return {
    environment: "dev",
    version: "1.0.0",
    listenPort: 80,
    healthCheckPath: "/healthz",
    appPorts: appPorts(2),
    nginxUser: "nginx",
    appUser: "app",
    passiveHealthCheck: PASSIVE_HEALTH_CHECK,
    paths: SERVER_PATHS,
    ...overrides,
  };
}

/**
 * The record of what the launcher's bundle of `entry` was built from (scripts/run.js, in its cache:
 * node_modules/.cache/classic-servers, or CLASSIC_SERVERS_CACHE), as the run's synth left it.
 */
export function bundleRecord(entry = "main"): { own: Record<string, string>; deps: Record<string, string> } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { CACHE } = require("../scripts/run.js") as { CACHE: string };
  return JSON.parse(fs.readFileSync(path.join(CACHE, `${entry}.inputs.json`), "utf8"));
}
