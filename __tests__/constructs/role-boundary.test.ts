import { SHIPPED_NAMES, shippedStack } from "../shipped";

// The permissions boundary of an environment's roles (src/constructs/role-boundary.ts), read from
// the shipped environments' stacks, as npm run synth writes them: what caps each role, and what
// the boundary lets through.

/** `${data.aws_iam_policy_document.<name>.json}` -> `<name>` */
const documentName = (reference: string) =>
  /^\$\{data\.aws_iam_policy_document\.([A-Za-z0-9_]+)\.json\}$/.exec(reference)?.[1];

interface Statement {
  sid?: string;
  effect: string;
  actions: string[];
  resources: string[];
}

function boundaryOf(env: string) {
  const stack = shippedStack(env);
  const [policy] = stack.resources("aws_iam_policy");
  const document = stack.referenced(policy.values.policy as string);
  const sources = (document.values.source_policy_documents as string[]).map(documentName);
  const statements = (name: string) =>
    (stack.dataSources("aws_iam_policy_document").find((d) => d.name === name)!.values.statement ?? []) as Statement[];
  return { stack, policy, document, sources, statements };
}

describe.each(SHIPPED_NAMES)("%s", (env) => {
  test("its one boundary merges the document of every policy its roles carry, and Session Manager's share of the managed one: no role may do more than its own policies say", () => {
    const { stack, document, sources } = boundaryOf(env);
    expect(stack.countOf("aws_iam_policy")).toBe(1);
    expect(document.values.statement).toBeUndefined();
    const rolePolicies = stack.resources("aws_iam_role_policy").map((p) => documentName(p.values.policy as string));
    expect(rolePolicies.length).toBeGreaterThanOrEqual(2);
    expect([...sources].sort()).toEqual(
      [...rolePolicies, stack.named("aws_iam_policy_document", "SessionManagerBoundary", true).name].sort(),
    );
    // the one managed policy the servers' role carries is the one whose share is merged
    expect(stack.resources("aws_iam_role_policy_attachment").map((a) => a.values.policy_arn)).toEqual([
      "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    ]);
  });

  test("the merged documents' statement ids differ (the provider refuses to merge two of the same id)", () => {
    const { sources, statements } = boundaryOf(env);
    const sids = sources.flatMap((name) => statements(name!).map((s) => s.sid)).filter((sid) => sid !== undefined);
    expect(sids.length).toBeGreaterThan(5);
    expect(sids.filter((sid, i) => sids.indexOf(sid) !== i)).toEqual([]);
  });

  test("every role carries it, and a server boots only after it exists (a role's new permission is cut off until the boundary has it)", () => {
    const { stack, policy } = boundaryOf(env);
    const arn = `\${aws_iam_policy.${policy.name}.arn}`;
    const roles = stack.resources("aws_iam_role");
    expect(roles.length).toBeGreaterThanOrEqual(1);
    for (const role of roles)
      expect({ role: role.name, boundary: role.values.permissions_boundary }).toEqual({
        role: role.name,
        boundary: arn,
      });
    const waiting = ["aws_instance", "aws_autoscaling_group", "aws_launch_template"].flatMap((type) =>
      stack
        .resources(type)
        .filter((r) =>
          (r.values.depends_on as string[] | undefined)?.some((d) => d.startsWith("aws_iam_role_policy.")),
        ),
    );
    expect(waiting.length).toBeGreaterThanOrEqual(1);
    for (const server of waiting) expect(server.values.depends_on).toContain(`aws_iam_policy.${policy.name}`);
  });

  test("Session Manager's share: the agent's calls and channels, and parameters only of this environment and AWS's public ones, where the managed policy allows every parameter of the account", () => {
    const { stack, statements } = boundaryOf(env);
    const share = statements(stack.named("aws_iam_policy_document", "SessionManagerBoundary", true).name);
    const parameters = share.filter((s) => s.actions.some((a) => a.startsWith("ssm:GetParameter")));
    const project = stack.doc.provider.aws[0].default_tags[0].tags.Project as string;
    expect(parameters).toEqual([
      expect.objectContaining({
        actions: ["ssm:GetParameter", "ssm:GetParameters"],
        resources: [`arn:aws:ssm:*:*:parameter/${project}/${env}/*`, "arn:aws:ssm:*::parameter/aws/service/*"],
      }),
    ]);
    // nothing else on "*" that writes beyond the agent's own reports, and no ssm:SendCommand or StartSession
    const actions = share.flatMap((s) => s.actions);
    expect(actions).toEqual(
      expect.arrayContaining([
        "ssm:UpdateInstanceInformation",
        "ssmmessages:OpenDataChannel",
        "ec2messages:GetMessages",
      ]),
    );
    expect(actions.filter((a) => /\*|SendCommand|StartSession|PutParameter|DeleteParameter/.test(a))).toEqual([]);
  });

  test("it fits a managed policy (6,144 characters, white space not counted), each reference counted as a 200-character ARN", () => {
    const { sources, statements } = boundaryOf(env);
    const merged = { Version: "2012-10-17", Statement: sources.flatMap((name) => statements(name!)) };
    const size = JSON.stringify(merged)
      .replace(/\$\{[^}]*\}/g, "x".repeat(200))
      .replace(/\s/g, "").length;
    expect(size).toBeLessThan(6144);
  });
});
