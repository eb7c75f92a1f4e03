/**
 * Links into the AWS console that open in the environment's own region, printed as stack outputs
 * after every deploy: the classic trap is a console left on another region (Osaka instead of
 * Seoul) showing none of the environment's servers. Each link names the region twice: in the host
 * (which console endpoint) and in `?region=` (which region the console shows).
 */

/** The console page `fragment` of `service` in `region`. */
export function consoleUrl(region: string, service: string, fragment: string): string {
  return `https://${region}.console.aws.amazon.com/${service}/home?region=${region}#${fragment}`;
}

/**
 * The EC2 instance list filtered to instances whose Name tag is `nameTag` (every app server of an
 * environment carries `<project>-<env>-app`, single server and Auto Scaling group alike; the
 * provider's default tags do not reach instances an Auto Scaling group launches, so the filter
 * uses the Name tag the launch template sets).
 */
export function ec2InstancesUrl(region: string, nameTag: string): string {
  return consoleUrl(region, "ec2", `Instances:tag:Name=${encodeURIComponent(nameTag)}`);
}

/** The RDS console page of one DB instance. */
export function rdsInstanceUrl(region: string, identifier: string): string {
  return consoleUrl(region, "rds", `database:id=${identifier};is-cluster=false`);
}
