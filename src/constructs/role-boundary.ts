import type {
  DataAwsIamPolicyDocument,
  DataAwsIamPolicyDocumentStatement,
} from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
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
 * administrator's credentials create and change it (docs/ci-cd.md). Each role's policy statements
 * join it through `allow`, so the boundary grows with what the stack gives its roles, and a change
 * to what a server may do shows in the plan as a change to this policy.
 *
 * The policy is JSON written here, not an `aws_iam_policy_document`: Terraform reads a data source
 * only at apply time whenever anything it refers to has a change pending (a database's new class,
 * a bucket's tag), so the boundary would show as "known after apply" in every such plan, and CI
 * would stop for an administrator for nothing. Written here, it refers to resources' attributes
 * directly, known at plan time unless the resource itself is replaced.
 *
 * @example
 * const boundary = new RoleBoundary(this, "RoleBoundary", { naming });
 * new IamRole(this, "Role", { ..., permissionsBoundary: boundary.arn });
 * boundary.allow(statements); // the same statements as the role's own policy document
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
  private readonly resource: IamPolicy;
  private readonly statements: object[] = [];

  constructor(scope: Construct, id: string, props: RoleBoundaryProps) {
    super(scope, id);
    this.policyName = props.naming.roleBoundaryName();
    this.resource = new IamPolicy(this, "Policy", {
      name: this.policyName,
      description: `The most the roles of ${props.naming.project} ${props.naming.environment} may do`,
      policy: this.document(),
      tags: props.naming.tags("boundary"),
    });
    this.arn = this.resource.arn;
    this.policy = this.resource;
  }

  /**
   * Lets the roles under this boundary do what a role's own policy document allows (its statements,
   * as given to it), or what `statements` allow (a managed policy's share). Statement ids must
   * differ across every call: IAM refuses a policy that repeats one.
   */
  public allow(source: DataAwsIamPolicyDocument | readonly DataAwsIamPolicyDocumentStatement[]): void {
    const statements = Array.isArray(source) ? source : (source as DataAwsIamPolicyDocument).statementInput;
    if (!Array.isArray(statements))
      throw new Error("RoleBoundary: a policy document's statements must be given as a list");
    for (const s of statements as DataAwsIamPolicyDocumentStatement[]) {
      if (s.effect !== undefined && s.effect !== "Allow")
        throw new Error(`RoleBoundary: only Allow statements (got ${s.effect})`);
      const conditions: Record<string, Record<string, string[]>> = {};
      for (const c of (s.condition ?? []) as { test: string; variable: string; values: string[] }[]) {
        conditions[c.test] = { ...conditions[c.test], [c.variable]: c.values };
      }
      this.statements.push({
        ...(s.sid ? { Sid: s.sid } : {}),
        Effect: "Allow",
        Action: s.actions,
        Resource: s.resources,
        ...(Object.keys(conditions).length > 0 ? { Condition: conditions } : {}),
      });
    }
    this.resource.policy = this.document();
  }

  private document(): string {
    return JSON.stringify({ Version: "2012-10-17", Statement: this.statements });
  }
}
