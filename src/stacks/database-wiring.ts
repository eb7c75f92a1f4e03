import { TerraformOutput } from "cdktf";
import type { Database, DatabaseProps } from "../constructs/database";
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
