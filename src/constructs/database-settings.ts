import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import { Construct } from "constructs";
import type { Naming } from "../naming";
import { databaseSettingsLines, type DatabaseSettings } from "../userdata/database-step";

export interface DatabaseSettingsParameterProps {
  readonly naming: Naming;
  /** What the app connects to, and where its password is (never the password). */
  readonly settings: DatabaseSettings;
}

/**
 * The app's database settings as an SSM parameter (`/<project>/<env>/app/database`): the
 * `DB_<NAME>=<value>` lines `app/db.js` reads, which the deploy script copies to the servers.
 * Values known only after apply (the RDS endpoint, the secret's ARN) reach the servers this way;
 * none is a secret, so a plain `String` parameter holds them.
 *
 * @example
 * new DatabaseSettingsParameter(this, "DatabaseSettings", { naming, settings: { engine: "postgres", host: db.address, ... } });
 */
export class DatabaseSettingsParameter extends Construct {
  public readonly parameterName: string;
  public readonly parameterArn: string;
  public readonly parameter: SsmParameter;

  constructor(scope: Construct, id: string, props: DatabaseSettingsParameterProps) {
    super(scope, id);
    const { naming } = props;
    this.parameterName = naming.path("app/database");
    this.parameter = new SsmParameter(this, "Parameter", {
      name: this.parameterName,
      type: "String",
      value: databaseSettingsLines(props.settings),
      description:
        "The app's database settings (DB_... lines, no secret); the deploy script writes them to the servers",
      tags: naming.tags("app"),
    });
    this.parameterArn = this.parameter.arn;
  }
}
