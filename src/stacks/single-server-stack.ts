import type { Construct } from "constructs";
import { addAppIdentity, addAppRelease, addPublicAppServer, publicPorts } from "./app-wiring";
import { localDatabaseWiring } from "./database-wiring";
import { EnvironmentStack, type EnvironmentStackProps } from "./environment-stack";
import { addMonitoring } from "./monitoring-wiring";

/**
 * Layout `single-server`: one EC2 instance in a public subnet, with an Elastic IP, running both
 * the app (behind nginx) and the database engine (on 127.0.0.1, dumped nightly to S3). The cheapest
 * start, and a single point of failure: see docs/layouts.md#single-server for its risks.
 */
export class SingleServerStack extends EnvironmentStack {
  constructor(scope: Construct, id: string, props: EnvironmentStackProps) {
    super(scope, id, props);
    const release = addAppRelease(this);
    const database = localDatabaseWiring(this);
    const identity = addAppIdentity(this, release, { publicPorts: publicPorts(this), database: database.access });
    const server = addPublicAppServer(this, identity, release, {
      database,
      // The database lives on this box: protect it as the database would be.
      terminationProtection: this.env.database.deletionProtection,
    });
    addMonitoring(this, {
      app: server,
      localDatabase: database.host.local,
      accessLogGroupName: release.logs.accessLogGroupName,
    });
  }
}
