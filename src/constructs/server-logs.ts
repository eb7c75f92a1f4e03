import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { Construct } from "constructs";
import type { Naming } from "../naming";
import type { ServerLogGroups } from "../userdata/cloudwatch-agent";

export interface ServerLogsProps {
  readonly naming: Naming;
  /** Days CloudWatch keeps each log. */
  readonly retentionDays: number;
}

/**
 * The log groups the app servers' CloudWatch agent ships to, created here so that their
 * retention is set (a group the agent creates itself keeps logs forever):
 * `/<project>/<env>/app`, `.../nginx/access`, `.../nginx/error` and `.../boot`.
 */
export class ServerLogs extends Construct {
  /** Group names, as the agent's configuration refers to them. */
  public readonly groups: ServerLogGroups;
  /** The log group resources, for servers to boot after. */
  public readonly logGroups: CloudwatchLogGroup[];
  /** The nginx access log's group, by its resource's name (what reads it is created after it). */
  public readonly accessLogGroupName: string;

  constructor(scope: Construct, id: string, props: ServerLogsProps) {
    super(scope, id);
    const { naming } = props;
    const paths: Record<keyof ServerLogGroups, string> = {
      app: "app",
      nginxAccess: "nginx/access",
      nginxError: "nginx/error",
      boot: "boot",
    };
    // Literal names, not the resources' tokens: the agent's configuration is in the user data,
    // which is fixed at synth time. Servers boot after these exist (`logGroups`), so the agent
    // never creates one itself.
    this.groups = {
      app: naming.path(paths.app),
      nginxAccess: naming.path(paths.nginxAccess),
      nginxError: naming.path(paths.nginxError),
      boot: naming.path(paths.boot),
    };
    const keys = Object.keys(paths) as (keyof ServerLogGroups)[];
    const created = {} as Record<keyof ServerLogGroups, CloudwatchLogGroup>;
    for (const key of keys) {
      created[key] = new CloudwatchLogGroup(this, key.charAt(0).toUpperCase() + key.slice(1), {
        name: this.groups[key],
        retentionInDays: props.retentionDays,
        tags: naming.tags(`logs-${paths[key].replace("/", "-")}`),
      });
    }
    this.logGroups = keys.map((key) => created[key]);
    this.accessLogGroupName = created.nginxAccess.name;
  }
}
