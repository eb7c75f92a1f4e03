import { DataAwsIamPolicyDocument } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { IamPolicy } from "@cdktf/provider-aws/lib/iam-policy";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { Naming } from "../naming";

export interface RoleBoundaryProps {
  /** Builds physical names: the policy is `<project>-<env>-boundary`. */
  readonly naming: Naming;
}

/**
 * The permissions boundary of the environment's roles (the servers' and the flow logs'): the most
 * any of them may ever do, which is what their own policies allow as this stack wrote them.
 *
 * A deploy role writes those roles' policies, and without a boundary could write one that allows
 * everything onto a role it then passes to a server it launches, or makes assumable by itself: a
 * role stronger than itself. The deploy roles (src/ops/pipeline-iam.ts) may create a role or put a
 * policy on one only when the role carries this boundary, and may not change the boundary: an
 * administrator's credentials create and change it (docs/ci-cd.md). Each role's policy document
 * joins it through `allow`, so the boundary grows with what the stack gives its roles, and a change
 * to what a server may do shows in the plan as a change to this policy.
 *
 * @example
 * const boundary = new RoleBoundary(this, "RoleBoundary", { naming });
 * new IamRole(this, "Role", { ..., permissionsBoundary: boundary.arn });
 * boundary.allow(policyDocument);
 */
export class RoleBoundary extends Construct {
  /** The boundary policy's ARN, for a role's `permissionsBoundary`. */
  public readonly arn: string;
  /** The policy's name, `<project>-<env>-boundary` (the deploy roles' policies name it too). */
  public readonly policyName: string;
  /**
   * The policy itself: a server must not boot before it holds what the server's role was just
   * given, or the role's new permission is cut off at the server's first calls.
   */
  public readonly policy: ITerraformDependable;
  private readonly document: DataAwsIamPolicyDocument;
  private readonly sources: string[] = [];

  constructor(scope: Construct, id: string, props: RoleBoundaryProps) {
    super(scope, id);
    this.policyName = props.naming.roleBoundaryName();
    // Only merged documents: `allow` fills sourcePolicyDocuments (their statement ids must differ).
    this.document = new DataAwsIamPolicyDocument(this, "Document", {});
    const policy = new IamPolicy(this, "Policy", {
      name: this.policyName,
      description: `The most the roles of ${props.naming.project} ${props.naming.environment} may do`,
      policy: this.document.json,
      tags: props.naming.tags("boundary"),
    });
    this.arn = policy.arn;
    this.policy = policy;
  }

  /** Lets the roles under this boundary do what `document` allows (a role's own policy, or a managed one's). */
  public allow(document: DataAwsIamPolicyDocument): void {
    this.sources.push(document.json);
    this.document.sourcePolicyDocuments = [...this.sources];
  }
}
