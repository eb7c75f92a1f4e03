import type { Construct } from "constructs";
import { Database } from "../constructs/database";
import { SecurityGroupLink } from "../constructs/security-group-link";
import { addAppIdentity, addAppRelease, addPublicAppServer, publicPorts } from "./app-wiring";
import { addDatabaseOutputs, databaseProps, rdsDatabaseWiring } from "./database-wiring";
import { EnvironmentStack, type EnvironmentStackProps } from "./environment-stack";
import { addMonitoring } from "./monitoring-wiring";

/**
 * Layout `app-db-split`: one app server in a public subnet with an Elastic IP, and the database
 * moved to RDS in the private data subnets, reachable only from the app server's security group.
 */
export class AppDbSplitStack extends EnvironmentStack {
  constructor(scope: Construct, id: string, props: EnvironmentStackProps) {
    super(scope, id, props);
    const database = new Database(this, "Database", databaseProps(this));
    const release = addAppRelease(this);
    const wiring = rdsDatabaseWiring(this, database);
    const identity = addAppIdentity(this, release, { publicPorts: publicPorts(this), database: wiring.access });
    const appToDatabase = new SecurityGroupLink(this, "AppToDatabase", {
      fromSecurityGroupId: identity.securityGroupId,
      toSecurityGroupId: database.securityGroupId,
      port: database.port,
      description: `${this.env.database.engine} from the app server`,
    });
    // The first boot runs the migrations: the rules to RDS must exist before the server starts.
    const server = addPublicAppServer(this, identity, release, {
      database: wiring,
      terminationProtection: false,
      bootDependsOn: appToDatabase.rules,
    });
    addDatabaseOutputs(this, database);
    addMonitoring(this, { app: server, database, accessLogGroupName: release.logs.accessLogGroupName });
  }
}
