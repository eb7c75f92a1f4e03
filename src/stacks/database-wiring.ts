import { TerraformOutput, type ITerraformDependable } from "cdktf";
import { al2023ServerPackage } from "../config/database-engines";
import { ENGINES } from "../config/schema";
import type { DatabaseAccess } from "../constructs/app-identity";
import type { Database, DatabaseProps } from "../constructs/database";
import { DatabaseSettingsParameter } from "../constructs/database-settings";
import { LocalDatabase } from "../constructs/local-database";
import { DATABASE_ENV_FILE, SERVER_PATHS, type AppDatabase } from "../userdata/app-host";
import { DB_BACKUP_SCRIPT, DB_RESTORE_SCRIPT } from "../userdata/local-database";
import { rdsInstanceUrl } from "./console-links";
import type { EnvironmentStack } from "./environment-stack";

/** The Database props an environment's config gives, in the private data subnets. */
export function databaseProps(stack: EnvironmentStack): DatabaseProps {
  const { env, naming, network } = stack;
  const db = env.database;
  if (!db.instanceClass) throw new Error(`${env.name}: database.instanceClass is required for layout ${env.layout}`);
  return {
    naming,
    vpcId: network.vpcId,
    subnetIds: network.privateDataSubnets.ids,
    engine: db.engine,
    engineVersion: db.engineVersion,
    databaseName: db.name,
    masterUsername: db.username,
    instanceClass: db.instanceClass,
    allocatedStorageGb: db.allocatedStorageGb,
    maxAllocatedStorageGb: db.maxAllocatedStorageGb,
    multiAz: db.multiAz,
    deletionProtection: db.deletionProtection,
    backupRetentionDays: db.backupRetentionDays,
    logRetentionDays: env.app.logRetentionDays,
  };
}

/** Where the app finds the database, and where its credentials are (never the password itself). */
export function addDatabaseOutputs(stack: EnvironmentStack, database: Database): void {
  new TerraformOutput(stack, "console_database_url", {
    value: rdsInstanceUrl(stack.env.region, database.instanceIdentifier),
    description: "The database in the RDS console, in this environment's region",
  });
  new TerraformOutput(stack, "db_endpoint", { value: database.endpoint, description: "host:port of the database" });
  new TerraformOutput(stack, "db_secret_arn", {
    value: database.masterSecretArn,
    description: "Secrets Manager secret with the RDS-managed master credentials",
  });
}

/** How the app servers reach their database: AWS permissions, what the servers are told, boot order. */
export interface AppDatabaseWiring {
  readonly access: DatabaseAccess;
  readonly host: AppDatabase;
  /** The servers boot after these exist. */
  readonly bootDependsOn: readonly ITerraformDependable[];
}

/** Where the servers keep RDS's CA bundle, which the app checks the server's certificate against. */
export const RDS_CA_BUNDLE = "/etc/app/rds-ca.pem";

/**
 * The app's way to RDS: TLS with the server's certificate verified against RDS's CA bundle for the
 * region, as RDS's master user, whose password RDS keeps (and rotates) in its managed secret. The
 * servers may read that one secret and the settings, nothing else of the database.
 */
export function rdsDatabaseWiring(stack: EnvironmentStack, database: Database): AppDatabaseWiring {
  const { env, naming } = stack;
  const settings = new DatabaseSettingsParameter(stack, "DatabaseSettings", {
    naming,
    settings: {
      engine: env.database.engine,
      host: database.address,
      port: database.port,
      name: env.database.name,
      username: env.database.username,
      tls: "verify-full",
      caFile: RDS_CA_BUNDLE,
      secretId: database.masterSecretArn,
      region: env.region,
    },
  });
  return {
    access: {
      secretArn: database.masterSecretArn,
      secretArnPattern: database.masterSecretArnPattern,
      secretOwner: database.secretOwner,
      fillsSecret: false,
      parameterArns: [settings.parameterArn],
    },
    host: {
      settingsParameter: settings.parameterName,
      region: env.region,
      envFile: DATABASE_ENV_FILE,
      caBundle: {
        url: `https://truststore.pki.rds.amazonaws.com/${env.region}/${env.region}-bundle.pem`,
        path: RDS_CA_BUNDLE,
      },
    },
    bootDependsOn: [settings.parameter],
  };
}

/** The single server's nightly dumps: systemd OnCalendar, 18:00 UTC (03:00 in Seoul). */
export const BACKUP_SCHEDULE = "*-*-* 18:00:00 UTC";

/**
 * The single server's own database: the engine and major the config asks for (checked against
 * what Amazon Linux 2023 packages before anything is synthesized), on 127.0.0.1, the app user's
 * password in a secret the server fills at first boot, nightly dumps to a bucket, and the outputs
 * that say where the backups are and how to restore one.
 */
export function localDatabaseWiring(stack: EnvironmentStack): AppDatabaseWiring {
  const { env, naming } = stack;
  const { engine, engineVersion } = env.database;
  const serverPackage = al2023ServerPackage(engine, engineVersion);
  if ((engine !== "postgres" && engine !== "mariadb") || !serverPackage) {
    // The config rules reject this before any stack exists; this guards direct use of the stacks.
    throw new Error(
      `${env.name}: Amazon Linux 2023 packages no ${engine} ${engineVersion} server for layout single-server`,
    );
  }
  const local = new LocalDatabase(stack, "LocalDatabase", {
    naming,
    backupRetentionDays: env.database.backupRetentionDays,
    protectData: env.database.deletionProtection,
  });
  const port = ENGINES[engine].port;
  const settings = new DatabaseSettingsParameter(stack, "DatabaseSettings", {
    naming,
    settings: {
      engine,
      host: "127.0.0.1",
      port,
      name: env.database.name,
      username: env.database.username,
      tls: "disable",
      secretId: local.secretArn,
      region: env.region,
    },
  });
  new TerraformOutput(stack, "db_backups", {
    value: `s3://${local.backupBucketName}/${local.backupPrefix}`,
    description: `Nightly dumps of the server's database, kept ${env.database.backupRetentionDays} days`,
  });
  new TerraformOutput(stack, "db_restore", {
    value: `sudo ${SERVER_PATHS.appRoot}/${DB_RESTORE_SCRIPT} latest   (on the server, after sudo systemctl stop 'app@*'; then sudo ${SERVER_PATHS.appRoot}/bin/deploy <the running version>. A dump now: sudo ${SERVER_PATHS.appRoot}/${DB_BACKUP_SCRIPT})`,
    description:
      "Restore the newest dump over the app's database (docs/layouts.md#backups-and-restore-on-a-single-server)",
  });
  new TerraformOutput(stack, "db_secret_arn", {
    value: local.secretArn,
    description: "Secrets Manager secret with the app user's password (filled by the server at first boot)",
  });
  return {
    access: {
      secretArn: local.secretArn,
      secretArnPattern: local.secretArnPattern,
      fillsSecret: true,
      parameterArns: [settings.parameterArn, local.backupBucketParameterArn],
      backups: {
        bucketArn: local.backupBucketArn,
        bucketArnPattern: local.backupBucketArnPattern,
        prefix: local.backupPrefix,
      },
    },
    host: {
      settingsParameter: settings.parameterName,
      region: env.region,
      envFile: DATABASE_ENV_FILE,
      local: {
        engine,
        serverPackage,
        port,
        name: env.database.name,
        username: env.database.username,
        backupBucketParameter: local.backupBucketParameterName,
        backupPrefix: local.backupPrefix,
        backupSchedule: BACKUP_SCHEDULE,
      },
    },
    bootDependsOn: [settings.parameter, ...local.bootDependsOn],
  };
}
