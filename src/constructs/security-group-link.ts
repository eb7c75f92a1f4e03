import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";

export interface SecurityGroupLinkProps {
  /** The security group whose members open connections. */
  readonly fromSecurityGroupId: string;
  /** The security group whose members accept them. */
  readonly toSecurityGroupId: string;
  /** TCP port on the receiving side. */
  readonly port: number;
  /** What the traffic is, e.g. "HTTP from the ALB to the app servers". */
  readonly description: string;
}

/**
 * One hop of the security group chain (internet -> ALB -> app -> DB): an ingress rule on the
 * receiving group whose source is the sending group, and the matching egress rule on the sender.
 * Sources are groups, never CIDRs, so only members of the previous tier can connect.
 *
 * @example
 * new SecurityGroupLink(this, "AppToDatabase", {
 *   fromSecurityGroupId: app.securityGroupId, toSecurityGroupId: db.securityGroupId,
 *   port: 5432, description: "PostgreSQL from the app servers",
 * });
 */
export class SecurityGroupLink extends Construct {
  /** Its two rules: a server that must reach the other side at boot (migrations) depends on them. */
  public readonly rules: readonly ITerraformDependable[];

  constructor(scope: Construct, id: string, props: SecurityGroupLinkProps) {
    super(scope, id);
    const ingress = new VpcSecurityGroupIngressRule(this, "Ingress", {
      securityGroupId: props.toSecurityGroupId,
      referencedSecurityGroupId: props.fromSecurityGroupId,
      ipProtocol: "tcp",
      fromPort: props.port,
      toPort: props.port,
      description: props.description,
    });
    const egress = new VpcSecurityGroupEgressRule(this, "Egress", {
      securityGroupId: props.fromSecurityGroupId,
      referencedSecurityGroupId: props.toSecurityGroupId,
      ipProtocol: "tcp",
      fromPort: props.port,
      toPort: props.port,
      description: props.description,
    });
    this.rules = [ingress, egress];
  }
}
