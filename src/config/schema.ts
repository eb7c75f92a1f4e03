import * as z from "zod";
import { vpcCidrProblem } from "../cidr";
import { sizesOf, vcpusOf } from "./instance-types";
import { REGIONS, availabilityZonesOf } from "./regions";
import { FIRST_APP_PORT, VERSION_PATTERN } from "../userdata/app-host";
import { METRIC_NAMESPACE_MODES } from "../userdata/metric-namespaces";

/**
 * The schema of `environments/<name>/config.yaml`: the single source of the `EnvironmentFile`
 * type, of its validation and (through `npm run schema`) of `environments/schema.json`, which
 * editors use to complete and check the files. Field docs are `.describe()`d so editors show them.
 *
 * Environment-level choices (what dev gets versus prod) are defaulted here and nowhere else.
 * Each rule's message says what is allowed; the loader prefixes the folder and the field path.
 */

// zod compiles an object schema's checks into a function (`new Function`) on its first parse, to
// speed up the parses after it; a synth parses each environment file once, and the compiling took
// about a fifth of loading the four shipped environments (4 ms of 22). The same checks, uncompiled.
z.config({ jitless: true });

/** CloudWatch Logs accepts only these retention periods. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

export type LogRetentionDays = (typeof LOG_RETENTION_DAYS)[number];

/** Tag keys the project sets on every resource itself, through the provider's default tags. */
export const RESERVED_TAG_KEYS = ["Project", "Environment", "ManagedBy"] as const;

/** Tag keys the project sets on some resources of its own (`Name` on most, `Tier` on subnets). */
export const RESOURCE_TAG_KEYS = ["Name", "Tier"] as const;

/**
 * How many tags of its own an environment may add: every one reaches every resource, which AWS
 * lets carry 50 (refusing a 51st only at apply, part-way), and a subnet carries the 3 reserved
 * keys, its `Name` and its `Tier` too. (The release's S3 object, which takes 10, carries the
 * project's own only: src/stacks/aws-provider.ts, addObjectProvider.)
 */
export const MAX_ENVIRONMENT_TAGS = 50 - RESERVED_TAG_KEYS.length - RESOURCE_TAG_KEYS.length;

/** `key`, lowercased: IAM and S3 compare tag keys so, and refuse two that differ only in case. */
const tagKeyCase = (key: string) => key.toLowerCase();

/**
 * Project and environment names prefix physical names; kept short so that `<project>-<env>-<tier>`
 * fits the tightest AWS limit it meets (ALB and target group names: 32 characters).
 */
export const SHORT_NAME = /^[a-z][a-z0-9-]{0,10}[a-z0-9]$/;
export const SHORT_NAME_RULE =
  "must be 2 to 12 lowercase letters, digits or hyphens, starting with a letter and ending with a letter or digit";

/**
 * Why AWS would refuse a name that starts with this project name, or undefined: every physical
 * name starts with it, and some names may not start with certain words. Checked here, where the
 * apply would fail only once it reached that resource.
 */
export function projectNameProblem(project: string): string | undefined {
  if (`${project}-`.startsWith("internal-")) {
    return 'must not be "internal" or begin with "internal-": a load balancer\'s name may not (<project>-<env>-alb)';
  }
  const reserved = ["aws", "amazon", "amzn"].find((word) => project.startsWith(word));
  if (reserved) return `must not begin with "${reserved}": an SSM document's name may not (<project>-<env>-deploy)`;
  if (`${project}-`.startsWith("sg-")) {
    return 'must not be "sg" or begin with "sg-": a security group\'s name may not (<project>-<env>-app-)';
  }
  if (project.startsWith("ssm"))
    return 'must not begin with "ssm": an SSM parameter\'s name may not (/<project>/<env>/...)';
  const bucket = ["xn--", "sthree"].find((word) => project.startsWith(word));
  if (bucket) return `must not begin with "${bucket}": an S3 bucket's name may not (<project>-<env>-...)`;
  if (project.includes("--")) return 'must not hold "--": an RDS identifier may not (<project>-<env>-db)';
  return undefined;
}

const intRange = (min: number, max: number) => {
  const rule = `must be an integer from ${min} to ${max}`;
  return z.number({ error: rule }).int(rule).min(min, rule).max(max, rule);
};

const retentionDays = z
  .literal(LOG_RETENTION_DAYS, {
    error: `must be one of CloudWatch's retention periods: ${LOG_RETENTION_DAYS.join(", ")}`,
  })
  .describe("Days CloudWatch Logs keeps the records");

// ---- Network ----

const network = z
  .strictObject({
    cidr: z
      .string()
      .superRefine((cidr, ctx) => {
        const problem = vpcCidrProblem(cidr);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      })
      .describe(
        "The VPC's IPv4 block: a /16 to /22 inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16; fixed once deployed (a new block replaces the VPC under the database, which the plan review blocks)",
      ),
    availabilityZones: z
      .array(z.string().meta({ examples: REGIONS.flatMap(availabilityZonesOf) }))
      .min(2, "must list at least 2 distinct availability zones, so the ALB and the DB can span AZs")
      .describe("Concrete AZ names of the region (at least two); each gets a public, an app and a data subnet"),
    natGateways: z
      .enum(["single", "per-az", "none"])
      .optional()
      .describe(
        "single: one shared NAT gateway (cheaper); per-az: one per AZ (survives an AZ outage); none: no egress from private subnets. Default: single with layout load-balanced, whose app servers are private; none otherwise (the app server is public, and the database needs no egress)",
      ),
    flowLogs: z
      .strictObject({
        enabled: z.boolean().default(true).describe("Record VPC flow logs to CloudWatch Logs"),
        retentionDays: retentionDays.default(90),
      })
      .default({ enabled: true, retentionDays: 90 }),
  })
  .describe("The VPC and its subnets");

// ---- Layout ----

/** The server layouts of the classic path, from one box to a load-balanced fleet. */
export const LAYOUTS = ["single-server", "app-db-split", "load-balanced"] as const;
export type Layout = (typeof LAYOUTS)[number];

// ---- App servers ----

/** EC2 families this project runs app servers on (general purpose, compute, memory; x86 and Graviton). */
export const INSTANCE_FAMILIES = [
  "t3",
  "t3a",
  "t4g",
  "m5",
  "m6i",
  "m6a",
  "m6g",
  "m7i",
  "m7a",
  "m7g",
  "m8g",
  "c5",
  "c6i",
  "c6a",
  "c6g",
  "c7i",
  "c7a",
  "c7g",
  "c8g",
  "r5",
  "r6i",
  "r6a",
  "r6g",
  "r7i",
  "r7a",
  "r7g",
  "r8g",
] as const;
const INSTANCE_SIZES = [
  "nano",
  "micro",
  "small",
  "medium",
  "large",
  "xlarge",
  "2xlarge",
  "4xlarge",
  "8xlarge",
  "12xlarge",
  "16xlarge",
];

const instanceType = z
  .string()
  .superRefine((t, ctx) => {
    const [family, size] = t.split(".");
    if (!INSTANCE_FAMILIES.includes(family as never) || !INSTANCE_SIZES.includes(size ?? "")) {
      ctx.addIssue({
        code: "custom",
        message: `must be <family>.<size> with family one of ${INSTANCE_FAMILIES.join(", ")} and size one of ${INSTANCE_SIZES.join(", ")}`,
      });
    } else if (vcpusOf(t) === undefined) {
      ctx.addIssue({
        code: "custom",
        message: `must be a size ${family} comes in: ${Object.keys(sizesOf(family)).join(", ")}`,
      });
    }
  })
  .describe("EC2 instance type of the app servers, e.g. t3.micro or m7g.large (Graviton families get arm64 AMIs)");

/**
 * An Amazon Linux 2023 release version, as `dnf --releasever` takes it and `rpm -q system-release`
 * shows it: 2023.<minor>.<date>. Never `latest`: AWS's guidance is to update to a release tested
 * before (dev's server first), and an apply that said `latest` would mean another release each time.
 */
export const AL2023_RELEASE_PATTERN = /^2023\.[0-9]{1,3}\.[0-9]{8}$/;

/**
 * At most this many app processes per server: the boot script, nginx's configuration included
 * (an upstream of the other processes for each one), must fit EC2's 16 KB of user data
 * gzip-compressed. A single server with its own PostgreSQL and the longest names is the largest:
 * 15.8 KB with 32 processes, about 16.2 KB with 36 and 16.5 KB with 40 (release.test.ts synthesizes
 * it with the most processes).
 */
export const MAX_APP_PROCESSES = 32;

/**
 * The fewest app processes a server gets by default. With 2, a release that dies just after its
 * settle window, while the deploy moves the other process, leaves nothing of the old release in
 * rotation: the server answered 502 to everything, GETs too, for about a second, twice in one
 * deploy (review BW: 1,000 to 4,900 failed GETs under load). With 3, one process of the old
 * release serves until the deploy sees the death and rolls back: only the requests in flight on
 * the dying process fail, as with any crash.
 */
export const MIN_DEFAULT_PROCESSES = 3;

/** The app processes a server of `instanceType` runs when the file sets none: one per vCPU, at least 3, at most 32. */
export function defaultProcesses(instanceType: string): number {
  return Math.min(MAX_APP_PROCESSES, Math.max(MIN_DEFAULT_PROCESSES, vcpusOf(instanceType) ?? 1));
}

/**
 * MiB one app process is counted at when the file sets no `app.processMemoryMb`: the sample app
 * peaked at 60 MiB resident under a load of GETs and 20-KB POSTs (docs/inside-the-server.md#memory), and a
 * release grows.
 */
export const DEFAULT_PROCESS_MEMORY_MB = 80;
/**
 * The least `app.processMemoryMb` taken: a floor against a figure in the wrong unit, well below any
 * real one (a Node.js process is about 40 MiB resident before it does anything).
 */
export const MIN_PROCESS_MEMORY_MB = 16;

const app = z
  .strictObject({
    instanceType,
    version: z
      .string({ error: "is required: the app release to run, one of releases.yaml's (npm run release), e.g. 1.0.0" })
      .regex(VERSION_PATTERN, "must be a release version: letters, digits and . + _ - (e.g. 1.0.0 or 1.1.0-rc.1)")
      .describe("The app release to run: a version in releases.yaml (npm run release); changing it deploys"),
    sameReleaseAs: z
      .string()
      .regex(SHORT_NAME, `must be an environment's folder name: ${SHORT_NAME_RULE.slice("must be ".length)}`)
      .optional()
      .describe(
        "Another environment, deployed before this one (a lower deployOrder): this one's version must be that one's, so it runs only a release that environment runs, and a new release reaches it only after that environment's deploy and approval in the chain (dr-osaka: prod). Change both versions in one commit",
      ),
    processes: intRange(1, MAX_APP_PROCESSES)
      .optional()
      .describe(
        `App processes per server behind its nginx, on ports ${FIRST_APP_PORT} and up; default one per vCPU of instanceType, at least 3 and at most ${MAX_APP_PROCESSES} (1 means every deploy briefly stops the server; 2, that a release dying just after its settle window can: docs/releases.md)`,
      ),
    processMemoryMb: intRange(MIN_PROCESS_MEMORY_MB, 65536)
      .default(DEFAULT_PROCESS_MEMORY_MB)
      .describe(
        `MiB one app process takes at its peak (its resident memory under load), for the check that the server's memory holds every process, the system and a local database; default ${DEFAULT_PROCESS_MEMORY_MB} (the sample app's 60 and some room): measure your own app's`,
      ),
    logRetentionDays: retentionDays
      .optional()
      .describe("Days CloudWatch keeps the app and nginx logs; default 365 in production, 30 elsewhere"),
    count: z
      .strictObject({
        min: intRange(0, 100),
        desired: intRange(0, 100),
        max: intRange(1, 100),
      })
      .superRefine((c, ctx) => {
        if (c.min > c.max) {
          ctx.addIssue({
            code: "custom",
            path: ["min"],
            message: `must not exceed count.max (${c.max}) (got ${c.min})`,
          });
        }
        if (c.desired < c.min || c.desired > c.max) {
          ctx.addIssue({
            code: "custom",
            path: ["desired"],
            message: `must be from count.min (${c.min}) to count.max (${c.max}) (got ${c.desired})`,
          });
        }
      })
      .default({ min: 1, desired: 1, max: 1 })
      .describe("Auto Scaling bounds (load-balanced); the other layouts run exactly one app server"),
    ami: z
      .string()
      .regex(
        /^(al2023|ami-[0-9a-f]{8,17})$/,
        "must be al2023 (the latest Amazon Linux 2023, from AWS's public SSM parameter) or a pinned AMI id such as ami-0123456789abcdef0",
      )
      .default("al2023")
      .describe("al2023 (latest Amazon Linux 2023 for the instance's architecture) or a pinned ami-... id"),
    amiUpdates: z
      .enum(["pinned", "latest"])
      .optional()
      .describe(
        "With ami al2023. pinned: the AMI resolved at the first apply stays until amiPinnedAt changes (npm run bump-ami -- <env>), so a new Amazon Linux release never rolls the servers with an unrelated change; latest: every apply follows AWS's newest. Default: pinned in production, latest elsewhere",
      ),
    osRelease: z
      .string()
      .regex(
        AL2023_RELEASE_PATTERN,
        "must be an Amazon Linux 2023 release version such as 2023.9.20251117 (the release notes list them; dnf check-release-update on the server names the newest)",
      )
      .optional()
      .describe(
        "single-server and app-db-split: the Amazon Linux 2023 release the server's packages are updated to in place (dnf upgrade --releasever), by the apply that sets it, rebooting when the update needs it; unset, the server keeps its AMI's packages (docs/operations.md#os-updates)",
      ),
    amiPinnedAt: z
      .string()
      .regex(
        /^[0-9A-Za-z:._+-]{1,64}$/,
        "must be a label of letters, digits and :._+- (npm run bump-ami writes a UTC time)",
      )
      .default("first-apply")
      .describe(
        "Changing it (npm run bump-ami -- <env>) moves a pinned AMI to the newest Amazon Linux 2023 at the next apply",
      ),
    port: intRange(1, 65535)
      .default(80)
      .describe(
        "Port nginx listens on: the load balancer's target port, or, without a load balancer, the port the server opens to the internet (plain HTTP)",
      ),
    healthCheckPath: z
      .string()
      .regex(/^\/[A-Za-z0-9._~\/-]*$/, "must be a URL path starting with /")
      .max(1024, "must be at most 1024 characters, the load balancer's limit for a health check path")
      // nginx answers this path itself, from the app's /healthz: a path of the app's own is taken
      // over, and / is the site's home page (review DJ)
      .refine(
        (p) => p !== "/",
        "must not be /, the site's home page: nginx answers this path from the app's /healthz, so it would replace the page; use a path of its own such as /healthz",
      )
      .default("/healthz")
      .describe(
        "Path the load balancer's health check requests; nginx answers it from the app's /healthz, so it must be no page of the app's own (not /)",
      ),
    rootVolumeGb: intRange(8, 16384).default(20).describe("Encrypted gp3 root volume size in GiB"),
    detailedMonitoring: z.boolean().optional().describe("1-minute EC2 metrics; default: on in production"),
    targetCpuPercent: intRange(10, 90)
      .default(60)
      .describe("Average CPU the Auto Scaling group tracks (load-balanced)"),
  })
  .describe("App servers");

// ---- Access ----

/**
 * OpenSSH's one-line public key, `<type> <base64> [comment]`, of a type EC2 imports: RSA or
 * ED25519 (ImportKeyPair refuses ECDSA and DSA keys, at apply time).
 */
const OPENSSH_PUBLIC_KEY = /^(ssh-ed25519|ssh-rsa) [A-Za-z0-9+/]+={0,2}( .*)?$/;

/**
 * The fields of an OpenSSH key blob (base64): length-prefixed strings, the first the key's type,
 * which must be the type written before it. An ED25519 key is its type and 32 bytes; an RSA key
 * its type, exponent and modulus. Undefined when the blob is not whole (cut short, or with bytes
 * over), as a key copied in part is.
 */
function blobFields(base64: string): string[] | undefined {
  const blob = Buffer.from(base64, "base64");
  const fields: string[] = [];
  for (let at = 0; at < blob.length;) {
    if (at + 4 > blob.length) return undefined;
    const length = blob.readUInt32BE(at);
    if (at + 4 + length > blob.length) return undefined;
    fields.push(blob.toString("latin1", at + 4, at + 4 + length));
    at += 4 + length;
  }
  const [type, ...rest] = fields;
  const whole = type === "ssh-ed25519" ? rest.length === 1 && rest[0].length === 32 : rest.length === 2;
  return whole ? fields : undefined;
}

/** Why `key` is not an OpenSSH public key, naming the format it is in when that is a common mistake. */
function publicKeyProblem(key: string): string | undefined {
  const [type, base64] = key.trim().split(/\s+/);
  if (OPENSSH_PUBLIC_KEY.test(key.trim())) {
    const inBlob = blobFields(base64)?.[0];
    if (inBlob === type) return undefined;
    return inBlob === undefined
      ? `must be a whole OpenSSH public key: what follows ${type} is not a key (cut short when it was copied?); copy the whole line of the .pub file (got "${type} ${base64.slice(0, 16)}...", ${base64.length} characters of key)`
      : `must start with the key's own type: the key is ${inBlob}, the line says ${type} (got "${type} ${base64.slice(0, 16)}...")`;
  }
  if (/^(ecdsa-sha2-nistp(256|384|521)|ssh-dss|sk-\S+) [A-Za-z0-9+/]/.test(key.trim())) {
    return (
      `must be an RSA or ED25519 key: EC2 imports no other kind (ssh-keygen -t ed25519 makes one) ` +
      `(got a ${JSON.stringify(type)} key)`
    );
  }
  if (/PRIVATE KEY/.test(key)) {
    return "is a private key: never put one in a config file; give its public half (ssh-keygen -y -f <file>) (got a private key, not shown)";
  }
  if (/^-+ ?BEGIN SSH2 PUBLIC KEY ?-+/.test(key.trim())) {
    return (
      `is in PuTTYgen's SSH2 format: paste the one-line OpenSSH form instead (PuTTYgen's box "Public key for ` +
      `pasting into OpenSSH authorized_keys file", or ssh-keygen -i -f <file>), e.g. ssh-ed25519 AAAA... ` +
      `(got ${JSON.stringify(key.trim().split("\n")[0])})`
    );
  }
  return "must be an OpenSSH public key (ssh-ed25519 AAAA... or ssh-rsa AAAA...); never a private key";
}

const access = z
  .strictObject({
    ssh: z
      .strictObject({
        keyName: z
          .string()
          .regex(/^[\x20-\x7e]{1,255}$/, "must be an EC2 key pair name")
          .optional()
          .describe("An existing EC2 key pair"),
        publicKey: z
          .string()
          // (a key written as a YAML block scalar, `publicKey: |`, ends in a newline)
          .trim()
          .superRefine((key, ctx) => {
            const problem = publicKeyProblem(key);
            if (problem) ctx.addIssue({ code: "custom", message: problem });
          })
          // for editors, which see the key as written: the check above explains a miss
          .meta({ pattern: `^\\s*${OPENSSH_PUBLIC_KEY.source.slice(1, -1)}\\s*$` })
          .optional()
          .describe("A public key to import as a key pair"),
        allowedCidrs: z
          .array(z.string())
          .min(1, "must list at least one admin CIDR; SSH is never open to everyone")
          .describe("Admin networks allowed to reach port 22"),
      })
      .optional()
      .describe("SSH access, off by default: Session Manager needs no open port"),
  })
  .default({})
  .describe("How people get onto the servers");

// ---- Database ----

/**
 * Engines and the major versions RDS runs of them (this project knows their parameter group
 * families). The single server runs what Amazon Linux 2023 packages instead (`database-engines.ts`).
 */
/** RDS's largest gp3 volume, in GiB: the storage autoscaling ceiling's limit. */
export const MAX_STORAGE_GB = 65536;
/**
 * The largest allocation with room for a ceiling 10 % above it (which RDS requires, rules.ts)
 * within MAX_STORAGE_GB: a larger one could only be refused for a ceiling no one can give.
 */
const MAX_ALLOCATED_STORAGE_GB = Math.floor((MAX_STORAGE_GB * 10) / 11);

/** HCP Terraform's host, where a `cloud` state without `hostname` lives (cdktf's default too). */
export const HCP_TERRAFORM_HOST = "app.terraform.io";

export const ENGINES = {
  postgres: { majors: ["14", "15", "16", "17"], family: (major: string) => `postgres${major}`, port: 5432 },
  mysql: { majors: ["8.4"], family: (major: string) => `mysql${major}`, port: 3306 },
  mariadb: { majors: ["10.11", "11.4"], family: (major: string) => `mariadb${major}`, port: 3306 },
} as const;
export type Engine = keyof typeof ENGINES;

/**
 * Majors RDS still knows but no longer supports as standard (RDS's release calendars), with that
 * end: RDS enrolls a new MySQL or PostgreSQL instance of one in RDS Extended Support, charged by
 * the vCPU-hour on top of the instance, and makes no new MariaDB one (it has no Extended Support).
 * Refused with the date, where a major it never had is refused as unknown.
 */
export const RETIRED_MAJORS: Readonly<Record<Engine, Readonly<Record<string, string>>>> = {
  postgres: { "11": "2024-02-29", "12": "2025-02-28", "13": "2026-02-28" },
  mysql: { "5.7": "2024-02-29", "8.0": "2026-07-31" },
  mariadb: { "10.6": "2026-08-31" },
};

/** The major version of an engine version string (`16.4` -> `16`, `8.0.39` -> `8.0`, `10.11.9` -> `10.11`). */
export function engineMajor(engine: Engine, version: string): string {
  return engine === "postgres" ? version.split(".")[0] : version.split(".").slice(0, 2).join(".");
}

/** Burstable DB classes: micro to 2xlarge. */
const BURSTABLE_DB_SIZES = INSTANCE_SIZES.slice(INSTANCE_SIZES.indexOf("micro"), INSTANCE_SIZES.indexOf("2xlarge") + 1);
/** large to 16xlarge, then `sizes` (RDS offers no 10xlarge, 18xlarge, 20xlarge or 36xlarge in these). */
const dbSizesUpTo = (...sizes: readonly string[]) => [
  ...INSTANCE_SIZES.slice(INSTANCE_SIZES.indexOf("large")),
  ...sizes,
];
/**
 * The RDS instance classes this project allows, with the sizes RDS makes each in (the RDS user
 * guide's hardware specifications for DB instance classes): a size the family does not come in
 * (db.m7g.nano, db.t4g.4xlarge) fails at apply, after the plan passed.
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.Summary.html
 */
export const DB_INSTANCE_SIZES: Readonly<Record<string, readonly string[]>> = {
  t3: BURSTABLE_DB_SIZES,
  t4g: BURSTABLE_DB_SIZES,
  m5: dbSizesUpTo("24xlarge"),
  m6i: dbSizesUpTo("24xlarge", "32xlarge"),
  m6g: dbSizesUpTo(),
  m7i: dbSizesUpTo("24xlarge", "48xlarge"),
  m7g: dbSizesUpTo(),
  m8g: dbSizesUpTo("24xlarge", "48xlarge"),
  r5: dbSizesUpTo("24xlarge"),
  r6i: dbSizesUpTo("24xlarge", "32xlarge"),
  r6g: dbSizesUpTo(),
  r7i: dbSizesUpTo("24xlarge", "48xlarge"),
  r7g: dbSizesUpTo(),
  r8g: dbSizesUpTo("24xlarge", "48xlarge"),
};
export const DB_INSTANCE_FAMILIES = Object.keys(DB_INSTANCE_SIZES);

const database = z
  .strictObject({
    engine: z
      .enum(Object.keys(ENGINES) as [Engine, ...Engine[]])
      .describe(
        "postgres, mysql or mariadb (the single server runs postgres or mariadb, as Amazon Linux 2023 packages them)",
      ),
    engineVersion: z
      .string()
      .regex(
        /^\d+(\.\d+){0,2}$/,
        "must be an engine version such as 16 or 16.4 (postgres), 8.4 or 8.4.3 (mysql), 10.11 (mariadb)",
      )
      .describe(
        "Engine version; give the major (16, 8.4, 10.11): RDS applies minor upgrades in the maintenance window, the single server installs Amazon Linux 2023's current minor. A minor pinned on RDS has two parts for postgres (16.4), three for mysql and mariadb (8.4.3)",
      ),
    name: z.string().optional().describe("The app's database: lowercase letters, digits and underscores; default app"),
    username: z
      .string()
      .optional()
      .describe(
        "The database user the app connects as: RDS's master user (default app_admin), or the single server's app user (default app)",
      ),
    instanceClass: z
      .string()
      .superRefine((c, ctx) => {
        const [prefix, family, size, ...rest] = c.split(".");
        const sizes = DB_INSTANCE_SIZES[family ?? ""];
        if (prefix !== "db" || !sizes || !size || rest.length > 0 || !/^[a-z0-9]+$/.test(size)) {
          ctx.addIssue({
            code: "custom",
            message: `must be db.<family>.<size> with family one of ${DB_INSTANCE_FAMILIES.join(", ")}`,
          });
        } else if (!sizes.includes(size)) {
          ctx.addIssue({ code: "custom", message: `must be a size db.${family} comes in: ${sizes.join(", ")}` });
        }
      })
      .optional()
      .describe("RDS instance class (app-db-split, load-balanced)"),
    allocatedStorageGb: intRange(20, MAX_ALLOCATED_STORAGE_GB)
      .default(20)
      .describe("Initial gp3 storage in GiB (at most 59578, so that a ceiling 10 % above it fits RDS's 65536)"),
    maxAllocatedStorageGb: intRange(20, MAX_STORAGE_GB)
      .optional()
      .describe(
        "Storage autoscaling ceiling, at least 10 % above allocatedStorageGb (RDS refuses less); default 4 x allocatedStorageGb, at most 65536",
      ),
    multiAz: z.boolean().optional().describe("Standby in a second AZ; default: on in production"),
    deletionProtection: z.boolean().optional().describe("Default: on in production"),
    backupRetentionDays: z
      .number({ error: "must be a whole number of days, at least 1" })
      .int("must be a whole number of days, at least 1")
      .min(1, "must be a whole number of days, at least 1")
      .optional()
      .describe(
        "Days backups are kept: RDS automated backups (1 to 35), or the single server's nightly dumps in S3 (a lifecycle expiration); default 14 in production, 3 elsewhere",
      ),
  })
  .describe("The database: RDS (app-db-split, load-balanced) or the engine installed on the single server");

// ---- Load balancer ----

const loadBalancer = z
  .strictObject({
    https: z
      .boolean()
      .default(true)
      .describe(
        "HTTPS listener (TLS 1.3 policy) and HTTP->HTTPS redirect, with the certificate of domain or certificateArn; false serves plain HTTP",
      ),
    certificateArn: z
      .string()
      .regex(
        /^arn:aws:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]{36}$/,
        "must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<uuid>)",
      )
      .optional()
      .describe(
        "ACM certificate for the HTTPS listener, in the environment's region; not needed with domain, which gets one issued",
      ),
    deletionProtection: z.boolean().optional().describe("Default: on in production"),
    accessLogs: z.boolean().default(false).describe("Write ALB access logs to an S3 bucket the stack creates"),
  })
  .default({ https: true, accessLogs: false })
  .describe("The Application Load Balancer (load-balanced)");

// ---- Domain ----

const HOST_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

const domain = z
  .strictObject({
    name: z
      .string()
      .regex(HOST_NAME, "must be a lowercase DNS name such as shop.example.net")
      .describe(
        "The site's name. load-balanced: an alias record to the ALB and, for HTTPS, an ACM certificate validated by DNS; the other layouts: an A record to the server's Elastic IP",
      ),
    hostedZone: z
      .string()
      .regex(HOST_NAME, "must be a lowercase DNS name such as example.net")
      .optional()
      .describe(
        "The Route 53 public hosted zone (in this account) the records go in; default: name without its first label",
      ),
  })
  .optional()
  .describe("A DNS name for the environment, in a Route 53 hosted zone of its account");

// ---- Monitoring ----

const percent = (what: string) => {
  const rule = "must be a percentage above 0 and at most 100";
  return z.number({ error: rule }).gt(0, rule).max(100, rule).optional().describe(what);
};

/** A threshold the file may leave out (the environment-level default applies). */
const optionalInt = (min: number, max: number, what: string) => intRange(min, max).optional().describe(what);

const alarmEmail = z
  .email({ error: "must be an email address such as oncall@example.com" })
  .describe("Receives every alarm and its recovery; AWS emails a confirmation link first");

const thresholds = z
  .strictObject({
    loadBalancer5xxPercent: percent(
      "load-balanced: alarm when more than this share of requests gets a 5xx from the ALB itself; default 1 in production, 5 elsewhere",
    ),
    target5xxPercent: percent(
      "Alarm when more than this share of requests gets a 5xx from the app servers (without a load balancer, counted from nginx's access log); default 1 in production, 5 elsewhere",
    ),
    latencyP95Ms: optionalInt(
      1,
      60000,
      "Alarm when the 95th percentile response time of the app servers exceeds this (the target response time behind a load balancer, otherwise read from nginx's access log); default 500 in production, 1000 elsewhere",
    ),
    latencyP99Ms: optionalInt(
      1,
      60000,
      "Alarm when the 99th percentile response time of the app servers exceeds this (the target response time behind a load balancer, otherwise read from nginx's access log); default 1500 in production, 3000 elsewhere",
    ),
    cpuPercent: optionalInt(
      1,
      100,
      "Alarm when app server CPU stays above this; default 80 in production, 90 elsewhere",
    ),
    memoryPercent: optionalInt(
      1,
      100,
      "Alarm when app server memory use (CloudWatch agent) stays above this; default 85 in production, 90 elsewhere",
    ),
    diskPercent: optionalInt(
      1,
      100,
      "Alarm when an app server's root disk (CloudWatch agent) is fuller than this; default 80 in production, 90 elsewhere",
    ),
    dbCpuPercent: optionalInt(
      1,
      100,
      "RDS (app-db-split, load-balanced): alarm when RDS CPU stays above this; default 75 in production, 90 elsewhere",
    ),
    dbFreeStorageGb: optionalInt(
      1,
      MAX_STORAGE_GB,
      "RDS (app-db-split, load-balanced): alarm when RDS free storage falls below this; default 8% of allocatedStorageGb in production, 5% elsewhere: below storage autoscaling's 10%",
    ),
    dbFreeableMemoryMb: optionalInt(
      16,
      1048576,
      "RDS (app-db-split, load-balanced): alarm when RDS freeable memory falls below this; default 10% of the class's memory in production, 5% elsewhere",
    ),
    dbConnections: optionalInt(
      1,
      100000,
      "RDS (app-db-split, load-balanced): alarm when RDS connections exceed this; default 80% of the engine's max_connections for the class in production, 90% elsewhere",
    ),
    evaluationPeriods: optionalInt(
      1,
      30,
      "Periods (minutes, or 5 minutes for EC2 without detailed monitoring) each alarm looks at; default 3 in production, 5 elsewhere",
    ),
    datapointsToAlarm: optionalInt(
      1,
      30,
      "How many of those periods must breach; default 2 in production, 4 elsewhere",
    ),
  })
  .default({})
  .describe("Alarm thresholds; each one left out takes the production or non-production default");

const monitoring = z
  .strictObject({
    alarmEmails: z
      .array(alarmEmail)
      .superRefine((emails, ctx) => {
        emails.forEach((email, i) => {
          const first = emails.indexOf(email);
          if (first !== i) {
            ctx.addIssue({
              code: "custom",
              path: [i],
              message: `repeats alarmEmails[${first}]; each address must appear once (got ${JSON.stringify(email)})`,
            });
          }
        });
      })
      .default([])
      .describe("Who gets the alarms: email subscribers of the environment's alarm topic (at least one in production)"),
    thresholds,
    metricNamespaces: z
      .enum(METRIC_NAMESPACE_MODES)
      .default("environment")
      .describe(
        "Where the servers publish the metrics they measure (memory, disk, health probe, nightly dump) and the alarms read them: " +
          "environment (default): <project>/<env>/CWAgent, .../AppHealth, .../AppBackups, which only this environment's servers may publish to; " +
          "shared: CWAgent, AppHealth, AppBackups, which every environment's servers may publish to (a server whose boot script is kept still publishes there until it is replaced: docs/monitoring.md#metric-namespaces)",
      ),
  })
  .default({ alarmEmails: [], thresholds: {}, metricNamespaces: "environment" })
  .describe("CloudWatch alarms, their SNS topic and the dashboard");

// ---- Exceptions ----

const exceptions = z
  .array(
    z.strictObject({
      rule: z.string().describe("The rule waived, e.g. database.multiAz"),
      reason: z
        .string()
        .min(10, "must say why, in at least 10 characters")
        .describe("Why this environment may break the rule"),
    }),
  )
  .default([])
  .describe("Production rules this environment waives on purpose; each is printed at every synth");

// ---- State ----

/** Bucket name prefixes and suffixes S3 reserves (general purpose bucket naming rules). */
const RESERVED_BUCKET_PREFIXES = ["xn--", "sthree-", "amzn-s3-demo-"];
const RESERVED_BUCKET_SUFFIXES = ["-s3alias", "--ol-s3", "--x-s3", "--table-s3"];
const RESERVED_BUCKET_NAMES = new RegExp(
  `^(?!${RESERVED_BUCKET_PREFIXES.join("|")})(?!.*(?:${RESERVED_BUCKET_SUFFIXES.join("|")})$)`,
);

const state = z
  .discriminatedUnion(
    "backend",
    [
      z
        .strictObject({ backend: z.literal("local") })
        .describe("One state file per environment in state/<env>.tfstate on this machine (the quick start)"),
      z
        .strictObject({
          backend: z.literal("s3"),
          bucket: z
            .string()
            .regex(
              /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/,
              "must be an S3 bucket name: 3 to 63 lowercase letters, digits or hyphens (no dots: they break TLS)",
            )
            .regex(
              RESERVED_BUCKET_NAMES,
              `must not begin with ${RESERVED_BUCKET_PREFIXES.join(", ")} or end with ${RESERVED_BUCKET_SUFFIXES.join(", ")}: S3 reserves them`,
            )
            .describe("State bucket, created by the state-<bucket> bootstrap stack"),
          // Terraform's S3 backend refuses a key with a "/" at either end or a "//" (at init)
          key: z
            .string()
            .regex(
              /^(?!\/)(?!.*\/\/)(?!.*\/$)[A-Za-z0-9!_.*'()/-]{1,1024}$/,
              "must be an S3 object key of letters, digits and !_.*'()/-, with no / at either end and no //",
            )
            // S3-native locking keeps a state's lock at <key>.tflock: such a key would be another
            // environment's lock (each taking and deleting the other's object)
            .regex(/^(?!.*\.tflock$)/, "must not end in .tflock: Terraform keeps each state's lock at <key>.tflock")
            .optional()
            .describe("Object key; default <project>/<environment>/terraform.tfstate"),
          region: z.enum(REGIONS).optional().describe("Bucket region; default the environment's region"),
        })
        .describe("S3, encrypted, with S3-native locking (use_lockfile)"),
      z
        .strictObject({
          backend: z.literal("cloud"),
          organization: z
            .string()
            .regex(/^[A-Za-z0-9_-]{1,40}$/, "must be an HCP Terraform organization name")
            .describe("HCP Terraform organization"),
          workspace: z
            .string()
            .regex(/^[A-Za-z0-9_-]{1,90}$/, "must be letters, digits, hyphens or underscores")
            .optional()
            .describe("Workspace; default <project>-<environment>"),
          hostname: z
            .string()
            .regex(/^[a-z0-9.-]+$/, "must be a host name")
            .optional()
            .describe(`Default ${HCP_TERRAFORM_HOST}; set for Terraform Enterprise`),
        })
        .describe("HCP Terraform (or Terraform Enterprise), one workspace per environment"),
    ],
    {
      // a value where the mapping belongs (`state: s3`) is told so, not that s3 is not allowed
      error: (issue) =>
        issue.input === null || typeof issue.input !== "object" || Array.isArray(issue.input)
          ? "must be a mapping whose backend is local, s3 or cloud, with that backend's fields (backend: s3 and bucket: <name>, for one), not a single value"
          : "must be one of: local, s3, cloud",
    },
  )
  .describe("Where this environment's Terraform state lives");

// ---- Cost assumptions ----

/** Usage the monthly cost estimate assumes (`npm run cost`); prices come from src/cost/prices.json. */
const usage = (what: string, fallback: number) => {
  const rule = "must be a number from 0 to 1000000";
  return z.number({ error: rule }).min(0, rule).max(1_000_000, rule).default(fallback).describe(what);
};

export const COST_DEFAULTS = {
  requestsPerSecond: 5,
  internetEgressGbPerMonth: 20,
  natProcessedGbPerMonth: 10,
  logsGbPerServerPerMonth: 1,
  flowLogsGbPerMonth: 1,
  s3StoredGb: 5,
} as const;

const cost = z
  .strictObject({
    requestsPerSecond: usage(
      "Average requests a second (load-balanced: ALB capacity units, 25 new connections a second each)",
      COST_DEFAULTS.requestsPerSecond,
    ),
    internetEgressGbPerMonth: usage(
      "GB a month sent to the internet (data transfer out; also ALB processed bytes)",
      COST_DEFAULTS.internetEgressGbPerMonth,
    ),
    natProcessedGbPerMonth: usage(
      "GB a month through the NAT gateways (AWS APIs, outbound calls; S3, where releases and Amazon Linux's packages are, goes through the free gateway endpoint)",
      COST_DEFAULTS.natProcessedGbPerMonth,
    ),
    logsGbPerServerPerMonth: usage(
      "GB a month of app, nginx and boot logs each server ships to CloudWatch Logs",
      COST_DEFAULTS.logsGbPerServerPerMonth,
    ),
    flowLogsGbPerMonth: usage(
      "GB a month of VPC flow logs (when network.flowLogs is on)",
      COST_DEFAULTS.flowLogsGbPerMonth,
    ),
    s3StoredGb: usage("GB kept in the environment's S3 buckets (releases, ALB access logs)", COST_DEFAULTS.s3StoredGb),
  })
  .default(COST_DEFAULTS)
  .describe("Usage the monthly cost estimate (npm run cost) assumes; prices are on-demand, from src/cost/prices.json");

/** The usage assumptions of an environment's cost estimate. */
export type CostAssumptions = z.output<typeof cost>;

// ---- The environment ----

export const environmentSchema = z
  .strictObject({
    project: z
      .string()
      .regex(SHORT_NAME, SHORT_NAME_RULE)
      .superRefine((project, ctx) => {
        const problem = SHORT_NAME.test(project) ? projectNameProblem(project) : undefined;
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      })
      .describe("Prefix of every physical name; the Project tag"),
    region: z
      .enum(REGIONS, { error: `must be one of: ${REGIONS.join(", ")}` })
      .describe("AWS region; Seoul (ap-northeast-2) is the home region"),
    accountId: z
      .string()
      .regex(/^\d{12}$/, "must be a 12-digit AWS account id")
      .optional()
      .describe(
        "The AWS account this environment lives in: Terraform refuses credentials of any other; required in production",
      ),
    layout: z.enum(LAYOUTS).describe("single-server, app-db-split or load-balanced"),
    production: z
      .boolean()
      .default(false)
      .describe("Production: stricter defaults (Multi-AZ, deletion protection, longer backups) and rules"),
    deployOrder: intRange(1, 999)
      .optional()
      .describe(
        "Place in the deploy chain (.github/workflows/deploy.yml): environments deploy one at a time, lowest first, ties in name order, each only after the one before succeeded; default 10, or 90 in production",
      ),
    network,
    app,
    access,
    database,
    domain,
    loadBalancer,
    exceptions,
    state: state.default({ backend: "local" }),
    tags: z
      .record(
        z
          .string()
          .regex(/^[A-Za-z0-9 _.:/=+@-]{1,128}$/, "must be 1 to 128 letters, digits, spaces or _.:/=+-@")
          .refine((key) => !RESERVED_TAG_KEYS.some((reserved) => tagKeyCase(reserved) === tagKeyCase(key)), {
            error: `is set by the project itself (reserved, in any case: ${RESERVED_TAG_KEYS.join(", ")})`,
          })
          // IAM takes tag keys without regard to case: a role tagged both `name` and `Name` is refused.
          .refine((key) => !RESOURCE_TAG_KEYS.some((own) => own !== key && tagKeyCase(own) === tagKeyCase(key)), {
            error: `differs only in case from a tag the project sets on resources (${RESOURCE_TAG_KEYS.join(", ")}): IAM refuses both on one role`,
          })
          // AWS refuses the prefix (any case) only at apply time, half-way through creating resources.
          .refine((key) => !/^aws:/i.test(key), {
            error: 'must not start with "aws:": AWS reserves that prefix for its own tags',
          }),
        z
          .string()
          .regex(
            /^[\p{L}\p{Z}\p{N}_.:/=+@-]{0,256}$/u,
            "must be at most 256 letters, digits, spaces or _.:/=+-@: AWS refuses any other character in a tag value (IAM first, half-way through an apply)",
          ),
      )
      .superRefine((tags, context) => {
        const keys = Object.keys(tags);
        if (keys.length > MAX_ENVIRONMENT_TAGS) {
          context.addIssue({
            code: "custom",
            message: `must hold at most ${MAX_ENVIRONMENT_TAGS} tags: every one reaches every resource, which AWS lets carry 50, ${50 - MAX_ENVIRONMENT_TAGS} of them the project's own (got ${keys.length})`,
          });
        }
        const seen = new Map<string, string>();
        for (const key of keys) {
          const earlier = seen.get(tagKeyCase(key));
          if (earlier !== undefined) {
            context.addIssue({
              code: "custom",
              message: `has keys "${earlier}" and "${key}", which differ only in case: IAM refuses both on one role`,
            });
          }
          seen.set(tagKeyCase(key), key);
        }
      })
      .default({})
      .describe(`Extra tags on every resource (cost centre, owner): at most ${MAX_ENVIRONMENT_TAGS}`),
    monitoring,
    cost,
  })
  .describe("One environment: environments/<name>/config.yaml");

/** An environment file as written, after defaults. */
export type EnvironmentFile = z.output<typeof environmentSchema>;
export type NatStrategy = EnvironmentFile["network"]["natGateways"];
