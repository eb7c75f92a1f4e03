import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import type { Construct } from "constructs";
import type { Naming } from "../naming";

/**
 * A tier's security group with no inline rules (rules are one resource each, so adding one never
 * rewrites the others), named by prefix and created before its replacement is destroyed, since a
 * group cannot be deleted while instances still use it.
 */
export function tierSecurityGroup(
  scope: Construct,
  naming: Naming,
  tier: string,
  vpcId: string,
  description: string,
): SecurityGroup {
  return new SecurityGroup(scope, "SecurityGroup", {
    namePrefix: `${naming.name(tier)}-`,
    description: `${description} of ${naming.project}-${naming.environment}`,
    vpcId,
    tags: naming.tags(tier),
    lifecycle: { createBeforeDestroy: true },
  });
}

/** One TCP port of a group opened to the whole internet (only the ALB, or a server with no ALB in front). */
export function internetIngress(
  scope: Construct,
  securityGroupId: string,
  port: number,
  description: string,
): VpcSecurityGroupIngressRule {
  return new VpcSecurityGroupIngressRule(scope, `IngressInternet${port}`, {
    securityGroupId,
    cidrIpv4: "0.0.0.0/0",
    ipProtocol: "tcp",
    fromPort: port,
    toPort: port,
    description,
  });
}
