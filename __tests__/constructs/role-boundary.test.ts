import { DataAwsIamPolicyDocument } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { Testing } from "cdktf";
import { RoleBoundary } from "../../src/constructs/role-boundary";
import { Naming } from "../../src/naming";
import { environmentStack } from "../environment-stack";
import type { Synthesized } from "../helpers";
import { appDbSplit, loadBalanced, singleServer } from "../ops/stacks";
import { SHIPPED_NAMES, shippedStack } from "../shipped";

// The permissions boundary of an environment's roles (src/constructs/role-boundary.ts), read from
// the shipped environments' stacks, as npm run synth writes them: what caps each role, and what
// the boundary lets through. The boundary names resources by pattern; each role's own statements,
// with their references made into the ARNs AWS would give those resources, must fall within it.

const ACCOUNT = "123456789012";

interface Statement {
  sid?: string;
  effect: string;
  actions: string[];
  resources: string[];
  condition?: { test: string; variable: string; values: string[] }[];
}
interface IamStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string[]>>;
}

/** IAM's wildcard match (`*` any characters, `?` one), case-sensitive as resources are. */
const matches = (pattern: string, value: string, flags = "") =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
    flags,
  ).test(value);

function boundaryOf(env: string, stack: Synthesized = shippedStack(env)) {
  const [policy] = stack.resources("aws_iam_policy");
  const text = policy.values.policy as string;
  const document = JSON.parse(text) as { Version: string; Statement: IamStatement[] };
  const region = stack.doc.provider.aws[0].region as string;
  /** A reference in a role's statement, as the ARN AWS gives what it refers to. */
  const arnOf = (reference: string): string => {
    const [, data, type, name, attribute] = /^\$\{(data\.)?([a-z0-9_]+)\.([A-Za-z0-9_]+)\.(.+)\}$/.exec(reference)!;
    const values = (data ? stack.dataSources(type) : stack.resources(type)).find((r) => r.name === name)!.values;
    const key = `${type}.${attribute}`;
    if (key === "aws_caller_identity.account_id") return ACCOUNT;
    if (key === "aws_s3_bucket.arn") return `arn:aws:s3:::${values.bucket_prefix}20261205abcdef0123456789`;
    if (key === "aws_ssm_parameter.arn") return `arn:aws:ssm:${region}:${ACCOUNT}:parameter${values.name}`;
    if (key === "aws_secretsmanager_secret.arn")
      return `arn:aws:secretsmanager:${region}:${ACCOUNT}:secret:${values.name_prefix}20261205-AbCdEf`;
    if (key === "aws_db_instance.master_user_secret[0].secret_arn")
      return `arn:aws:secretsmanager:${region}:${ACCOUNT}:secret:rds!db-0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b-AbCdEf`;
    if (key === "aws_cloudwatch_log_group.arn") return `arn:aws:logs:${region}:${ACCOUNT}:log-group:${values.name}`;
    throw new Error(`no ARN known for ${reference}: add it here`);
  };
  const resolve = (text: string) => text.replace(/\$\{[^}]*\}/g, arnOf);
  /** The role policies' statements, references made ARNs. */
  const roleStatements = stack.resources("aws_iam_role_policy").flatMap((p) => {
    const document = stack.referenced(p.values.policy as string);
    return (document.values.statement as Statement[]).map((s) => ({
      ...s,
      resources: s.resources.map(resolve),
      condition: s.condition?.map((c) => ({ ...c, values: c.values.map(resolve) })),
    }));
  });
  /** The database instance's ARN, which RDS tags its secret with. */
  const [db] = stack.resources("aws_db_instance");
  const dbArn = db && `arn:aws:rds:${region}:${ACCOUNT}:db:${db.values.identifier}`;
  /**
   * Whether the boundary lets `action` on `resource` through, for a role statement with these
   * conditions: an Allow whose conditions are the statement's own (or none), and no Deny that
   * applies (the secret tagged with `secretOwner`, as RDS tags its secrets).
   */
  const lets = (
    action: string,
    resource: string,
    conditions: Statement["condition"],
    // the tag RDS gives a secret: its instance's ARN (null: a secret without the tag)
    secretOwner: string | null | undefined = dbArn,
  ) => {
    const asIam: Record<string, Record<string, string[]>> = {};
    for (const c of conditions ?? []) asIam[c.test] = { ...asIam[c.test], [c.variable]: c.values };
    const applies = (s: IamStatement) =>
      s.Action.some((a) => matches(a, action, "i")) && s.Resource.some((r) => matches(r, resource));
    // a boundary's condition lets the statement through when the statement has each of its keys,
    // with the same operator, and no value the boundary's lacks (its own may be narrower)
    const within = (condition: IamStatement["Condition"]) =>
      Object.entries(condition ?? {}).every(([test, keys]) =>
        Object.entries(keys).every(([key, values]) => asIam[test]?.[key]?.every((v) => values.includes(v)) === true),
      );
    const allowed = document.Statement.some((s) => s.Effect === "Allow" && applies(s) && within(s.Condition));
    const denied = document.Statement.some((s) => {
      if (s.Effect !== "Deny" || !applies(s)) return false;
      // the one Deny: another database's secret, by its owner tag, where the secret has the tag
      const key = "secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn";
      expect(Object.keys(s.Condition!).sort()).toEqual(["Null", "StringNotLike"]);
      const tagged = secretOwner !== null && secretOwner !== undefined;
      const nullHolds = s.Condition!.Null[key].includes(String(!tagged)); // Null: "false" = the tag is there
      return nullHolds && tagged && !s.Condition!.StringNotLike[key].some((pattern) => matches(pattern, secretOwner));
    });
    return allowed && !denied;
  };
  return { stack, policy, text, document, roleStatements, lets, region, dbArn };
}

/** Every resource's dependencies, through references and depends_on (data sources followed). */
function dependenciesOf(stack: Synthesized): Map<string, Set<string>> {
  const referencesIn = (value: unknown) =>
    [...JSON.stringify(value).matchAll(/\$\{(data\.)?([a-z0-9_]+)\.([A-Za-z0-9_]+)/g)].map((m) => ({
      data: m[1] !== undefined,
      address: `${m[2]}.${m[3]}`,
    }));
  const deps = new Map<string, Set<string>>();
  for (const [type, all] of Object.entries(stack.doc.resource as Record<string, Record<string, any>>)) {
    for (const [name, values] of Object.entries(all)) {
      const found = new Set<string>(values.depends_on ?? []);
      for (const ref of referencesIn(values)) {
        if (!ref.data) found.add(ref.address);
        else {
          const [dataType, dataName] = ref.address.split(".");
          for (const inner of referencesIn(stack.doc.data?.[dataType]?.[dataName] ?? {}))
            if (!inner.data) found.add(inner.address);
        }
      }
      deps.set(`${type}.${name}`, found);
    }
  }
  return deps;
}

describe.each(SHIPPED_NAMES)("%s", (env) => {
  test("every statement of every policy its roles carry falls within its one boundary, resources by the ARNs AWS gives them", () => {
    const { stack, roleStatements, lets } = boundaryOf(env);
    expect(stack.countOf("aws_iam_policy")).toBe(1);
    expect(roleStatements.length).toBeGreaterThan(5);
    const outside = roleStatements.flatMap((s) =>
      s.actions.flatMap((action) =>
        s.resources.filter((r) => !lets(action, r, s.condition)).map((r) => `${s.sid ?? "?"}: ${action} ${r}`),
      ),
    );
    expect(outside).toEqual([]);
    // the one managed policy the servers' role carries is the one whose share is in it (below)
    expect(stack.resources("aws_iam_role_policy_attachment").map((a) => a.values.policy_arn)).toEqual([
      "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    ]);
  });

  test("and nothing of another environment: not its buckets, parameters, log groups or secrets", () => {
    const { lets, region, dbArn } = boundaryOf(env);
    const other = (name: string) => name.replace(`-${env}-`, "-other-").replace(`/${env}/`, "/other/");
    const project = shippedStack(env).doc.provider.aws[0].default_tags[0].tags.Project as string;
    const tries: Array<[string, string]> = [
      ["s3:GetObject", `arn:aws:s3:::${project}-other-artifacts-20261205abcdef/app/release.tar.gz`],
      ["s3:PutObject", `arn:aws:s3:::${project}-other-db-backups-20261205abcdef/db/x.dump`],
      ["ssm:GetParameter", `arn:aws:ssm:${region}:${ACCOUNT}:parameter/${project}/other/app/database`],
      ["ssm:GetParameter", `arn:aws:ssm:${region}:${ACCOUNT}:parameter/some/team/secret`],
      [
        "logs:PutLogEvents",
        `arn:aws:logs:${region}:${ACCOUNT}:log-group:${other(`/${project}/${env}/app`)}:log-stream:i`,
      ],
      ["secretsmanager:GetSecretValue", `arn:aws:secretsmanager:${region}:${ACCOUNT}:secret:${project}/other/db/app-x`],
      ["s3:GetObject", "arn:aws:s3:::someone-elses-bucket/key"],
      ["iam:PassRole", `arn:aws:iam::${ACCOUNT}:role/${project}-${env}-app-x`],
      ["ssm:SendCommand", "*"],
      // a neighbour whose name begins with this one's (prod-eu beside prod): none of its names either
      ["s3:GetObject", `arn:aws:s3:::${project}-${env}-eu-artifacts-20261205abcdef/app/release.tar.gz`],
      ["s3:ListBucketVersions", `arn:aws:s3:::${project}-${env}-eu-artifacts-20261205abcdef`],
      ["s3:PutObject", `arn:aws:s3:::${project}-${env}-eu-db-backups-20261205abcdef/db/x.dump`],
      ["ssm:GetParameter", `arn:aws:ssm:${region}:${ACCOUNT}:parameter/${project}/${env}-eu/app/database`],
      ["logs:PutLogEvents", `arn:aws:logs:${region}:${ACCOUNT}:log-group:/${project}/${env}-eu/app:log-stream:i`],
      [
        "logs:PutLogEvents",
        `arn:aws:logs:${region}:${ACCOUNT}:log-group:/vpc/${project}-${env}-eu-flow-logs:log-stream:i`,
      ],
      [
        "secretsmanager:PutSecretValue",
        `arn:aws:secretsmanager:${region}:${ACCOUNT}:secret:${project}/${env}-eu/db/app-x`,
      ],
    ];
    for (const [action, resource] of tries)
      expect({ action, resource, lets: lets(action, resource, []) }).toEqual({ action, resource, lets: false });
    // metrics: its own namespaces and the shared ones (monitoring.metricNamespaces either way), no other's
    const publish = (namespace: string) =>
      lets("cloudwatch:PutMetricData", "*", [
        { test: "StringEquals", variable: "cloudwatch:namespace", values: [namespace] },
      ]);
    expect([`${project}/${env}/CWAgent`, "AppHealth"].map(publish)).toEqual([true, true]);
    expect(
      [`${project}/other/CWAgent`, `${project}/${env}-eu/AppHealth`, `${project}/${env}/nginx`, "AWS/EC2"].map(publish),
    ).toEqual([false, false, false, false]);
    expect(lets("cloudwatch:PutMetricData", "*", [])).toBe(false);
    if (dbArn) {
      // RDS's secrets are all rds!db-*: one RDS tagged as another instance's is refused, this one's let through
      const secret = `arn:aws:secretsmanager:${region}:${ACCOUNT}:secret:rds!db-aaaa-AbCdEf`;
      expect(lets("secretsmanager:GetSecretValue", secret, [], dbArn)).toBe(true);
      expect(lets("secretsmanager:GetSecretValue", secret, [], dbArn.replace(/db:[a-z0-9-]+$/, "db:other-db"))).toBe(
        false,
      );
      // a secret without the tag is the role's own policy's to refuse (it names its secret by ARN)
      expect(lets("secretsmanager:GetSecretValue", secret, [], null)).toBe(true);
    }
  });

  test("it names no resource by reference: its JSON holds no ${...} at all (a reference would make the launch template's create-before-destroy reach the database, and the boundary unknown whenever that resource changed: reviews BK, BM)", () => {
    const { text } = boundaryOf(env);
    expect(text).not.toContain("${");
  });

  test("no resource created before it is destroyed depends on the database, its logs, parameters, buckets or subnets: Terraform would replace them the same way, and a second database of the same identifier is refused (review BM)", () => {
    const stack = shippedStack(env);
    const deps = dependenciesOf(stack);
    const reached = new Set<string>();
    const visit = (address: string) => {
      for (const next of deps.get(address) ?? []) if (!reached.has(next)) (reached.add(next), visit(next));
    };
    const early = [...deps.keys()].filter((address) => {
      const [type, name] = address.split(".");
      return stack.doc.resource[type][name].lifecycle?.create_before_destroy === true;
    });
    for (const address of early) visit(address);
    const types = [...new Set([...reached].map((address) => address.split(".")[0]))];
    const kept = ["aws_db_instance", "aws_db_subnet_group", "aws_db_parameter_group", "aws_cloudwatch_log_group"];
    const named = ["aws_ssm_parameter", "aws_s3_bucket", "aws_secretsmanager_secret", "aws_subnet"];
    expect(types.filter((type) => [...kept, ...named].includes(type))).toEqual([]);
    // the fleet's launch template is such a resource, and reaches the boundary through its role
    if (stack.countOf("aws_launch_template") > 0) expect(types).toContain("aws_iam_policy");
  });

  test("a server uses KMS through Secrets Manager only (the key policy of aws/secretsmanager may not reach a role under a boundary): kms:Decrypt to read its secret, and kms:GenerateDataKey where it writes the secret's value, on nothing else", () => {
    const { document, roleStatements } = boundaryOf(env);
    const kms = document.Statement.filter((s) => s.Action.some((a) => a.startsWith("kms:")));
    const throughSecretsManager = { StringLike: { "kms:ViaService": ["secretsmanager.*.amazonaws.com"] } };
    // Secrets Manager asks KMS for a new data key on the caller's behalf for every value it writes
    const fills = roleStatements.some((s) => s.actions.includes("secretsmanager:PutSecretValue"));
    expect(kms).toEqual([
      {
        Sid: "DecryptThroughSecretsManager",
        Effect: "Allow",
        Action: ["kms:Decrypt"],
        Resource: ["*"],
        Condition: throughSecretsManager,
      },
      ...(fills
        ? [
            {
              Sid: "EncryptThroughSecretsManager",
              Effect: "Allow",
              Action: ["kms:GenerateDataKey"],
              Resource: ["*"],
              Condition: throughSecretsManager,
            },
          ]
        : []),
    ]);
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
    const share = document.Statement.filter((s) => /^(SsmAgent|SessionManager)/.test(s.Sid ?? ""));
    expect(share.map((s) => s.Sid)).toEqual([
      "SsmAgent",
      "SsmAgentDocuments",
      "SsmAgentParameters",
      "SessionManagerChannels",
    ]);
    // the documents an association runs: this environment's own, AWS's and the Session Manager
    // preferences, never another environment's, which its deploy role could associate with these
    // servers' tags (review DI)
    expect(share.find((s) => s.Sid === "SsmAgentDocuments")).toEqual({
      Sid: "SsmAgentDocuments",
      Effect: "Allow",
      Action: ["ssm:DescribeDocument", "ssm:GetDocument"],
      Resource: [
        `arn:aws:ssm:*:*:document/${project}-${env}-deploy`,
        `arn:aws:ssm:*:*:document/${project}-${env}-app-os`,
        "arn:aws:ssm:*::document/*",
        "arn:aws:ssm:*:*:document/SSM-SessionManagerRunShell",
      ],
    });
    expect(share.filter((s) => s.Sid !== "SsmAgentDocuments").flatMap((s) => s.Action)).not.toContain(
      "ssm:GetDocument",
    );
    expect(share.find((s) => s.Sid === "SsmAgentParameters")).toEqual({
      Sid: "SsmAgentParameters",
      Effect: "Allow",
      Action: ["ssm:GetParameter", "ssm:GetParameters"],
      Resource: [`arn:aws:ssm:*:*:parameter/${project}/${env}/*`, "arn:aws:ssm:*::parameter/aws/service/*"],
    });
    const actions = share.flatMap((s) => s.Action);
    expect(actions).toEqual(
      expect.arrayContaining([
        "ssm:UpdateInstanceInformation",
        "ssmmessages:OpenDataChannel",
        "ec2messages:GetMessages",
      ]),
    );
    expect(actions.filter((a) => /\*|SendCommand|StartSession|PutParameter|DeleteParameter/.test(a))).toEqual([]);
  });

  test("it fits a managed policy (6,144 characters, white space not counted)", () => {
    const { text } = boundaryOf(env);
    expect(text.replace(/\s/g, "").length).toBeLessThan(6144);
  });
});

test.each([
  ["single-server", singleServer],
  ["app-db-split", appDbSplit],
  ["load-balanced", loadBalanced],
])("%s: every statement of the roles' policies falls within the boundary", (_name, build) => {
  const stack = build();
  const { roleStatements, lets, text } = boundaryOf(stack.doc.provider.aws[0].default_tags[0].tags.Environment, stack);
  expect(text).not.toContain("${");
  const outside = roleStatements.flatMap((s) =>
    s.actions.flatMap((a) => s.resources.filter((r) => !lets(a, r, s.condition)).map((r) => `${a} ${r}`)),
  );
  expect(outside).toEqual([]);
  // the single server's backups bucket: its dumps' prefix, nothing else of it (review BP)
  const [backups] = stack
    .resources("aws_s3_bucket")
    .filter((b) => String(b.values.bucket_prefix).includes("db-backups"));
  if (backups) {
    const bucket = `arn:aws:s3:::${backups.values.bucket_prefix}20261205abcdef`;
    expect(lets("s3:PutObject", `${bucket}/db/2026-12-05.dump`, [])).toBe(true);
    expect(lets("s3:PutObject", `${bucket}/other/x`, [])).toBe(false);
    expect(lets("s3:GetObject", `${bucket}/app/release.tar.gz`, [])).toBe(false);
  }
});

test("moving monitoring.metricNamespaces between shared and environment changes the role's policy, which a deploy role may write, and not the boundary, which only an administrator may", () => {
  for (const layout of ["single-server", "load-balanced"]) {
    const files = (metricNamespaces: string) => ({
      layout,
      network: {
        cidr: "10.50.0.0/16",
        availabilityZones: ["ap-northeast-2a", "ap-northeast-2c"],
        natGateways: layout === "single-server" ? "none" : "single",
      },
      app: {
        instanceType: "t3.small",
        version: "1.0.0",
        ...(layout === "single-server" ? {} : { count: { min: 2, desired: 2, max: 4 } }),
      },
      monitoring: { alarmEmails: ["oncall@example.com"], metricNamespaces },
    });
    const [own, shared] = ["environment", "shared"].map((mode) => environmentStack("test", files(mode)));
    const boundary = (stack: Synthesized) => stack.resources("aws_iam_policy")[0].values.policy;
    const agentPolicy = (stack: Synthesized) =>
      JSON.stringify(
        stack.doc.data.aws_iam_policy_document[
          Object.keys(stack.doc.data.aws_iam_policy_document).find((id) => id.includes("CloudWatchAgentPolicy"))!
        ],
      );
    expect(boundary(own)).toBe(boundary(shared));
    expect(agentPolicy(own)).not.toBe(agentPolicy(shared));
  }
});

test("the shipped environments include servers that write their database secret (dev's local database) and servers that only read it, so the KMS test above sees both", () => {
  const fills = SHIPPED_NAMES.filter((name) =>
    boundaryOf(name).roleStatements.some((s) => s.actions.includes("secretsmanager:PutSecretValue")),
  );
  expect(fills.length).toBeGreaterThan(0);
  expect(fills.length).toBeLessThan(SHIPPED_NAMES.length);
});

describe("RoleBoundary", () => {
  const withBoundary = (fill: (boundary: RoleBoundary, scope: import("constructs").Construct) => void) =>
    Testing.synthScope((scope) =>
      fill(new RoleBoundary(scope, "Boundary", { naming: new Naming("shop", "dev") }), scope),
    );

  test("refuses a statement that names a resource by reference, saying which statement", () => {
    expect(() =>
      withBoundary((boundary, scope) => {
        const bucket = new S3Bucket(scope, "Bucket", {});
        boundary.allow([{ sid: "Read", effect: "Allow", actions: ["s3:GetObject"], resources: [`${bucket.arn}/*`] }]);
      }),
    ).toThrow(
      /^RoleBoundary: statement Read: names a resource by reference \(\$\{TfToken\[TOKEN\.\d+\]\}\/\*\): give its name's pattern instead$/,
    );
  });

  test("refuses what it would change: NotAction, NotResource, principals, a Deny given to allow", () => {
    for (const statement of [
      { sid: "A", effect: "Allow", notActions: ["s3:*"], resources: ["*"] },
      { sid: "B", effect: "Allow", actions: ["s3:GetObject"], notResources: ["arn:aws:s3:::x/*"] },
      {
        sid: "C",
        effect: "Allow",
        actions: ["s3:GetObject"],
        resources: ["*"],
        principals: [{ type: "AWS", identifiers: ["*"] }],
      },
      { sid: "D", effect: "Deny", actions: ["s3:GetObject"], resources: ["*"] },
    ]) {
      expect(() => withBoundary((boundary) => boundary.allow([statement]))).toThrow(/^RoleBoundary: statement [A-D]: /);
    }
  });

  test("a policy document's statements, and a condition's test and variable given twice adds up their values, as aws_iam_policy_document does", () => {
    const json = withBoundary((boundary, scope) => {
      boundary.allow(
        new DataAwsIamPolicyDocument(scope, "Doc", {
          statement: [
            {
              sid: "List",
              effect: "Allow",
              actions: ["s3:ListBucket"],
              resources: ["arn:aws:s3:::shop-dev-x"],
              condition: [
                { test: "StringLike", variable: "s3:prefix", values: ["a/*"] },
                { test: "StringLike", variable: "s3:prefix", values: ["b/*"] },
              ],
            },
          ],
        }),
      );
    });
    const policy = JSON.parse(
      Object.values(JSON.parse(json).resource.aws_iam_policy as Record<string, { policy: string }>)[0].policy,
    );
    expect(policy.Statement).toEqual([
      {
        Sid: "List",
        Effect: "Allow",
        Action: ["s3:ListBucket"],
        Resource: ["arn:aws:s3:::shop-dev-x"],
        Condition: { StringLike: { "s3:prefix": ["a/*", "b/*"] } },
      },
    ]);
  });
});
