import type {
  DataAwsIamPolicyDocument,
  DataAwsIamPolicyDocumentStatement,
} from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { IamPolicy } from "@cdktf/provider-aws/lib/iam-policy";
import { Token, type ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { Naming } from "../naming";

export interface RoleBoundaryProps {
  /** Builds physical names: the policy is `<project>-<env>-boundary`. */
  readonly naming: Naming;
}

/**
 * The permissions boundary of the environment's roles (the servers' and the flow logs'): the most
 * any of them may ever do, which is what their own policies allow, on the environment's own
 * resources.
 *
 * A deploy role writes those roles' policies, and without a boundary could write one that allows
 * everything onto a role it then passes to a server it launches, or makes assumable by itself: a
 * role stronger than itself. The deploy roles (src/ops/pipeline-iam.ts) may create a role or put a
 * policy on one only when the role carries this boundary, and may not change the boundary: an
 * administrator's credentials create and change it (docs/ci-cd.md). Each role's constructs add
 * what their policies allow through `allow` (and `deny`), so a change to what a server may do
 * shows in the plan as a change to this policy.
 *
 * The boundary names resources by their names' patterns, never by reference (`allow` refuses a
 * token): the servers' launch template is created before it is destroyed, and Terraform makes
 * everything it depends on (its role, the role's boundary, and what the boundary refers to) be
 * replaced the same way: a database the boundary referred to would be replaced by a second
 * instance of the same identifier, which RDS refuses. A reference also made the boundary "known
 * after apply" whenever the resource had any change pending (reviews BK, BM). And it is JSON
 * written here, not an `aws_iam_policy_document`, which Terraform reads at apply time whenever
 * what it refers to has changes. It has no description: a new one would replace it, and a boundary
 * cannot be replaced under its own name before it is destroyed.
 *
 * @example
 * const boundary = new RoleBoundary(this, "RoleBoundary", { naming });
 * new IamRole(this, "Role", { ..., permissionsBoundary: boundary.arn });
 * boundary.allow(statements); // the role's own statements, with names where they have references
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
      policy: this.document(),
      tags: props.naming.tags("boundary"),
    });
    this.arn = this.resource.arn;
    this.policy = this.resource;
  }

  /**
   * Lets the roles under this boundary do what a policy document allows (its statements, as given
   * to it), or what `statements` allow. Resources by name only: a statement that refers to a
   * resource (a token) is refused, saying which. Statement ids must differ across every call.
   */
  public allow(source: DataAwsIamPolicyDocument | readonly DataAwsIamPolicyDocumentStatement[]): void {
    const statements = Array.isArray(source) ? source : (source as DataAwsIamPolicyDocument).statementInput;
    if (!Array.isArray(statements))
      throw new Error("RoleBoundary: a policy document's statements must be given as a list");
    this.add("Allow", statements as DataAwsIamPolicyDocumentStatement[]);
  }

  /** Refuses what `statements` name to the roles under this boundary, whatever their policies allow. */
  public deny(statements: readonly DataAwsIamPolicyDocumentStatement[]): void {
    this.add("Deny", statements);
  }

  private add(effect: "Allow" | "Deny", statements: readonly DataAwsIamPolicyDocumentStatement[]): void {
    for (const s of statements) {
      const what = `RoleBoundary: statement ${s.sid ?? "(no sid)"}`;
      if ((s.effect ?? "Allow") !== effect)
        throw new Error(`${what}: ${s.effect} given to ${effect === "Allow" ? "allow" : "deny"}`);
      if (s.notActions || s.notResources || s.principals || s.notPrincipals || !s.actions || !s.resources) {
        throw new Error(`${what}: only actions on resources (no NotAction, NotResource or principals)`);
      }
      const conditions: Record<string, Record<string, string[]>> = {};
      for (const c of (s.condition ?? []) as { test: string; variable: string; values: string[] }[]) {
        // the same test and variable twice: their values add up, as aws_iam_policy_document's do
        const test = (conditions[c.test] ??= {});
        test[c.variable] = [...(test[c.variable] ?? []), ...c.values];
      }
      const named = [
        ...s.actions,
        ...s.resources,
        ...Object.values(conditions).flatMap((t) => Object.values(t).flat()),
      ];
      const reference = named.find((value) => Token.isUnresolved(value));
      if (reference !== undefined) {
        throw new Error(`${what}: names a resource by reference (${reference}): give its name's pattern instead`);
      }
      this.statements.push({
        ...(s.sid ? { Sid: s.sid } : {}),
        Effect: effect,
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
