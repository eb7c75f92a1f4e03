import type { EnvironmentConfig } from "./load";
import { FIRST_APP_PORT } from "../userdata/app-host";
import { cidrPrefix, isIPv4Address, isNetworkCidr, networkAddress, subnetUsableAddresses } from "../cidr";
import { identifierProblem, localEngineProblem } from "./database-engines";
import { classMaxConnections, dbInstanceMemoryGib } from "./db-memory";
import { memoryMibOf, sizesOf } from "./instance-types";
import { defaultProcesses, ENGINES, engineMajor, MIN_PROCESS_MEMORY_MB, RETIRED_MAJORS } from "./schema";

/**
 * Rules that span fields of one environment, checked after defaults are resolved.
 *
 * `production` rules make production stricter than the rest; an environment may waive one only by
 * listing it in `exceptions` with a reason, which every synth prints. The other rules keep a
 * configuration coherent and cannot be waived.
 */
export interface Rule {
  /** The field the rule is about, which is also how `exceptions` names it. */
  readonly id: string;
  /** Whether the rule applies to this environment at all. */
  readonly appliesTo: (env: EnvironmentConfig) => boolean;
  /**
   * The problem(s), without the field name, or `undefined` when the rule holds. A problem about
   * one item of a list starts with its index, `[2] ...`.
   */
  readonly check: (env: EnvironmentConfig) => string | string[] | undefined;
  /** Production rules can be waived through `exceptions`. */
  readonly production?: boolean;
}

const usesRdsLayout = (layout: EnvironmentConfig["layout"]) => layout !== "single-server";
const usesRds = (env: EnvironmentConfig) => usesRdsLayout(env.layout);
/** RDS keeps automated backups 1 to 35 days. */
const MAX_RDS_BACKUP_DAYS = 35;
/** An S3 lifecycle expiration takes a non-zero number of days, a 32-bit integer. */
export const MAX_S3_LIFECYCLE_DAYS = 2147483647;
const loadBalanced = (env: EnvironmentConfig) => env.layout === "load-balanced";
/** The least storage autoscaling ceiling RDS takes for an allocation: 10 % above it. */
const minStorageCeiling = (allocatedGb: number) => Math.ceil((allocatedGb * 11) / 10);
const production = (env: EnvironmentConfig) => env.production;
/** Whether the stack asks ACM for a certificate of domain.name (load-balanced HTTPS without certificateArn). */
const issuesCertificate = (env: EnvironmentConfig) =>
  loadBalanced(env) && env.loadBalancer.https && env.domain !== undefined && !env.loadBalancer.certificateArn;
/** The longest name ACM issues a certificate for as its first (common) name, in characters. */
const MAX_CERTIFICATE_NAME = 64;
/** sshd's port on every server (Amazon Linux 2023 runs it, with or without access.ssh). */
const SSH_PORT = 22;
/** Connections each app process's pool opens at most (app/db.js's POOL_SIZE: a test keeps them equal). */
export const APP_POOL_CONNECTIONS = 5;
/** How many servers a fleet's instance refresh may run at once, in % of its size (app-fleet.ts's default). */
export const FLEET_MAX_HEALTHY_PERCENT = 150;
const OPT_OUT = "(or waive it: exceptions: [{ rule: <field>, reason: ... }])";
/**
 * MiB every app server spends before its app processes (an estimate, docs/inside-the-server.md#memory):
 * what the kernel keeps of the instance's memory (60-100 MiB on the small types), Amazon Linux's own
 * services, the SSM agent and its worker, the CloudWatch agent, nginx, the watchdog.
 */
export const SYSTEM_MEMORY_MIB = 300;
/**
 * MiB a single server's own database takes before its connections: PostgreSQL's shared_buffers and
 * MariaDB's InnoDB buffer pool are 128 MiB by default (the boot script keeps the defaults), and the
 * server's own processes about 50 more (PostgreSQL 15 measured at 30 MiB idle).
 */
export const LOCAL_DATABASE_MEMORY_MIB = 176;
/**
 * MiB each connection of a single server's own database is counted at: 15 PostgreSQL backends
 * writing and reading took 184 MiB (PSS) in all with the 128-MiB buffers filled, about 2 MiB each
 * beyond the idle server and its buffers (measured here, docs/inside-the-server.md#memory); the
 * rest is room for a query's work memory (4 MiB a sort by default).
 */
export const LOCAL_DATABASE_CONNECTION_MIB = 8;
/**
 * MiB `dnf upgrade` takes while an OS update runs beside everything else (`app.osRelease`): it
 * loads the repositories' metadata into memory, a few hundred MiB on Amazon Linux (an estimate).
 */
export const OS_UPDATE_MEMORY_MIB = 256;

/**
 * What a server's memory must hold, by part, in MiB: `processes` app processes of
 * `processMemoryMb` each (the environment's own by default), and on a single server its database.
 */
export function serverMemoryNeed(
  env: EnvironmentConfig,
  processes = env.app.processes,
  processMemoryMb = env.app.processMemoryMb,
): { system: number; app: number; database: number; update: number; total: number } {
  const system = SYSTEM_MEMORY_MIB;
  const app = processes * processMemoryMb;
  const database =
    env.layout === "single-server"
      ? LOCAL_DATABASE_MEMORY_MIB + localDatabaseConnections(processes) * LOCAL_DATABASE_CONNECTION_MIB
      : 0;
  // (load-balanced refuses osRelease: its servers are never updated in place)
  const update = env.app.osRelease && env.layout !== "load-balanced" ? OS_UPDATE_MEMORY_MIB : 0;
  return { system, app, database, update, total: system + app + database + update };
}

/** A single server's database connections: the app's pools, and db-backup's dump. */
const localDatabaseConnections = (processes: number) => processes * APP_POOL_CONNECTIONS + 1;

/**
 * What would make a server fit that does not: the smallest size of its family that holds it (with
 * as many processes as that size would run: more vCPUs, more processes by default), the most
 * processes that fit, and the most memory a process may take; each only when there is one.
 */
function memoryRemedies(env: EnvironmentConfig): string[] {
  const { app } = env;
  const memory = memoryMibOf(app.instanceType)!;
  const family = app.instanceType.split(".")[0];
  const processesOn = (type: string) => (app.processesSet ? app.processes : defaultProcesses(type));
  const larger = Object.keys(sizesOf(family))
    .map((size) => `${family}.${size}`)
    .find((type) => serverMemoryNeed(env, processesOn(type)).total <= memoryMibOf(type)!);
  const remedies = [larger ? `a larger type (${larger} has ${memoryMibOf(larger)} MiB)` : "a larger family"];
  let most = app.processes - 1;
  while (most > 0 && serverMemoryNeed(env, most).total > memory) most--;
  if (most > 0) {
    remedies.push(
      `at most ${most} app.processes` +
        (env.production && most < 3 ? " (which production allows only as an exception: app.processes)" : ""),
    );
  }
  const perProcess = Math.floor((memory - serverMemoryNeed(env, app.processes, 0).total) / app.processes);
  if (perProcess >= MIN_PROCESS_MEMORY_MB) {
    remedies.push(
      `if one of your app's processes takes at most ${perProcess} MiB at its peak (its resident memory), app.processMemoryMb set to what it takes`,
    );
  }
  return remedies;
}

/** Days production keeps the app's and nginx's logs at least (its default is 365). */
const PRODUCTION_MIN_LOG_DAYS = 90;

export const RULES: readonly Rule[] = [
  // ---- Coherence ----
  {
    id: "app.count",
    appliesTo: (env) => !loadBalanced(env),
    check: ({ app: { count }, layout }) =>
      count.min === 1 && count.desired === 1 && count.max === 1
        ? undefined
        : `must be { min: 1, desired: 1, max: 1 } for layout ${layout}, which runs exactly one app server; use load-balanced to scale out (got ${JSON.stringify(count)})`,
  },
  {
    id: "app.port",
    appliesTo: () => true,
    check: ({ app: { port, processes }, layout, database }) => {
      const last = FIRST_APP_PORT + processes - 1;
      if (port >= FIRST_APP_PORT && port <= last) {
        return `must not be one of the app processes' ports ${FIRST_APP_PORT}-${last} (app.processes: ${processes}); nginx listens on app.port (got ${port})`;
      }
      if (port === SSH_PORT)
        return `must not be ${SSH_PORT}, where the server's sshd listens; nginx listens on app.port (got ${port})`;
      // the single server's own database listens on its engine's port (on the loopback address, which nginx's bind would take too)
      const databasePort = ENGINES[database.engine].port;
      return layout === "single-server" && port === databasePort
        ? `must not be ${databasePort}, where the server's own ${database.engine} listens (layout single-server); nginx listens on app.port (got ${port})`
        : undefined;
    },
  },
  {
    id: "app.count.max",
    appliesTo: loadBalanced,
    // An instance refresh launches new servers before it stops old ones: up to 150 % of the group.
    check: ({ app: { count }, network: { cidr, availabilityZones } }) => {
      const { prefix, usable } = subnetUsableAddresses(cidr);
      const total = usable * availabilityZones.length;
      const most = Math.floor((total * 2) / 3);
      return count.max <= most
        ? undefined
        : `must leave room in the app subnets for an instance refresh, which runs up to 150 % of the group: network.cidr ${cidr} gives ${availabilityZones.length} app subnets of /${prefix} (${usable} addresses each, ${total} in all), so at most ${most}; give the VPC a larger block or more AZs (got ${count.max})`;
    },
  },
  {
    // The instance has no swap: past its memory the kernel kills a process (an app process, or the
    // database), the watchdog restarts it, and it is killed again. Review BY measured an app
    // process at about 62 MiB; a t3.nano's 512 MiB held 3 of them and nothing else.
    id: "app.instanceType",
    appliesTo: (env) => memoryMibOf(env.app.instanceType) !== undefined,
    check: (env) => {
      const { app, database, layout } = env;
      const memory = memoryMibOf(app.instanceType)!;
      const need = serverMemoryNeed(env);
      if (need.total <= memory) return undefined;
      const remedies = memoryRemedies(env);
      return (
        `${app.instanceType} has ${memory} MiB of memory, less than its server needs: about ${need.system} MiB for the system ` +
        `(the kernel, the SSM and CloudWatch agents, nginx) + ${app.processes} app.processes x ${app.processMemoryMb} MiB (app.processMemoryMb)` +
        (layout === "single-server"
          ? ` + ${need.database} MiB for its own ${database.engine} (its 128-MiB buffers and ${localDatabaseConnections(app.processes)} connections)`
          : "") +
        (need.update > 0 ? ` + ${need.update} MiB for dnf while app.osRelease updates it in place` : "") +
        ` = ${need.total} MiB; with no swap, the kernel kills processes past it: ` +
        (remedies.length === 1
          ? `only ${remedies[0]} holds it`
          : `${remedies.slice(0, -1).join(", ")}, or ${remedies.at(-1)}`)
      );
    },
  },
  {
    id: "network.natGateways",
    appliesTo: loadBalanced,
    check: (env) =>
      env.network.natGateways === "none"
        ? `must be single or per-az for layout load-balanced: app servers in private subnets need egress for Session Manager and packages (got "none")`
        : undefined,
  },
  {
    id: "database.instanceClass",
    appliesTo: usesRds,
    check: (env) => (env.database.instanceClass ? undefined : `is required for layout ${env.layout}, which runs RDS`),
  },
  {
    // Every app process keeps a pool of connections; at an instance refresh's peak a fleet runs
    // half as many servers again. Past the class's max_connections the database refuses them,
    // and requests fail (review BY: staging on db.t4g.micro with 5 servers needed 120 of 95). The
    // limit is the engine's default for the class's memory, an estimate that errs low, or the
    // db-connections alarm's threshold when the file sets one above it (a database that takes more).
    id: "database.instanceClass",
    appliesTo: (env) => usesRds(env) && dbInstanceMemoryGib(env.database.instanceClass ?? "") !== undefined,
    check: ({ app, database, layout, monitoring }) => {
      const fleet = layout === "load-balanced";
      const servers = fleet ? Math.ceil((app.count.max * FLEET_MAX_HEALTHY_PERCENT) / 100) : 1;
      const peak = app.processes * APP_POOL_CONNECTIONS * servers;
      const estimate = classMaxConnections(database.engine, database.instanceClass)!;
      if (peak <= Math.max(estimate, monitoring.thresholds.dbConnections ?? 0)) return undefined;
      return (
        `${database.instanceClass} takes about ${estimate} connections (${database.engine}'s default max_connections for its memory), fewer than the app may open: ` +
        `${app.processes} app.processes x ${APP_POOL_CONNECTIONS} connections each x ${servers} server(s)` +
        (fleet ? ` (app.count.max ${app.count.max}, and half as many again during an instance refresh)` : "") +
        ` = ${peak}; those past it are refused: a larger class, or fewer app.processes${fleet ? " or app.count.max" : ""}` +
        ` (a database that takes more, by SHOW max_connections: set monitoring.thresholds.dbConnections to a share of it)`
      );
    },
  },
  {
    id: "database.engineVersion",
    appliesTo: usesRds,
    check: ({ database: { engine, engineVersion } }) => {
      const majors: readonly string[] = ENGINES[engine].majors;
      const major = engineMajor(engine, engineVersion);
      if (majors.includes(major)) {
        // PostgreSQL numbers its releases major.minor since 10 (16.4): a third part is no version
        // RDS has, and CreateDBInstance would refuse it at the apply.
        if (engine === "postgres" && engineVersion.split(".").length > 2)
          return `must be a postgres major or major.minor, such as ${major} or ${major}.4: PostgreSQL's versions have two parts since 10 (got "${engineVersion}")`;
        return undefined;
      }
      const ended = RETIRED_MAJORS[engine][major];
      if (ended === undefined)
        return `must be a ${engine} version of major ${majors.join(", ")} (got "${engineVersion}")`;
      const consequence =
        engine === "mariadb"
          ? "RDS has no Extended Support for MariaDB and creates no new instance of it"
          : "RDS enrolls a new instance of it in Extended Support, charged by the vCPU-hour on top of the instance";
      return (
        `must not be ${engine} ${major}, past RDS's end of standard support (${ended}): ${consequence}; use ` +
        `${majors.join(" or ")} (a database already on ${major}: set the new major, and \`npm run plan\` says how ` +
        `to upgrade it) (got "${engineVersion}")`
      );
    },
  },
  // The single server installs the engine from Amazon Linux 2023's packages: only what AL2023 offers.
  ...(["database.engine", "database.engineVersion"] as const).map((id): Rule => ({
    id,
    appliesTo: (env) => !usesRds(env),
    check: ({ database: { engine, engineVersion } }) => {
      const found = localEngineProblem(engine, engineVersion);
      return found?.field === id ? found.problem : undefined;
    },
  })),
  ...(["name", "username"] as const).map((field): Rule => ({
    id: `database.${field}`,
    appliesTo: () => true,
    check: ({ database }) => identifierProblem(database.engine, field, database[field]),
  })),
  {
    id: "database.backupRetentionDays",
    appliesTo: () => true,
    check: ({ layout, database: { backupRetentionDays: days } }) =>
      usesRdsLayout(layout)
        ? days <= MAX_RDS_BACKUP_DAYS
          ? undefined
          : `must be an integer from 1 to ${MAX_RDS_BACKUP_DAYS} for layout ${layout}: RDS keeps automated backups at most ${MAX_RDS_BACKUP_DAYS} days (got ${days})`
        : days <= MAX_S3_LIFECYCLE_DAYS
          ? undefined
          : `must be an integer from 1 to ${MAX_S3_LIFECYCLE_DAYS} for layout ${layout}: the days of an S3 lifecycle expiration (got ${days})`,
  },
  {
    id: "database.maxAllocatedStorageGb",
    appliesTo: usesRds,
    // RDS refuses a storage autoscaling ceiling less than 10 % above the allocation (equal included)
    check: ({ database: d }) =>
      d.maxAllocatedStorageGb >= minStorageCeiling(d.allocatedStorageGb)
        ? undefined
        : `must be at least ${minStorageCeiling(d.allocatedStorageGb)}, 10 % above allocatedStorageGb (${d.allocatedStorageGb}): RDS refuses a storage autoscaling ceiling closer to the allocation (got ${d.maxAllocatedStorageGb})`,
  },
  {
    id: "loadBalancer.certificateArn",
    appliesTo: (env) => loadBalanced(env),
    check: (env) => {
      const arn = env.loadBalancer.certificateArn;
      // (review BD: a certificate given with https: false was dropped without a word)
      if (!env.loadBalancer.https) {
        return arn
          ? `has no use while loadBalancer.https is false (plain HTTP, no listener for a certificate): set https: true, or remove certificateArn (got "${arn}")`
          : undefined;
      }
      if (!arn && env.domain) return undefined; // a certificate for domain.name is issued and validated by DNS
      if (!arn) {
        return `is required when loadBalancer.https is true and no domain is set: set domain.name (a certificate is issued for it, validated in its Route 53 zone), or give an ACM certificate in ${env.region}, or set loadBalancer.https: false to serve plain HTTP`;
      }
      const [, , , region, account] = arn.split(":");
      if (region !== env.region)
        return `must be in the environment's region ${env.region} (got a certificate in ${region})`;
      // A listener takes only a certificate of its own account (review BD): AWS refuses another's at apply
      return env.accountId === undefined || account === env.accountId
        ? undefined
        : `must be a certificate of the environment's account ${env.accountId} (accountId), as a load balancer uses only its own account's certificates (got one of account ${account})`;
    },
  },
  {
    id: "domain.name",
    appliesTo: (env) => env.domain !== undefined,
    check: (env) => {
      const { name, hostedZone } = env.domain!;
      if (hostedZone === undefined && name.split(".").length < 3) {
        return `must be given its Route 53 zone in domain.hostedZone (hostedZone: ${name} for a zone's own name): by default the zone is the name without its first label, here the top-level domain "${hostedZoneOf(env.domain!)}", which no account can hold (got "${name}")`;
      }
      const zone = hostedZoneOf(env.domain!);
      if (name !== zone && !name.endsWith(`.${zone}`)) {
        return `must be in domain.hostedZone ${zone}: the records go in that zone (got "${name}")`;
      }
      // the certificate's common name: ACM refuses a longer one when asked for it, at apply time
      if (issuesCertificate(env) && name.length > MAX_CERTIFICATE_NAME) {
        return `must be at most ${MAX_CERTIFICATE_NAME} characters for the ACM certificate issued for it (its common name), or give loadBalancer.certificateArn of a certificate that covers it (got "${name}", ${name.length} characters)`;
      }
      return undefined;
    },
  },
  {
    id: "access.ssh",
    appliesTo: (env) => env.access.ssh !== undefined,
    check: ({ access: { ssh } }) =>
      ssh && (ssh.keyName === undefined) === (ssh.publicKey === undefined)
        ? "must set exactly one of keyName (an existing key pair) or publicKey"
        : undefined,
  },
  {
    id: "access.ssh.keyName",
    appliesTo: (env) => env.access.ssh?.keyName !== undefined,
    check: ({ access: { ssh }, region }) => {
      const keyName = ssh!.keyName!;
      // A key pair's name is what `aws ec2 describe-key-pairs` lists, never the file it was saved as.
      const file = /^(?:.*[\\/])?([^\\/]+?)\.(pem|ppk|pub|key|cer|crt)$/i.exec(keyName);
      if (!file && !/[\\/]/.test(keyName)) return undefined;
      const meant = file ? file[1] : keyName.split(/[\\/]/).pop();
      return (
        `must be the name of an EC2 key pair, which has no file extension: did you mean "${meant}"? ` +
        `Key pairs are per region: it must exist in ${region} (got "${keyName}")`
      );
    },
  },
  {
    id: "access.ssh.allowedCidrs",
    appliesTo: (env) => env.access.ssh !== undefined,
    check: ({ access: { ssh } }) => {
      const cidrs = ssh?.allowedCidrs ?? [];
      const problems = cidrs.flatMap((cidr, i) => {
        // EC2 refuses a second rule equal to one the group has (InvalidPermission.Duplicate), at apply
        const first = cidrs.indexOf(cidr);
        if (first !== i)
          return [`[${i}] repeats allowedCidrs[${first}]; each network must appear once (got "${cidr}")`];
        if (isIPv4Address(cidr)) {
          return [`[${i}] must be a CIDR block, not a bare address: did you mean "${cidr}/32"? (got "${cidr}")`];
        }
        const [address, bits] = cidr.split("/");
        if (isIPv4Address(address) && /^\d+$/.test(bits ?? "") && Number(bits) <= 32) {
          const network = networkAddress(cidr);
          if (network !== address) {
            return [`[${i}] must start at its network address: did you mean "${network}/${bits}"? (got "${cidr}")`];
          }
        }
        if (!isNetworkCidr(cidr))
          return [`[${i}] must be an IPv4 CIDR at its network address, e.g. 203.0.113.0/24 (got "${cidr}")`];
        const prefix = cidrPrefix(cidr);
        if (prefix === 0) return [`[${i}] must not open SSH to the whole internet (got "${cidr}")`];
        if (prefix < 16) return [`[${i}] is too broad for SSH: at most a /16 (got "${cidr}")`];
        return [];
      });
      return problems;
    },
  },
  {
    id: "monitoring.thresholds.datapointsToAlarm",
    appliesTo: () => true,
    check: ({ monitoring: { thresholds: t } }) =>
      t.datapointsToAlarm <= t.evaluationPeriods
        ? undefined
        : `must not exceed monitoring.thresholds.evaluationPeriods (${t.evaluationPeriods}) (got ${t.datapointsToAlarm})`,
  },
  {
    id: "monitoring.thresholds.latencyP95Ms",
    appliesTo: () => true,
    check: ({ monitoring: { thresholds: t } }) =>
      t.latencyP95Ms <= t.latencyP99Ms
        ? undefined
        : `must not exceed monitoring.thresholds.latencyP99Ms (${t.latencyP99Ms}): the 95th percentile is never slower than the 99th (got ${t.latencyP95Ms})`,
  },
  {
    id: "monitoring.thresholds.dbFreeStorageGb",
    appliesTo: usesRds,
    check: ({ monitoring: { thresholds: t }, database }) =>
      t.dbFreeStorageGb < database.allocatedStorageGb
        ? undefined
        : `must be below database.allocatedStorageGb (${database.allocatedStorageGb}), or the alarm fires on an empty database (got ${t.dbFreeStorageGb})`,
  },
  ...(["dbFreeableMemoryMb", "dbConnections"] as const).map((field): Rule => ({
    id: `monitoring.thresholds.${field}`,
    appliesTo: (env) => usesRds(env) && env.database.instanceClass !== undefined,
    check: ({ monitoring: { thresholds }, database }) =>
      thresholds[field] !== undefined
        ? undefined
        : `is required: the project does not know the memory of ${database.instanceClass}, so it cannot derive a default`,
  })),

  // ---- Production is stricter ----
  {
    id: "accountId",
    production: true,
    appliesTo: production,
    check: (env) =>
      env.accountId
        ? undefined
        : `is required in production, so that Terraform refuses whatever other credentials happen to be active: put your AWS account's 12-digit id (aws sts get-caller-identity --query Account) ${OPT_OUT}`,
  },
  {
    id: "layout",
    production: true,
    appliesTo: production,
    check: (env) =>
      loadBalanced(env)
        ? undefined
        : `must be load-balanced in production: ${env.layout} has a single app server, a single point of failure ${OPT_OUT}`,
  },
  {
    id: "app.count.min",
    production: true,
    appliesTo: (env) => production(env) && loadBalanced(env),
    check: ({ app }) =>
      app.count.min >= 2
        ? undefined
        : `must be at least 2 in production, so one failed server does not take the site down (got ${app.count.min})`,
  },
  {
    id: "app.processes",
    production: true,
    appliesTo: production,
    check: ({ app }) =>
      app.processes >= 3
        ? undefined
        : `must be at least 3 in production: with one, every deploy and every crash of it leaves the server with nothing behind nginx, and with two, a release that dies just after its settle window, while the deploy moves the other process, does (got ${app.processes}) ${OPT_OUT}`,
  },
  {
    id: "app.logRetentionDays",
    production: true,
    appliesTo: production,
    check: ({ app }) =>
      app.logRetentionDays >= PRODUCTION_MIN_LOG_DAYS
        ? undefined
        : `must be at least ${PRODUCTION_MIN_LOG_DAYS} in production: an incident or an audit looks back months (got ${app.logRetentionDays}) ${OPT_OUT}`,
  },
  {
    id: "app.detailedMonitoring",
    production: true,
    appliesTo: production,
    check: ({ app }) =>
      app.detailedMonitoring
        ? undefined
        : `must be true in production: the alarms on the servers then see 1-minute metrics, not 5-minute ones ${OPT_OUT}`,
  },
  {
    id: "app.amiUpdates",
    production: true,
    appliesTo: (env) => production(env) && env.app.ami === "al2023",
    check: ({ app }) =>
      app.amiUpdates === "pinned"
        ? undefined
        : `must be pinned in production: with latest, an apply made for another change rolls every server onto a new Amazon Linux release (npm run bump-ami -- <env> moves a pinned one on purpose) (got "${app.amiUpdates}") ${OPT_OUT}`,
  },
  {
    id: "network.flowLogs.enabled",
    production: true,
    appliesTo: production,
    check: ({ network }) =>
      network.flowLogs.enabled
        ? undefined
        : `must be true in production: the VPC's flow logs are the record of who talked to what, when something went wrong ${OPT_OUT}`,
  },
  {
    id: "database.multiAz",
    production: true,
    appliesTo: (env) => production(env) && usesRds(env),
    check: (env) =>
      env.database.multiAz
        ? undefined
        : `must be true in production: a standby in a second AZ survives an AZ outage ${OPT_OUT}`,
  },
  {
    id: "database.deletionProtection",
    production: true,
    appliesTo: (env) => production(env) && usesRds(env),
    check: (env) => (env.database.deletionProtection ? undefined : `must be true in production ${OPT_OUT}`),
  },
  {
    id: "database.backupRetentionDays",
    production: true,
    // The single server's nightly dumps too: production keeps a week of them at least.
    appliesTo: production,
    check: (env) =>
      env.database.backupRetentionDays >= 7
        ? undefined
        : `must be at least 7 in production (got ${env.database.backupRetentionDays}) ${OPT_OUT}`,
  },
  {
    id: "loadBalancer.deletionProtection",
    production: true,
    appliesTo: (env) => production(env) && loadBalanced(env),
    check: (env) => (env.loadBalancer.deletionProtection ? undefined : `must be true in production ${OPT_OUT}`),
  },
  {
    id: "loadBalancer.https",
    production: true,
    appliesTo: (env) => production(env) && loadBalanced(env),
    check: (env) =>
      env.loadBalancer.https ? undefined : `must be true in production: plain HTTP exposes sessions ${OPT_OUT}`,
  },
  {
    id: "monitoring.alarmEmails",
    production: true,
    appliesTo: production,
    check: (env) =>
      env.monitoring.alarmEmails.length > 0
        ? undefined
        : `must list at least one address in production: an alarm nobody receives does not page anyone ${OPT_OUT}`,
  },
];

/** The Route 53 zone an environment's records go in: as configured, or the name without its first label. */
export function hostedZoneOf(domain: { readonly name: string; readonly hostedZone?: string }): string {
  return domain.hostedZone ?? domain.name.split(".").slice(1).join(".");
}

/** The ids of the rules an environment may waive. */
export const WAIVABLE_RULES = RULES.filter((r) => r.production).map((r) => r.id);

/** Every broken rule of `env` that it has not waived, and every exception that waives nothing real. */
export function ruleProblems(env: EnvironmentConfig): string[] {
  const waived = new Set(env.exceptions.map((e) => e.rule));
  const broken = RULES.filter((rule) => rule.appliesTo(env)).flatMap((rule) =>
    [rule.check(env) ?? []].flat().map((problem) => ({ rule, problem })),
  );
  const problems = broken
    .filter(({ rule }) => !(rule.production && waived.has(rule.id)))
    .map(
      ({ rule, problem }) => `${rule.id}${problem.startsWith("[") ? "" : " "}${problem.replace(/<field>/g, rule.id)}`,
    );
  env.exceptions.forEach((exception, i) => {
    if (!WAIVABLE_RULES.includes(exception.rule)) {
      problems.push(`exceptions[${i}].rule must be one of: ${WAIVABLE_RULES.join(", ")} (got "${exception.rule}")`);
    } else if (!broken.some(({ rule }) => rule.id === exception.rule)) {
      problems.push(`exceptions[${i}] waives ${exception.rule}, which this environment does not break: remove it`);
    }
  });
  return problems;
}
