import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { DbInstance } from "@cdktf/provider-aws/lib/db-instance";
import { DbParameterGroup } from "@cdktf/provider-aws/lib/db-parameter-group";
import { DbSubnetGroup } from "@cdktf/provider-aws/lib/db-subnet-group";
import { Fn } from "cdktf";
import { Construct } from "constructs";
import { ENGINES, engineMajor, type Engine, type LogRetentionDays } from "../config/schema";
import type { Naming } from "../naming";
import { tierSecurityGroup } from "./tier-security-group";

export interface DatabaseProps {
  readonly naming: Naming;
  readonly vpcId: string;
  /** Private data subnets, in at least two distinct AZs. */
  readonly subnetIds: readonly string[];
  readonly engine: Engine;
  readonly engineVersion: string;
  readonly instanceClass: string;
  readonly allocatedStorageGb: number;
  /** Storage autoscaling ceiling. */
  readonly maxAllocatedStorageGb: number;
  /** A synchronous standby in another AZ. */
  readonly multiAz: boolean;
  /** Refuse deletion through the API; also makes Terraform refuse to plan the instance's destruction. */
  readonly deletionProtection: boolean;
  readonly backupRetentionDays: number;
  /** Days CloudWatch keeps the logs the database exports (its log groups are created here first). */
  readonly logRetentionDays: LogRetentionDays;
  /** The database the app uses, created with the instance (environment config: database.name). */
  readonly databaseName: string;
  /** The master user, whose password RDS keeps in Secrets Manager (environment config: database.username). */
  readonly masterUsername: string;
  /** @default "17:00-18:00" (UTC; 02:00-03:00 in Seoul) */
  readonly backupWindow?: string;
  /** @default "sun:18:00-sun:19:00" (UTC; right after the backup window) */
  readonly maintenanceWindow?: string;
}

/**
 * Whether RDS offers Performance Insights (Database Insights' standard mode) for `engine` on
 * `instanceClass`: every PostgreSQL class; MySQL and MariaDB not on the micro and small burstable
 * classes (RDS refuses the instance if it is asked for there).
 */
export function performanceInsightsSupported(engine: Engine, instanceClass: string): boolean {
  return engine === "postgres" || !/^db\.t(2|3|4g)\.(micro|small)$/.test(instanceClass);
}

/** Logs each engine can export to CloudWatch Logs. */
const LOG_EXPORTS: Record<Engine, string[]> = {
  postgres: ["postgresql", "upgrade"],
  mysql: ["error", "slowquery"],
  mariadb: ["error", "slowquery"],
};
/**
 * Parameters each engine runs with: refuse unencrypted connections, and log statements slower than
 * one second (otherwise the exported slow-query log stays empty). MariaDB takes MySQL's (RDS for
 * MariaDB 10.5 and later has `require_secure_transport`).
 */
const MYSQL_PARAMETERS = [
  { name: "require_secure_transport", value: "1" },
  { name: "slow_query_log", value: "1" },
  { name: "long_query_time", value: "1" },
  // RDS exports the slow-query log to CloudWatch only from a file (the default, TABLE, exports nothing).
  { name: "log_output", value: "FILE" },
];
const PARAMETERS: Record<Engine, Array<{ name: string; value: string }>> = {
  postgres: [
    { name: "rds.force_ssl", value: "1" },
    { name: "log_min_duration_statement", value: "1000" },
  ],
  mysql: MYSQL_PARAMETERS,
  mariadb: MYSQL_PARAMETERS,
};

/**
 * The database server: an RDS instance in the private data subnets, never publicly accessible,
 * storage encrypted, TLS required, and its master password created and rotated by RDS in Secrets
 * Manager (no password in code, in the Terraform JSON or in state). Backups are kept, a final
 * snapshot is taken on deletion, and with `deletionProtection` Terraform itself refuses to destroy
 * it (`prevent_destroy`). Its security group has no rules: callers link the app tier to it.
 *
 * @example
 * const db = new Database(this, "Database", { naming, vpcId, subnetIds, engine: "postgres", engineVersion: "16.4", ... });
 * new SecurityGroupLink(this, "AppToDatabase", { fromSecurityGroupId: app.securityGroupId, toSecurityGroupId: db.securityGroupId, port: db.port, ... });
 */
export class Database extends Construct {
  public readonly securityGroupId: string;
  public readonly port: number;
  public readonly endpoint: string;
  public readonly address: string;
  /** The Secrets Manager secret RDS keeps the master credentials in. */
  public readonly masterSecretArn: string;
  /**
   * The master secret by name, for a permissions boundary: RDS names it `rds!db-<id>`, with no
   * environment in it, so `secretOwner` says whose it is (the tag RDS gives it).
   */
  public readonly masterSecretArnPattern = "arn:aws:secretsmanager:*:*:secret:rds!db-*";
  /** This instance's ARN as a pattern (`arn:aws:rds:*:*:db:<identifier>`), the owner RDS tags its secret with. */
  public readonly secretOwner: string;
  public readonly instanceIdentifier: string;
  /** Performance Insights is on (7 days of it, at no charge), where the engine and class allow it. */
  public readonly performanceInsights: boolean;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    const { naming, engine } = props;
    const { databaseName, masterUsername } = props;
    const backupWindow = props.backupWindow ?? "17:00-18:00";
    const maintenanceWindow = props.maintenanceWindow ?? "sun:18:00-sun:19:00";
    this.port = ENGINES[engine].port;
    this.performanceInsights = performanceInsightsSupported(engine, props.instanceClass);

    const pinsMinorVersion = engineMajor(engine, props.engineVersion) !== props.engineVersion;
    const identifier = naming.rdsIdentifier("db");
    const group = tierSecurityGroup(this, naming, "db", props.vpcId, "Database");
    this.securityGroupId = group.id;

    const subnets = new DbSubnetGroup(this, "SubnetGroup", {
      name: identifier,
      subnetIds: [...props.subnetIds],
      tags: naming.tags("db"),
    });
    const parameters = new DbParameterGroup(this, "ParameterGroup", {
      namePrefix: `${identifier}-`,
      family: ENGINES[engine].family(engineMajor(engine, props.engineVersion)),
      parameter: PARAMETERS[engine].map((p) => ({ ...p, applyMethod: "pending-reboot" })),
      tags: naming.tags("db"),
      lifecycle: { createBeforeDestroy: true },
    });

    // ---- Log groups: RDS would create them itself, without retention, on the first export ----
    // They must exist before the instance (and its first export), so the instance depends on them.
    const logGroups = LOG_EXPORTS[engine].map(
      (log) =>
        new CloudwatchLogGroup(this, `Logs${log.charAt(0).toUpperCase()}${log.slice(1)}`, {
          name: `/aws/rds/instance/${identifier}/${log}`,
          retentionInDays: props.logRetentionDays,
          tags: naming.tags(`db-logs-${log}`),
        }),
    );

    const db = new DbInstance(this, "Instance", {
      identifier,
      engine,
      engineVersion: props.engineVersion,
      instanceClass: props.instanceClass,
      dbName: databaseName,
      username: masterUsername,
      manageMasterUserPassword: true,
      port: this.port,
      dbSubnetGroupName: subnets.name,
      vpcSecurityGroupIds: [group.id],
      parameterGroupName: parameters.name,
      publiclyAccessible: false,
      multiAz: props.multiAz,
      storageType: "gp3",
      allocatedStorage: props.allocatedStorageGb,
      maxAllocatedStorage: props.maxAllocatedStorageGb,
      storageEncrypted: true,
      iamDatabaseAuthenticationEnabled: true,
      backupRetentionPeriod: props.backupRetentionDays,
      backupWindow,
      maintenanceWindow,
      copyTagsToSnapshot: true,
      deleteAutomatedBackups: false,
      skipFinalSnapshot: false,
      // One per destroy: a fixed name would collide with the snapshot the previous destroy left
      // (the second destroy of a re-created environment would fail). The time is taken when the
      // instance is created and kept (ignore_changes below), so each instance's name is its own.
      finalSnapshotIdentifier: `${identifier}-final-${Fn.formatdate("YYYYMMDDhhmmss", Fn.timestamp())}`,
      deletionProtection: props.deletionProtection,
      // RDS applies minor versions in the maintenance window. Give engineVersion as a major ("16")
      // so that Terraform does not see each minor upgrade as drift; majors change only on purpose.
      autoMinorVersionUpgrade: true,
      allowMajorVersionUpgrade: false,
      enabledCloudwatchLogsExports: LOG_EXPORTS[engine],
      // what the CPU and memory alarms send on-call to first: the queries behind the load
      performanceInsightsEnabled: this.performanceInsights,
      performanceInsightsRetentionPeriod: this.performanceInsights ? 7 : undefined,
      caCertIdentifier: "rds-ca-rsa2048-g1",
      applyImmediately: false,
      tags: naming.tags("db"),
      dependsOn: logGroups,
      lifecycle: {
        preventDestroy: props.deletionProtection,
        // With a pinned minor ("16.4"), RDS's own minor upgrade to "16.8" reads back as a change the
        // provider would undo with a downgrade RDS refuses; after creation the version is RDS's. Editing
        // a pinned minor is then ignored too: give the major ("16") to change versions on purpose.
        // A major needs no ignore: the provider reads "16.8" back as matching "16". (No ignore for
        // allocated_storage either: with max_allocated_storage the provider already suppresses growth.)
        // final_snapshot_identifier: timestamp() differs at every plan; the creation time is the one kept.
        ignoreChanges: pinsMinorVersion
          ? ["engine_version", "final_snapshot_identifier"]
          : ["final_snapshot_identifier"],
      },
    });
    this.endpoint = db.endpoint;
    this.address = db.address;
    this.masterSecretArn = db.masterUserSecret.get(0).secretArn;
    this.instanceIdentifier = db.identifier;
    this.secretOwner = `arn:aws:rds:*:*:db:${identifier}`;
  }
}
