import { SHIPPED_NAMES, shippedStack } from "../shipped";

// The permissions boundary of an environment's roles (src/constructs/role-boundary.ts), read from
// the shipped environments' stacks, as npm run synth writes them: what caps each role, and what
// the boundary lets through.

/** `${data.aws_iam_policy_document.<name>.json}` -> `<name>` */
const documentName = (reference: string) =>
  /^\$\{data\.aws_iam_policy_document\.([A-Za-z0-9_]+)\.json\}$/.exec(reference)![1];

interface Statement {
  sid?: string;
  effect: string;
  actions: string[];
  resources: string[];
  condition?: { test: string; variable: string; values: string[] }[];
}

/** A policy document's statement as IAM's JSON writes it (what the boundary holds). */
function asIam(s: Statement) {
  const condition: Record<string, Record<string, string[]>> = {};
  for (const c of s.condition ?? []) condition[c.test] = { ...condition[c.test], [c.variable]: c.values };
  return {
    ...(s.sid ? { Sid: s.sid } : {}),
    Effect: s.effect,
    Action: s.actions,
    Resource: s.resources,
    ...(s.condition ? { Condition: condition } : {}),
  };
}

function boundaryOf(env: string) {
  const stack = shippedStack(env);
  const [policy] = stack.resources("aws_iam_policy");
  const text = policy.values.policy as string;
  // the references in it are ARNs (no quotes): it parses as it stands
  const document = JSON.parse(text) as { Version: string; Statement: Array<Record<string, unknown>> };
  const statements = (name: string) =>
    (stack.dataSources("aws_iam_policy_document").find((d) => d.name === name)!.values.statement ?? []) as Statement[];
  return { stack, policy, text, document, statements };
}

describe.each(SHIPPED_NAMES)("%s", (env) => {
  test("its one boundary holds the statements of every policy its roles carry, and Session Manager's share of the managed one, and nothing else: no role may do more than its own policies say", () => {
    const { stack, document, statements } = boundaryOf(env);
    expect(stack.countOf("aws_iam_policy")).toBe(1);
    expect(document.Version).toBe("2012-10-17");
    const rolePolicies = stack.resources("aws_iam_role_policy").map((p) => documentName(p.values.policy as string));
    expect(rolePolicies.length).toBeGreaterThanOrEqual(2);
    const fromRoles = rolePolicies.flatMap((name) => statements(name).map(asIam));
    const sessionManager = ["SsmAgent", "SsmAgentParameters", "SessionManagerChannels"];
    const sorted = (list: object[]) => list.map((s) => JSON.stringify(s)).sort();
    expect(sorted(document.Statement.filter((s) => !sessionManager.includes(s.Sid as string)))).toEqual(
      sorted(fromRoles),
    );
    expect(document.Statement.map((s) => s.Sid).filter((sid) => sessionManager.includes(sid as string))).toEqual(
      sessionManager,
    );
    // the one managed policy the servers' role carries is the one whose share is in it
    expect(stack.resources("aws_iam_role_policy_attachment").map((a) => a.values.policy_arn)).toEqual([
      "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    ]);
  });

  test("it refers to no policy document, only to resources' attributes: Terraform would read a document at apply time whenever what it names has any change pending (a database's class, a bucket's tag), and every such plan would show the boundary as changing (review BK)", () => {
    const { text } = boundaryOf(env);
    const references = text.match(/\$\{[^}]*\}/g) ?? [];
    expect(references.length).toBeGreaterThan(0);
    // resources', and the caller's account (a data source that depends on nothing)
    for (const reference of references) {
      expect(reference).toMatch(/^\$\{(aws_[a-z0-9_]+\.[A-Za-z0-9_]+|data\.aws_caller_identity\.[A-Za-z0-9_]+)\./);
    }
  });

  test("its statement ids differ (IAM refuses a policy that repeats one)", () => {
    const { document } = boundaryOf(env);
    const sids = document.Statement.map((s) => s.Sid).filter((sid) => sid !== undefined);
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
    const { stack, document } = boundaryOf(env);
    const project = stack.doc.provider.aws[0].default_tags[0].tags.Project as string;
    const share = document.Statement.filter((s) => /^(SsmAgent|SessionManager)/.test(s.Sid as string));
    expect(share.find((s) => s.Sid === "SsmAgentParameters")).toEqual({
      Sid: "SsmAgentParameters",
      Effect: "Allow",
      Action: ["ssm:GetParameter", "ssm:GetParameters"],
      Resource: [`arn:aws:ssm:*:*:parameter/${project}/${env}/*`, "arn:aws:ssm:*::parameter/aws/service/*"],
    });
    // no parameter on "*", and nothing of ssm:SendCommand, StartSession or parameter writes
    const actions = share.flatMap((s) => s.Action as string[]);
    expect(actions).toEqual(
      expect.arrayContaining([
        "ssm:UpdateInstanceInformation",
        "ssmmessages:OpenDataChannel",
        "ec2messages:GetMessages",
      ]),
    );
    expect(actions.filter((a) => /\*|SendCommand|StartSession|PutParameter|DeleteParameter/.test(a))).toEqual([]);
    for (const s of share.filter((s) => s.Sid !== "SsmAgentParameters")) {
      expect({
        sid: s.Sid,
        parameters: (s.Action as string[]).filter((a) => a.startsWith("ssm:GetParameter")),
      }).toEqual({ sid: s.Sid, parameters: [] });
    }
  });

  test("it fits a managed policy (6,144 characters, white space not counted), each reference counted as a 200-character ARN", () => {
    const { text } = boundaryOf(env);
    const size = text.replace(/\$\{[^}]*\}/g, "x".repeat(200)).replace(/\s/g, "").length;
    expect(size).toBeLessThan(6144);
  });
});
