import * as fs from "node:fs";
import * as path from "node:path";
import { isScalar, type YAMLError } from "yaml";
import { readDocument } from "../yaml-documents";
import type * as z from "zod";
import { cidrsOverlap } from "../cidr";
import { classMaxConnections, dbInstanceMemoryGib } from "./db-memory";
import { ConfigError, describeIssue, shown, type SourceText } from "./errors";
import { architectureOf } from "./instance-types";
import { availabilityZonesOf } from "./regions";
import { isNameWord, NAME_WORDS, neighboursOf, STATE_STACK_PREFIX } from "../naming";
import { placeholderProblems } from "./placeholders";
import { stateBuckets, type StateBucket } from "./state-buckets";
import { ruleProblems } from "./rules";
import type { MetricNamespaceMode } from "../userdata/metric-namespaces";
import {
  defaultProcesses,
  environmentSchema,
  HCP_TERRAFORM_HOST,
  MAX_STORAGE_GB,
  SHORT_NAME,
  SHORT_NAME_RULE,
  type EnvironmentFile,
  type LogRetentionDays,
} from "./schema";

/** The file each environment folder holds. */
export const CONFIG_FILE = "config.yaml";

/** Where an environment's Terraform state lives, with every default resolved. */
export type StateConfig =
  | { readonly backend: "local"; readonly path: string }
  | { readonly backend: "s3"; readonly bucket: string; readonly key: string; readonly region: string }
  | { readonly backend: "cloud"; readonly organization: string; readonly workspace: string; readonly hostname: string };

/** One validated environment, as the rest of the code sees it: parsed, defaulted, resolved. */
export interface EnvironmentConfig extends Omit<
  EnvironmentFile,
  "network" | "state" | "app" | "database" | "loadBalancer" | "monitoring" | "deployOrder"
> {
  readonly network: EnvironmentFile["network"] & {
    /** As configured, or by the layout: single with a load balancer, none without. */
    readonly natGateways: NonNullable<EnvironmentFile["network"]["natGateways"]>;
  };
  /** The folder name; also the stack name (`cdktf deploy <name>`). */
  readonly name: string;
  readonly state: StateConfig;
  readonly app: EnvironmentFile["app"] & {
    readonly detailedMonitoring: boolean;
    /** App processes per server: as configured, or one per vCPU of the instance type. */
    readonly processes: number;
    /** Whether the file sets `processes` (otherwise they follow the instance type: `defaultProcesses`). */
    readonly processesSet: boolean;
    readonly logRetentionDays: LogRetentionDays;
    /** From the instance family: Graviton (`m7g`, `t4g`, ...) is arm64. */
    readonly architecture: "x86_64" | "arm64";
    /** Whether an `al2023` AMI stays as first resolved (production's default) or follows AWS's newest. */
    readonly amiUpdates: "pinned" | "latest";
  };
  readonly database: EnvironmentFile["database"] & {
    /** The app's database. */
    readonly name: string;
    /** The user the app connects as: RDS's master user, or the single server's app user. */
    readonly username: string;
    readonly multiAz: boolean;
    readonly deletionProtection: boolean;
    readonly backupRetentionDays: number;
    readonly maxAllocatedStorageGb: number;
  };
  readonly loadBalancer: EnvironmentFile["loadBalancer"] & { readonly deletionProtection: boolean };
  /** Place in the deploy chain: lowest first, ties in name order. */
  readonly deployOrder: number;
  readonly monitoring: {
    readonly alarmEmails: readonly string[];
    readonly thresholds: AlarmThresholds;
    readonly metricNamespaces: MetricNamespaceMode;
  };
}

/** Every alarm threshold of an environment, resolved from its file and the environment-level defaults. */
export interface AlarmThresholds {
  readonly loadBalancer5xxPercent: number;
  readonly target5xxPercent: number;
  readonly latencyP95Ms: number;
  readonly latencyP99Ms: number;
  readonly cpuPercent: number;
  readonly memoryPercent: number;
  readonly diskPercent: number;
  readonly dbCpuPercent: number;
  readonly dbFreeStorageGb: number;
  /** `undefined` when the file gives none and the DB class's memory is unknown (or there is no RDS). */
  readonly dbFreeableMemoryMb: number | undefined;
  /** `undefined` when the file gives none and the DB class's memory is unknown (or there is no RDS). */
  readonly dbConnections: number | undefined;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
}

export interface LoadOptions {
  /** The folder that holds one sub-folder per environment. */
  readonly dir: string;
  /** Only these environments are returned (all are still validated). @default - every folder */
  readonly only?: readonly string[];
}

/**
 * Reads and validates every `<dir>/<name>/config.yaml`, then the rules that span environments.
 * Throws one `ConfigError` listing every problem found; returns only when all are valid.
 */
export function loadEnvironments(options: LoadOptions): EnvironmentConfig[] {
  return loadProjectEnvironments(options).selected;
}

/**
 * As `loadEnvironments`, and every environment of the folder beside the selection: what a
 * selected stack is made from can depend on the others (`buildStacks`' `everyEnvironment`).
 */
export function loadProjectEnvironments(options: LoadOptions): {
  all: EnvironmentConfig[];
  selected: EnvironmentConfig[];
} {
  const label = displayPath(options.dir);
  const folder = fs.statSync(options.dir, { throwIfNoEntry: false });
  if (!folder) {
    throw new ConfigError([
      `${label}: no such folder (ENVIRONMENTS_DIR names the folder of environments, one folder each with ${CONFIG_FILE}; environments/ by default)`,
    ]);
  }
  if (!folder.isDirectory()) {
    throw new ConfigError([`${label}: is a file, not a folder of environments (ENVIRONMENTS_DIR)`]);
  }
  const names = listEnvironmentFolders(options.dir);
  if (names.length === 0) {
    throw new ConfigError([`${label}: no environment folders found (add ${label}/<name>/${CONFIG_FILE})`]);
  }

  const problems: string[] = [];
  const environments: EnvironmentConfig[] = [];
  for (const name of names) {
    const where = `${label}/${name}`;
    const result = loadOne(options.dir, name);
    problems.push(...result.problems.map((p) => `${where}: ${p}`));
    if (result.environment) environments.push(result.environment);
  }
  problems.push(...crossEnvironmentProblems(oldestFirst(environments, options.dir), label, stateBuckets(environments)));
  problems.push(...sameReleaseProblems(environments, names, label));

  const unknown = (options.only ?? []).filter((n) => !names.includes(n));
  if (unknown.length > 0) {
    problems.push(
      `ENVIRONMENTS: ${unknown.map((n) => `"${n}"`).join(", ")} not found in ${label} (available: ${names.join(", ")})`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    all: environments,
    selected: options.only ? environments.filter((e) => options.only!.includes(e.name)) : environments,
  };
}

/** Parses the `ENVIRONMENTS` variable (`dev,prod`); undefined or empty selects every environment. */
export function parseSelection(value: string | undefined): string[] | undefined {
  const names = (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  // Unset or empty: every environment. Set to commas alone, it names none: a mistake (a list
  // built from nothing) that must not synthesize every environment in its place.
  if (names.length === 0 && (value ?? "").trim() !== "") {
    throw new ConfigError([
      `ENVIRONMENTS=${JSON.stringify(value)} names no environment: list folder names separated by commas (ENVIRONMENTS=dev,prod), or unset it for every environment`,
    ]);
  }
  return names.length > 0 ? names : undefined;
}

/**
 * The environment folders in `dir`, sorted: its folders, and its links to folders (a folder shared
 * from elsewhere); hidden ones (`.name`) are not environments. Every script that names environments
 * reads them here, so that each knows the same ones.
 */
export function listEnvironmentFolders(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const isFolder = (entry: fs.Dirent) =>
    entry.isDirectory() ||
    (entry.isSymbolicLink() &&
      fs.statSync(path.join(dir, entry.name), { throwIfNoEntry: false })?.isDirectory() === true);
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((entry) => !entry.name.startsWith(".") && isFolder(entry))
    .map((entry) => entry.name)
    .sort();
}

function loadOne(dir: string, name: string): ParsedEnvironment {
  const read = readConfigFile(path.join(dir, name, CONFIG_FILE));
  if ("problems" in read) return { problems: [...nameProblems(name), ...read.problems] };
  return parseEnvironment(name, read.raw, read.sourceText);
}

/** A folder's config.yaml as a mapping of fields, with its scalars as written; or why it is not one. */
function readConfigFile(
  file: string,
): { readonly problems: readonly string[] } | { readonly raw: object; readonly sourceText: SourceText } {
  let text: string;
  try {
    const stat = fs.statSync(file, { throwIfNoEntry: false });
    if (!stat) return { problems: [`${CONFIG_FILE} is missing${misnamedConfigFile(path.dirname(file))}`] };
    if (!stat.isFile()) return { problems: [`${CONFIG_FILE} is not a file`] };
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    // unreadable (EACCES), a link to itself (ELOOP), a folder that cannot be searched: one problem
    // of the folder's, beside the others', not a stack trace
    const { code, message } = error as NodeJS.ErrnoException;
    if (!code) throw error;
    const reason = message.replace(/^[A-Z]+: /, "").split(",")[0];
    return { problems: [`${CONFIG_FILE} cannot be read: ${reason} (${code}); make it a file this user can read`] };
  }
  // merge keys (`<<: *base`) too: a common way to share settings between parts of one file
  const document = readDocument(text, { merge: true });
  if (document.errors.length > 0) {
    // The first syntax error alone: the parser's later ones mostly follow from it (one tab gives
    // three). Duplicated keys are each a mistake of their own.
    const syntax = document.errors.filter((e) => e.code !== "DUPLICATE_KEY");
    return {
      problems: (syntax.length > 0 ? syntax.slice(0, 1) : document.errors).map(
        (e) => `${CONFIG_FILE} is not valid YAML: ${yamlProblem(e, text)}`,
      ),
    };
  }
  let raw: unknown;
  try {
    raw = document.toJS(); // resolves aliases: one never defined (*nope), or too many, fails here
  } catch (error) {
    return { problems: [`${CONFIG_FILE} is not valid YAML: ${(error as Error).message}`] };
  }
  // Said once, not as every required field missing.
  if (raw === null || raw === undefined) {
    return { problems: [`${CONFIG_FILE} is empty (nothing but comments, if anything)`] };
  }
  if (typeof raw !== "object" || Array.isArray(raw)) {
    const got = Array.isArray(raw) ? "a list" : `${typeof raw} ${JSON.stringify(raw)}`;
    return { problems: [`${CONFIG_FILE} must be a mapping of fields (project: ..., region: ...) (got ${got})`] };
  }
  return {
    raw,
    sourceText: (p) => {
      const node = document.getIn(p as PropertyKey[], true);
      return isScalar(node) && typeof node.source === "string" ? node.source : undefined;
    },
  };
}

/** For a folder without config.yaml: the file it has under a name like it, to rename (or ""). */
function misnamedConfigFile(folder: string): string {
  let names: string[];
  try {
    names = fs.readdirSync(folder);
  } catch {
    return "";
  }
  const alike = names.find((n) => n !== CONFIG_FILE && /^config\.ya?ml$/i.test(n));
  return alike ? ` (there is ${alike}: rename it to ${CONFIG_FILE})` : "";
}

/**
 * A YAML parser error in one line: its reason (without the parser's " at line L, column C:" and the
 * excerpt after it), then where, and the line as written: `map keys must be unique (line 25,
 * column 1: "app:")`.
 */
function yamlProblem(error: YAMLError, text: string): string {
  const reason = error.message
    .split("\n")[0]
    .replace(/ at line \d+, column \d+:?$/, "")
    .replace(/:$/, "");
  // the parser's advice (parseAllDocuments) is for a program, not for the file's author
  const sentence = /^Source contains multiple documents/.test(reason)
    ? "it holds more than one YAML document (a --- line after the first setting): an environment is one document; remove the --- line, or move what follows it into the file above it"
    : reason.charAt(0).toLowerCase() + reason.slice(1);
  const at = error.linePos?.[0];
  if (!at) return sentence;
  const written = text.split(/\r?\n/)[at.line - 1]?.trim();
  return `${sentence} (line ${at.line}, column ${at.col}${written ? `: ${JSON.stringify(written)}` : ""})`;
}

export interface ParsedEnvironment {
  /** Each problem as `<field.path> <rule> (got <value>)`, without the folder prefix. */
  readonly problems: string[];
  /** Present only when there are no problems. */
  readonly environment?: EnvironmentConfig;
}

/**
 * Validates one environment's parsed file content and resolves its defaults. `sourceText` gives a
 * value as the file spells it, for messages (`1.0` where YAML read the number 1).
 */
export function parseEnvironment(name: string, raw: unknown, sourceText?: SourceText): ParsedEnvironment {
  const problems = nameProblems(name);
  const parsed = environmentSchema.safeParse(raw ?? {}, { reportInput: true });
  if (!parsed.success) {
    problems.push(
      ...withoutTypoRequired(
        parsed.error.issues.flatMap((issue) =>
          describeIssue(
            issue,
            (p) => allowedKeysAt(environmentSchema, raw, p),
            sourceText,
            (p, text) => textProblemAt(environmentSchema, raw, p, text),
          ),
        ),
      ),
    );
  }
  problems.push(...availabilityZoneProblems(raw));
  if (parsed.success) problems.push(...inapplicableSettingProblems(parsed.data.layout, raw));
  if (!parsed.success || problems.length > 0) return { problems };
  const environment = resolve(name, parsed.data);
  problems.push(...ruleProblems(environment), ...placeholderProblems(environment));
  return problems.length > 0 ? { problems } : { problems, environment };
}

/** The RDS settings of `database`: the single server runs its database itself. */
const RDS_ONLY_DATABASE_FIELDS = ["instanceClass", "multiAz", "allocatedStorageGb", "maxAllocatedStorageGb"] as const;
/**
 * The thresholds of the load balancer's own alarms (its own 5xx): without one, the app server's
 * 5xx and response times are read from nginx's access log, against `target5xxPercent` and the
 * latency thresholds.
 */
const LOAD_BALANCER_THRESHOLDS = ["loadBalancer5xxPercent"] as const;
/** The thresholds of the RDS instance's alarms. */
const RDS_THRESHOLDS = ["dbCpuPercent", "dbFreeStorageGb", "dbFreeableMemoryMb", "dbConnections"] as const;

/**
 * Settings the file gives that its layout has no use for: an operator who asked for HTTPS or a
 * Multi-AZ standby on a layout without a load balancer or RDS would otherwise get neither, and not
 * be told (as `app.count` beyond 1 is refused on a layout of one app server).
 */
function inapplicableSettingProblems(layout: EnvironmentFile["layout"], raw: unknown): string[] {
  const file = raw as
    | {
        loadBalancer?: unknown;
        network?: { natGateways?: unknown };
        database?: Record<string, unknown>;
        app?: { osRelease?: unknown; targetCpuPercent?: unknown };
        monitoring?: { thresholds?: Record<string, unknown> };
      }
    | undefined;
  const problems: string[] = [];
  if (layout !== "load-balanced" && file?.loadBalancer !== undefined) {
    problems.push(
      `loadBalancer does not apply to layout ${layout}, which has no load balancer (nginx on the app server answers clients itself): remove it, or use layout load-balanced`,
    );
  }
  const nat = file?.network?.natGateways;
  if (layout !== "load-balanced" && (nat === "single" || nat === "per-az")) {
    problems.push(
      `network.natGateways does not apply to layout ${layout}, whose app server is in a public subnet and whose database needs no egress: a NAT gateway there is idle, and billed (none is the default here): remove it, or use layout load-balanced (got "${nat}")`,
    );
  }
  if (layout !== "load-balanced" && file?.app?.targetCpuPercent !== undefined) {
    problems.push(
      `app.targetCpuPercent does not apply to layout ${layout}, which runs one app server and no Auto Scaling group to scale on CPU: remove it, or use layout load-balanced`,
    );
  }
  const thresholds = file?.monitoring?.thresholds;
  if (layout !== "load-balanced") {
    for (const field of LOAD_BALANCER_THRESHOLDS) {
      if (thresholds?.[field] !== undefined) {
        problems.push(
          `monitoring.thresholds.${field} does not apply to layout ${layout}, which has no load balancer whose 5xx that alarm counts (the app's 5xx are counted from nginx's access log, against target5xxPercent): remove it, or use layout load-balanced`,
        );
      }
    }
  }
  if (layout === "single-server") {
    for (const field of RDS_THRESHOLDS) {
      if (thresholds?.[field] !== undefined) {
        problems.push(
          `monitoring.thresholds.${field} does not apply to layout single-server, whose database runs on the app server, not in RDS, so no RDS alarm reads it (the server's own alarms do: cpuPercent, memoryPercent, diskPercent): remove it, or use layout app-db-split or load-balanced`,
        );
      }
    }
  }
  if (layout === "load-balanced" && file?.app?.osRelease !== undefined) {
    problems.push(
      "app.osRelease does not apply to layout load-balanced, whose servers are replaced, not updated in place: each launches the AMI (the newest Amazon Linux 2023 with amiUpdates: latest, or the one pinned until npm run bump-ami): remove it",
    );
  }
  if (layout === "single-server") {
    for (const field of RDS_ONLY_DATABASE_FIELDS) {
      if (file?.database?.[field] !== undefined) {
        problems.push(
          `database.${field} does not apply to layout single-server, whose database runs on the app server, not in RDS: remove it, or use layout app-db-split or load-balanced`,
        );
      }
    }
  }
  return problems;
}

/**
 * A misspelled required field is one mistake: its "did you mean" line names the fix, so the
 * "is required" line of the field it meant goes (`regoin:` says only "regoin is not a known field:
 * did you mean region?", not also "region is required").
 */
function withoutTypoRequired(problems: readonly string[]): string[] {
  const meant = new Set<string>();
  for (const problem of problems) {
    const typo = /^((?:[^\s.]+\.)*)[^\s.]+ is not a known field: did you mean ([^\s?]+)\?/.exec(problem);
    if (typo) meant.add(`${typo[1]}${typo[2]}`);
  }
  // and one line once: zod may report a value twice (a number too large for an integer check and a range)
  return [...new Set(problems)].filter((problem) => !meant.has(/^(\S+) is required\b/.exec(problem)?.[1] ?? ""));
}

function nameProblems(name: string): string[] {
  if (!SHORT_NAME.test(name)) {
    return [`folder name ${SHORT_NAME_RULE} (it becomes the stack name and prefixes resource names) (got "${name}")`];
  }
  // the state bucket's stack is named state-<bucket>: a folder so named would collide with it
  if (name.startsWith(STATE_STACK_PREFIX)) {
    return [
      `folder name must not begin with "${STATE_STACK_PREFIX}", the prefix of the state bucket stacks (${STATE_STACK_PREFIX}<bucket>) (got "${name}")`,
    ];
  }
  return name.includes("--")
    ? [`folder name must not hold "--": an RDS identifier may not (<project>-<env>-db) (got "${name}")`]
    : [];
}

/**
 * AZs must belong to the region and appear once. Checked on the raw input, beside the schema, so
 * that these are reported together with every other problem of the file, not after they are fixed.
 */
function availabilityZoneProblems(raw: unknown): string[] {
  const env = raw as { region?: unknown; network?: { availabilityZones?: unknown } } | undefined;
  const azs = env?.network?.availabilityZones;
  if (typeof env?.region !== "string" || !Array.isArray(azs)) return [];
  const allowed = availabilityZonesOf(env.region);
  if (allowed.length === 0) return []; // unknown region: reported by the schema
  const seen = new Set<unknown>();
  return azs.flatMap((az: unknown, i) => {
    const field = `network.availabilityZones[${i}]`;
    const problem = !allowed.includes(az as string)
      ? [`${field} ${shown(az)} is not in region ${env.region} (allowed: ${allowed.join(", ")})`]
      : seen.has(az)
        ? [`${field} ${shown(az)} is listed twice; each AZ must appear once`]
        : [];
    seen.add(az);
    return problem;
  });
}

/** Fills the defaults that depend on the folder name or on `production`. */
function resolve(name: string, file: EnvironmentFile): EnvironmentConfig {
  const defaults = file.production ? PRODUCTION_DEFAULTS : NON_PRODUCTION_DEFAULTS;
  const s = file.state;
  const state: StateConfig =
    s.backend === "local"
      ? { backend: "local", path: `state/${name}.tfstate` }
      : s.backend === "s3"
        ? {
            backend: "s3",
            bucket: s.bucket,
            key: s.key ?? `${file.project}/${name}/terraform.tfstate`,
            region: s.region ?? file.region,
          }
        : {
            backend: "cloud",
            organization: s.organization,
            workspace: s.workspace ?? `${file.project}-${name}`,
            hostname: s.hostname ?? HCP_TERRAFORM_HOST,
          };
  return {
    ...file,
    name,
    deployOrder: file.deployOrder ?? defaults.deployOrder,
    network: {
      ...file.network,
      // only a load-balanced layout has private app servers that need egress
      natGateways: file.network.natGateways ?? (file.layout === "load-balanced" ? "single" : "none"),
    },
    state,
    app: {
      ...file.app,
      detailedMonitoring: file.app.detailedMonitoring ?? defaults.detailedMonitoring,
      architecture: architectureOf(file.app.instanceType),
      // One per vCPU, and never fewer than MIN_DEFAULT_PROCESSES by default: with one process,
      // every deploy or crash leaves the server with nothing behind nginx, and with two a late
      // crash of a new release does. (The schema accepts only instance types whose vCPUs are known.)
      processes: file.app.processes ?? defaultProcesses(file.app.instanceType),
      processesSet: file.app.processes !== undefined,
      logRetentionDays: file.app.logRetentionDays ?? defaults.logRetentionDays,
      amiUpdates: file.app.amiUpdates ?? defaults.amiUpdates,
    },
    database: {
      ...file.database,
      name: file.database.name ?? DEFAULT_DATABASE_NAME,
      // RDS's master user keeps the name it always had (renaming it replaces the instance).
      username: file.database.username ?? (file.layout === "single-server" ? "app" : "app_admin"),
      multiAz: file.database.multiAz ?? defaults.multiAz,
      deletionProtection: file.database.deletionProtection ?? defaults.deletionProtection,
      backupRetentionDays: file.database.backupRetentionDays ?? defaults.backupRetentionDays,
      // four times the allocation, within RDS's largest gp3 volume (64 TiB)
      maxAllocatedStorageGb:
        file.database.maxAllocatedStorageGb ?? Math.min(4 * file.database.allocatedStorageGb, MAX_STORAGE_GB),
    },
    loadBalancer: {
      ...file.loadBalancer,
      deletionProtection: file.loadBalancer.deletionProtection ?? defaults.deletionProtection,
    },
    monitoring: {
      alarmEmails: file.monitoring.alarmEmails,
      thresholds: resolveThresholds(file, defaults.alarms),
      metricNamespaces: file.monitoring.metricNamespaces,
    },
  };
}

/**
 * Alarm thresholds: the file's value, else the environment-level default. Database floors and
 * ceilings default to a share of what the environment has: its allocated storage, and the memory
 * (and so the default `max_connections`) of its DB instance class.
 */
function resolveThresholds(file: EnvironmentFile, defaults: AlarmDefaults): AlarmThresholds {
  const t = file.monitoring.thresholds;
  const share = (value: number, percent: number) => Math.max(1, Math.floor((value * percent) / 100));
  const memoryGib = file.database.instanceClass ? dbInstanceMemoryGib(file.database.instanceClass) : undefined;
  const connections = classMaxConnections(file.database.engine, file.database.instanceClass);
  const direct = Object.fromEntries(DIRECT_THRESHOLDS.map((key) => [key, t[key] ?? defaults[key]])) as Omit<
    AlarmThresholds,
    DerivedThreshold
  >;
  return {
    ...direct,
    // to a tenth of a GiB: on a small disk whole GiB would make production's floor the same as the rest's
    dbFreeStorageGb:
      t.dbFreeStorageGb ?? share(file.database.allocatedStorageGb * 10, defaults.dbFreeStoragePercent) / 10,
    dbFreeableMemoryMb:
      t.dbFreeableMemoryMb ??
      (memoryGib === undefined ? undefined : share(memoryGib * 1024, defaults.dbFreeableMemoryPercent)),
    dbConnections:
      t.dbConnections ?? (connections === undefined ? undefined : share(connections, defaults.dbConnectionsPercent)),
  };
}

/** The thresholds taken as they are from the file or the defaults. */
const DIRECT_THRESHOLDS = [
  "loadBalancer5xxPercent",
  "target5xxPercent",
  "latencyP95Ms",
  "latencyP99Ms",
  "cpuPercent",
  "memoryPercent",
  "diskPercent",
  "dbCpuPercent",
  "evaluationPeriods",
  "datapointsToAlarm",
] as const satisfies ReadonlyArray<Exclude<keyof AlarmThresholds, DerivedThreshold>>;

/** The thresholds that scale with the environment's database, defaulted as a share of it instead. */
type DerivedThreshold = "dbFreeStorageGb" | "dbFreeableMemoryMb" | "dbConnections";

/** Alarm thresholds before the file's own; database ones as a share of what the environment has. */
interface AlarmDefaults extends Omit<AlarmThresholds, DerivedThreshold> {
  /** Of `database.allocatedStorageGb` (RDS storage autoscaling steps in at 10% free). */
  readonly dbFreeStoragePercent: number;
  /** Of the DB instance class's memory. */
  readonly dbFreeableMemoryPercent: number;
  /** Of the engine's default `max_connections` for the class. */
  readonly dbConnectionsPercent: number;
}

/** The app's database unless the file names another. */
export const DEFAULT_DATABASE_NAME = "app";

export { defaultProcesses, MIN_DEFAULT_PROCESSES } from "./schema";

/** What production gets unless its file says otherwise; the rules in `rules.ts` hold it there. */
export const PRODUCTION_DEFAULTS = {
  /** After every environment that does not say otherwise. */
  deployOrder: 90,
  multiAz: true,
  deletionProtection: true,
  backupRetentionDays: 14,
  detailedMonitoring: true,
  logRetentionDays: 365 as LogRetentionDays,
  /** A new Amazon Linux release rolls production only when someone bumps it. */
  amiUpdates: "pinned" as const,
  /** Tighter thresholds, a higher free-storage floor, and a shorter look-back: page early. */
  alarms: {
    loadBalancer5xxPercent: 1,
    target5xxPercent: 1,
    latencyP95Ms: 500,
    latencyP99Ms: 1500,
    cpuPercent: 80,
    memoryPercent: 85,
    diskPercent: 80,
    dbCpuPercent: 75,
    // below RDS storage autoscaling's trigger (10% free for 5 minutes): the alarm pages only when
    // autoscaling has not grown the disk (at its ceiling, within 6 h of its last change, outpaced)
    dbFreeStoragePercent: 8,
    dbFreeableMemoryPercent: 10,
    dbConnectionsPercent: 80,
    evaluationPeriods: 3,
    datapointsToAlarm: 2,
  } satisfies AlarmDefaults,
};
/** What every other environment gets: cheaper, and easy to tear down. */
export const NON_PRODUCTION_DEFAULTS = {
  deployOrder: 10,
  multiAz: false,
  deletionProtection: false,
  backupRetentionDays: 3,
  detailedMonitoring: false,
  logRetentionDays: 30 as LogRetentionDays,
  amiUpdates: "latest" as const,
  /** Looser thresholds and a longer look-back: tell someone only when it stays wrong. */
  alarms: {
    loadBalancer5xxPercent: 5,
    target5xxPercent: 5,
    latencyP95Ms: 1000,
    latencyP99Ms: 3000,
    cpuPercent: 90,
    memoryPercent: 90,
    diskPercent: 90,
    dbCpuPercent: 90,
    dbFreeStoragePercent: 5,
    dbFreeableMemoryPercent: 5,
    dbConnectionsPercent: 90,
    evaluationPeriods: 5,
    datapointsToAlarm: 4,
  } satisfies AlarmDefaults,
};

/**
 * The first 10.N.0.0/16 that no environment's VPC overlaps, nor a block already suggested to
 * another folder (`taken`), for the overlap message.
 */
function freeVpcBlock(environments: readonly EnvironmentConfig[], taken: readonly string[] = []): string | undefined {
  for (let n = 0; n < 256; n++) {
    const block = `10.${n}.0.0/16`;
    if (environments.every((env) => !cidrsOverlap(block, env.network.cidr)) && !taken.includes(block)) return block;
  }
  return undefined;
}

/**
 * `environments` by the time their config.yaml last changed, oldest first (then by name). The
 * checks between environments report a clash on the later of the two: so on the folder just
 * copied or edited (`cp -r environments/staging environments/qa` is newer than staging, whatever
 * their names), not on the one that runs.
 */
function oldestFirst(environments: EnvironmentConfig[], dir: string): EnvironmentConfig[] {
  const changed = new Map(
    environments.map((env) => [env.name, fs.statSync(path.join(dir, env.name, CONFIG_FILE)).mtimeMs]),
  );
  return [...environments].sort((a, b) => changed.get(a.name)! - changed.get(b.name)!); // stable: ties keep name order
}

/**
 * Rules that span environments: no two share state, a domain name or (across projects) a name
 * prefix, VPC blocks do not overlap, and the environments using an S3 state bucket agree on its
 * region and account. `buckets`: each bucket's region and account as its stack is made
 * (stateBuckets, in folder order), which every environment using it is held to.
 */
function crossEnvironmentProblems(
  environments: EnvironmentConfig[],
  label: string,
  buckets: ReadonlyMap<string, StateBucket>,
): string[] {
  const problems: string[] = [];
  const owners = new Map<string, string>();
  for (const env of environments) {
    const where = `${label}/${env.name}`;
    const s = env.state;
    const identity =
      s.backend === "s3"
        ? `s3://${s.bucket}/${s.key}`
        : s.backend === "cloud"
          ? `${s.hostname}/${s.organization}/${s.workspace}`
          : undefined;
    if (identity) {
      // Organization and workspace names compared without regard to case (whether HCP Terraform
      // tells ACME/web from acme/web is not verified here): refused rather than risked as one state
      const key = s.backend === "cloud" ? identity.toLowerCase() : identity;
      const owner = owners.get(key);
      if (owner) {
        const field = s.backend === "s3" ? "state.key" : "state.workspace";
        problems.push(
          `${where}: ${field} must be unique per environment: ${identity} is already used by ${label}/${owner}; ` +
            `change it in the one that is not deployed yet (without ${field}, each environment gets its own)`,
        );
      }
      owners.set(key, env.name);
    }
    if (s.backend === "s3") {
      const bucket = buckets.get(s.bucket)!;
      if (bucket.region !== s.region) {
        problems.push(
          `${where}: state.region must match the bucket's region ${bucket.region} (set by ${label}/${bucket.regionFrom}) (got "${s.region}")`,
        );
      }
      // The bucket's stack is made in the account an environment using it declares, and grants no other account.
      if (bucket.accountId && env.accountId && bucket.accountId !== env.accountId) {
        problems.push(
          `${where}: state.bucket ${s.bucket} is in account ${bucket.accountId} (${label}/${bucket.accountFrom}'s), and this project's state bucket grants no other account: give account ${env.accountId} a bucket of its own (got "${s.bucket}")`,
        );
      }
    }
  }
  // A domain name is one DNS record: two environments would take it from each other.
  const domains = new Map<string, string>();
  for (const env of environments) {
    const name = env.domain?.name;
    if (!name) continue;
    const owner = domains.get(name);
    if (owner) {
      problems.push(
        `${label}/${env.name}: domain.name must be unique per environment: ${name} is already ${label}/${owner}'s ` +
          `(its address record, and its certificate's validation record, which destroying either would delete)`,
      );
    } else domains.set(name, env.name);
  }
  // Names are `<project>-<env>-...`: across projects, `shop` + `b-qa` and `shop-b` + `qa` make the
  // same names, and `shop` + `bb` makes names (and IAM patterns, shop-bb-*) that cover those of
  // `shop-bb` + `qa`. Within a project the folder names are unique, and a neighbour's names are
  // excluded from the patterns (naming.ts, neighboursOf); across projects neither holds.
  environments.forEach((env, i) => {
    for (const other of environments.slice(0, i)) {
      if (other.project === env.project) continue;
      const [mine, theirs] = [`${env.project}-${env.name}`, `${other.project}-${other.name}`];
      const clash =
        mine === theirs
          ? `which ${label}/${other.name} (project "${other.project}") makes too: the two would take each other's names (load balancer, database, roles, buckets)`
          : theirs.startsWith(`${mine}-`) || mine.startsWith(`${theirs}-`)
            ? `and ${label}/${other.name} (project "${other.project}") makes ${theirs}-*: the names of the one begin with the other's, so the patterns that scope a deploy role and a policy (${mine.length < theirs.length ? mine : theirs}-*) would reach the other's resources`
            : undefined;
      if (clash) {
        problems.push(
          `${label}/${env.name}: project "${env.project}" with this folder name makes the names ${mine}-*, ${clash}; ` +
            `change the project or the folder name of the one that is not deployed yet`,
        );
      }
    }
  });
  // Within a project, `prod-eu` beside `prod` is a neighbour whose names prod's patterns exclude
  // (naming.ts, neighboursOf); `prod-db` would be excluded with prod's own `shop-prod-db-*`.
  for (const other of environments) {
    for (const name of neighboursOf(other, environments)) {
      const word = name.slice(other.name.length + 1).split("-")[0];
      if (!isNameWord(word)) continue;
      const own = `${other.project}-${other.name}-${word}`;
      problems.push(
        `${label}/${name}: the folder name must not be another environment's and a word that begins that ` +
          `environment's own names: "${word}" begins ${label}/${other.name}'s (${own}-...), so the two environments' names ` +
          `would mix: the exclusions that keep ${other.name}'s alarms and deploy role off this environment's names would ` +
          `take ${other.name}'s own out where a name pattern reaches them, this environment's deploy role would reach ` +
          `them, and Name tags would not tell the two apart; name it otherwise (${other.name}-2, ${other.name}-eu; not ` +
          `${other.name}-<${NAME_WORDS.slice(0, 4).join("|")}|...>)`,
      );
    }
  }
  const suggested: string[] = [];
  environments.forEach((env, i) => {
    for (const other of environments.slice(0, i)) {
      if (cidrsOverlap(env.network.cidr, other.network.cidr)) {
        // each folder told to move gets a block of its own: three copies told the same block would clash again
        const free = freeVpcBlock(environments, suggested);
        if (free) suggested.push(free);
        problems.push(
          `${label}/${env.name}: network.cidr must not overlap another environment's VPC, so they can be peered later: ` +
            `${env.network.cidr} overlaps ${other.network.cidr} of ${label}/${other.name}; change it in the one that ` +
            `is not deployed yet (a new block replaces its VPC)${free ? `, to a free block such as ${free}` : ""}`,
        );
      }
    }
  });
  return problems;
}

/**
 * `app.sameReleaseAs`: an environment that runs only the release another one runs, deployed after
 * it in the chain (dr-osaka after prod), so that a new release reaches it only through that
 * environment's deploy, and its approval, first (deploy.yml deploys the chain in order and stops
 * at a failed leg). Its version must be the other's: a commit that changed it alone would deploy a
 * release the other never ran, approved by no one (review CU). `names`: every folder, so that one
 * whose own file has problems (reported with them) is not also called missing.
 */
function sameReleaseProblems(
  environments: readonly EnvironmentConfig[],
  names: readonly string[],
  label: string,
): string[] {
  const problems: string[] = [];
  for (const env of environments) {
    const leader = env.app.sameReleaseAs;
    if (leader === undefined) continue;
    const where = `${label}/${env.name}`;
    const other = leader === env.name ? undefined : environments.find((e) => e.name === leader);
    if (!other) {
      if (leader === env.name || !names.includes(leader)) {
        const others = names.filter((name) => name !== env.name);
        const which = others.length > 0 ? `one of: ${others.join(", ")}` : "there is none: remove it";
        problems.push(
          `${where}: app.sameReleaseAs must name another environment folder of ${label} (${which}) (got "${leader}")`,
        );
      }
      continue;
    }
    // strictly lower: a tie would put them in name order, which a rename could turn round
    if (other.deployOrder >= env.deployOrder) {
      problems.push(
        `${where}: deployOrder must be above ${leader}'s ${other.deployOrder}, as app.sameReleaseAs: ${leader} says: ` +
          `a new release must reach ${env.name} only after ${leader}'s deploy in the chain (got ${env.deployOrder})`,
      );
    }
    if (other.app.version !== env.app.version) {
      problems.push(
        `${where}: app.version must be ${leader}'s, "${other.app.version}", as app.sameReleaseAs: ${leader} says, ` +
          `so that it runs only a release ${leader} runs: change both in one commit (the chain deploys ${leader} first) ` +
          `(got "${env.app.version}")`,
      );
    }
  }
  return problems;
}

/** The field names the schema accepts for the object at `path` (for "did you mean" messages). */
function allowedKeysAt(schema: z.ZodType, raw: unknown, path: readonly PropertyKey[]): string[] {
  const def = (
    schemaAt(schema, raw, path) as unknown as { _zod?: { def: { type: string; shape?: object } } } | undefined
  )?._zod?.def;
  return def?.type === "object" && def.shape ? Object.keys(def.shape) : [];
}

/**
 * What the field at `path` says of `text`, or undefined when it takes it: `cidr: 10`, quoted, is
 * still no CIDR block, so its message is the field's rule, not how to quote it.
 */
function textProblemAt(
  schema: z.ZodType,
  raw: unknown,
  path: readonly PropertyKey[],
  text: string,
): string | undefined {
  const checked = schemaAt(schema, raw, path)?.safeParse(text);
  return checked && !checked.success ? checked.error.issues[0]?.message : undefined;
}

/** The schema of the field at `path` of `raw` (through defaults, optionals and tagged unions). */
function schemaAt(schema: z.ZodType, raw: unknown, path: readonly PropertyKey[]): z.ZodType | undefined {
  let node: z.ZodType | undefined = schema;
  let value: unknown = raw;
  for (let i = 0; i <= path.length && node;) {
    const def: Record<string, unknown> = (node as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
    if (def.innerType) {
      node = def.innerType as z.ZodType; // default, optional
    } else if (def.type === "union" && def.discriminator) {
      const tag = (value as Record<string, unknown> | undefined)?.[def.discriminator as string];
      node = (def.options as z.ZodType[]).find(
        (o) =>
          (o as unknown as { shape: Record<string, { value?: unknown }> }).shape[def.discriminator as string]?.value ===
          tag,
      );
    } else if (i === path.length) {
      break;
    } else if (def.type === "object") {
      node = (def.shape as Record<string, z.ZodType>)[String(path[i])];
      value = (value as Record<string, unknown> | undefined)?.[String(path[i])];
      i++;
    } else {
      return undefined;
    }
  }
  return node;
}

/**
 * How messages name a folder: relative to the working directory where it is inside it, else its
 * absolute path (`/tmp/envs`, not `../../tmp/envs`); `/`-separated.
 */
export function displayPath(dir: string): string {
  const relative = path.relative(process.cwd(), dir) || ".";
  const outside = relative === ".." || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative);
  return (outside ? path.resolve(dir) : relative).split(path.sep).join("/");
}
