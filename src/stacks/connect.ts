/** The commands an operator pastes to get onto the servers, printed as stack outputs. */

/** Session Manager into one instance (no open port, no key). */
export function ssmCommand(region: string, instanceId: string): string {
  return `aws ssm start-session --region ${region} --target ${instanceId}`;
}

/** Session Manager into the first running instance of an Auto Scaling group. */
export function ssmCommandForGroup(region: string, groupName: string): string {
  const lookup = [
    `aws ec2 describe-instances --region ${region}`,
    `--filters Name=tag:aws:autoscaling:groupName,Values=${groupName} Name=instance-state-name,Values=running`,
    `--query 'Reservations[0].Instances[0].InstanceId' --output text`,
  ].join(" ");
  return `aws ssm start-session --region ${region} --target $(${lookup})`;
}

/**
 * SSH with the key pair's private key; Amazon Linux's user is ec2-user. A key pair made in EC2
 * (`keyName`) gave its `.pem` once, named after it; one imported from `publicKey` (its name EC2's,
 * with a suffix) has the private key that stayed with whoever made it (review BD).
 */
export function sshCommand(keyName: string, host: string, imported = false): string {
  return imported ? `ssh -i <your private key> ec2-user@${host}` : `ssh -i ~/.ssh/${keyName}.pem ec2-user@${host}`;
}
