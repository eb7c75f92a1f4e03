import { al2023Parameter } from "../../src/constructs/app-identity";
import { environmentStack } from "../environment-stack";
import { bootScriptOf, LARGER_DATABASE, userDataScript, writtenFile, type Synthesized } from "../helpers";

const CERT = "arn:aws:acm:ap-northeast-2:111122223333:certificate/5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
const AZS = ["ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c"];
const network = { cidr: "10.50.0.0/16", availabilityZones: AZS, natGateways: "per-az" };

function layout(overrides: Record<string, unknown>, name = "test"): Synthesized {
  return environmentStack(name, { network, ...overrides });
}

const singleServer = () =>
  layout({
    layout: "single-server",
    network: { ...network, natGateways: "none" },
    app: { instanceType: "t3.small", version: "1.0.0" },
  });
const split = () =>
  layout({
    layout: "app-db-split",
    network: { ...network, natGateways: "none" },
    app: { instanceType: "t4g.small", version: "1.0.0" },
  });
const loadBalanced = (overrides: Record<string, unknown> = {}) =>
  layout({
    layout: "load-balanced",
    app: { instanceType: "m7g.large", version: "1.0.0", count: { min: 3, desired: 3, max: 9 } },
    database: LARGER_DATABASE,
    loadBalancer: { https: true, certificateArn: CERT },
    ...overrides,
  });

/** Every ingress rule, as "<target group> <- <source> :<port>". */
function ingress(json: Synthesized): string[] {
  const nameOf = (ref: string) => json.referenced(ref).values.tags.Name as string;
  return json
    .resources("aws_vpc_security_group_ingress_rule")
    .map(
      (r) =>
        `${nameOf(r.values.security_group_id)} <- ${r.values.cidr_ipv4 ?? nameOf(r.values.referenced_security_group_id)} :${r.values.from_port}`,
    )
    .sort();
}

function subnetTier(json: Synthesized, ref: string): string {
  return json.referenced(ref).values.tags.Tier;
}

/** One builder per layout, for the properties every layout must hold. */
const EVERY_LAYOUT: Array<[string, () => Synthesized]> = [
  ["single-server", singleServer],
  ["app-db-split", split],
  ["load-balanced", () => loadBalanced()],
];

describe("every layout", () => {
  test.each(EVERY_LAYOUT)(
    "%s: every security group rule has a description, and no group has inline rules",
    (_name, build) => {
      const json = build();
      for (const type of ["aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule"]) {
        for (const rule of json.resources(type)) expect(rule.values.description).toMatch(/\w{3,}/);
      }
      for (const group of json.resources("aws_security_group")) {
        expect(group.values.ingress).toBeUndefined();
        expect(group.values.egress).toBeUndefined();
      }
    },
  );

  test.each(EVERY_LAYOUT)(
    "%s: the app servers send to the internet over HTTPS only (Amazon Linux 2023's package repositories, Session Manager and the AWS APIs are all HTTPS), and to an RDS database on its port only",
    (_name, build) => {
      const json = build();
      const nameOf = (ref: string) => json.referenced(ref).values.tags.Name;
      const appEgress = json
        .resources("aws_vpc_security_group_egress_rule")
        .filter((r) => nameOf(r.values.security_group_id) === "shop-test-app")
        .map(
          (r) =>
            `${r.values.cidr_ipv4 ?? nameOf(r.values.referenced_security_group_id)} :${r.values.from_port}-${r.values.to_port}`,
        )
        .sort();
      const rds = json.resources("aws_db_instance").length > 0;
      expect(appEgress).toEqual(["0.0.0.0/0 :443-443", ...(rds ? ["shop-test-db :5432-5432"] : [])]);
    },
  );

  test.each(EVERY_LAYOUT)(
    "%s: no password anywhere in the JSON; the app may read only the database's managed secret",
    (_name, build) => {
      const json = build();
      expect(json.json).not.toMatch(/"(password|master_password)"/);
      for (const db of json.resources("aws_db_instance")) expect(db.values.manage_master_user_password).toBe(true);
      // the one secret the servers may touch: RDS's managed one (read), or the single server's own (read, and filled once)
      const [rds] = json.resources("aws_db_instance");
      const secret = rds
        ? `\${aws_db_instance.${rds.name}.master_user_secret[0].secret_arn}`
        : `\${aws_secretsmanager_secret.${json.resources("aws_secretsmanager_secret")[0]!.name}.arn}`;
      const statements = Object.values((json.doc.data?.aws_iam_policy_document ?? {}) as Record<string, any>).flatMap(
        // (the boundary's document has none of its own: it merges the roles' documents)
        (document) => (document.statement ?? []) as { effect: string; actions: string[]; resources: string[] }[],
      );
      const onSecrets = statements.filter((s) => s.actions.some((action) => action.startsWith("secretsmanager:")));
      expect(onSecrets.map((s) => [s.effect, s.actions, s.resources])).toEqual(
        rds
          ? [["Allow", ["secretsmanager:GetSecretValue"], [secret]]]
          : [
              ["Allow", ["secretsmanager:GetSecretValue"], [secret]],
              ["Allow", ["secretsmanager:PutSecretValue"], [secret]],
            ],
      );
      // the roles' permissions boundary allows the same by name (RDS's secrets are all rds!db-*:
      // another instance's, by the tag RDS gives it, refused)...
      const boundary = JSON.parse(json.resources("aws_iam_policy")[0].values.policy as string) as {
        Statement: { Effect: string; Action: string[]; Resource: string[] }[];
      };
      const boundarySecrets = boundary.Statement.filter((s) => s.Action.some((a) => a.startsWith("secretsmanager:")));
      const rdsSecrets = "arn:aws:secretsmanager:*:*:secret:rds!db-*";
      expect(boundarySecrets.map((s) => [s.Effect, s.Action, s.Resource])).toEqual(
        rds
          ? [
              ["Allow", ["secretsmanager:GetSecretValue"], [rdsSecrets]],
              ["Deny", ["secretsmanager:*"], [rdsSecrets]],
            ]
          : [
              [
                "Allow",
                ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"],
                [expect.stringMatching(/^arn:aws:secretsmanager:\*:\*:secret:[a-z0-9-]+\/[a-z0-9-]+\/db\/app-\*$/)],
              ],
            ],
      );
      // ...and no other policy (inline JSON, a key's or a bucket's) names a Secrets Manager action
      const actions = (list: { actions?: string[]; Action?: string[] }[]) =>
        list.flatMap((s) => s.actions ?? s.Action ?? []).length;
      // (an action: followed by its closing quote, not an ARN's `:` nor a condition key's `/`)
      expect(json.json.match(/secretsmanager:(?:[A-Z][A-Za-z]*|\*)(?=\\?")/g)).toHaveLength(
        actions(onSecrets) + actions(boundarySecrets),
      );
    },
  );

  test.each(EVERY_LAYOUT)(
    "%s: the instance role can use Session Manager and the CloudWatch agent, the agent for this environment's log groups and the servers' metric namespaces only",
    (_name, build) => {
      const json = build();
      const policies = json
        .resources("aws_iam_role_policy_attachment")
        .map((a) => a.values.policy_arn)
        .sort();
      // not CloudWatchAgentServerPolicy: its logs and metrics on "*" let a dev server write into prod's
      expect(policies).toEqual(["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]);
      const agent = json.doc.data.aws_iam_policy_document;
      const statements = (Object.entries(agent).find(([id]) => id.includes("CloudWatchAgentPolicy"))![1] as any)
        .statement;
      const bySid = Object.fromEntries(statements.map((st: any) => [st.sid, st]));
      expect(Object.keys(bySid).sort()).toEqual(["DescribeInstance", "FindLogGroups", "PublishMetrics", "ShipLogs"]);
      expect(bySid.ShipLogs.resources).toEqual(["arn:aws:logs:*:*:log-group:/shop/test/*"]);
      expect(bySid.PublishMetrics.condition).toEqual([
        {
          test: "StringEquals",
          variable: "cloudwatch:namespace",
          // the environment's own: a server of another environment may not publish what these alarms read
          values: ["shop/test/CWAgent", "shop/test/AppHealth", "shop/test/AppBackups"],
        },
      ]);
      // every log group the stack makes for the agent is one it may write to
      for (const group of json.resources("aws_cloudwatch_log_group").map((g) => g.values.name as string)) {
        if (group.startsWith("/shop/test/")) continue;
        expect(group).toMatch(/^\/aws\/rds\/|^\/aws\/vpc\/|flow/); // RDS's and the flow logs', written by AWS
      }
      const actions = statements.flatMap((st: any) => st.actions);
      expect(actions.filter((a: string) => /\*|^xray:|^ssm:|PutRetentionPolicy/.test(a))).toEqual([]);
    },
  );
});

describe("single-server: app and database on one box", () => {
  const json = singleServer();

  test("one instance in a public subnet with an Elastic IP, and no RDS, no load balancer", () => {
    const [instance] = json.resources("aws_instance");
    expect(json.countOf("aws_instance")).toBe(1);
    expect(subnetTier(json, instance.values.subnet_id)).toBe("public");
    expect(json.resources("aws_eip").map((e) => e.values.instance)).toEqual([`\${aws_instance.${instance.name}.id}`]);
    expect(json.countOf("aws_db_instance")).toBe(0);
    expect(json.countOf("aws_lb")).toBe(0);
  });

  test("only HTTP is open to the internet (nothing on the box serves TLS, so 443 stays closed); no SSH unless configured", () => {
    expect(ingress(json)).toEqual(["shop-test-app <- 0.0.0.0/0 :80"]);
  });

  test("IMDSv2 only with hop limit 1, encrypted gp3 root volume, termination not blocked outside production", () => {
    expect(json.resources("aws_instance")[0].values).toMatchObject({
      metadata_options: { http_tokens: "required", http_put_response_hop_limit: 1, http_endpoint: "enabled" },
      root_block_device: { encrypted: true, volume_type: "gp3" },
      disable_api_termination: false,
    });
  });

  test("termination blocked where its database must be kept (deletionProtection, production's default): the server's disk holds the database (review AT)", () => {
    const kept = layout({
      layout: "single-server",
      network: { ...network, natGateways: "none" },
      app: { instanceType: "t3.small", version: "1.0.0" },
      database: { engine: "postgres", engineVersion: "16", deletionProtection: true },
    });
    expect(kept.resources("aws_instance")[0].values.disable_api_termination).toBe(true);
  });

  test("the AMI is the latest Amazon Linux 2023 for the instance's architecture, and a new one does not replace the server", () => {
    const instance = json.resources("aws_instance")[0];
    expect(json.referenced(instance.values.ami).values.name).toBe(al2023Parameter("x86_64"));
    expect(instance.values.lifecycle.ignore_changes).toEqual(["ami", "user_data_base64"]);
  });

  test("the server can reach package repositories at first boot, and its Elastic IP waits for the internet gateway", () => {
    const [instance] = json.resources("aws_instance");
    expect(instance.values.associate_public_ip_address).toBe(true);
    const [eip] = json.resources("aws_eip");
    const route = json.resources("aws_route").find((r) => r.values.gateway_id?.startsWith("${aws_internet_gateway."))!;
    expect(eip.values.depends_on).toEqual([`aws_route.${route.name}`]);
    // and the server boots after its subnet's route out and the subnet's association with that
    // table, until which the subnet has the VPC's main table, with the local route only (review DO)
    expect(instance.values.depends_on).toContain(`aws_route.${route.name}`);
    const association = json
      .resources("aws_route_table_association")
      .find((a) => a.values.subnet_id === instance.values.subnet_id)!;
    expect(json.referenced(association.values.route_table_id).name).toBe(
      json.referenced(route.values.route_table_id).name,
    );
    expect(instance.values.depends_on).toContain(`aws_route_table_association.${association.name}`);
    const script = userDataScript(instance.values.user_data_base64);
    expect(script).toMatch(/^retry dnf install -y nginx nodejs22 amazon-cloudwatch-agent$/m);
  });

  test("the user data installs nginx and the database engine on the box", () => {
    const script = userDataScript(json.resources("aws_instance")[0].values.user_data_base64);
    expect(script).toMatch(/^#!\/bin\/bash\n/);
    expect(script).toContain("dnf install -y nginx");
    expect(script).toContain("dnf install -y postgresql16 postgresql16-server");
    expect(script).toContain("location = /healthz");
  });

  test("outputs give the URL and the Session Manager command", () => {
    const outputs = json.doc.output;
    expect(outputs.url.value).toMatch(/^http:\/\/\$\{aws_eip\..+\.public_dns\}$/);
    expect(outputs.connect_ssm.value).toMatch(
      /^aws ssm start-session --region ap-northeast-2 --target \$\{aws_instance\..+\.id\}$/,
    );
    expect(outputs.connect_ssh).toBeUndefined();
  });

  test("on another app.port, the URL names that port, the only one the server opens to the internet", () => {
    const onPort = layout({
      layout: "single-server",
      network: { ...network, natGateways: "none" },
      app: { instanceType: "t3.small", version: "1.0.0", port: 8080 },
    });
    expect(onPort.doc.output.url.value).toMatch(/^http:\/\/\$\{aws_eip\..+\.public_dns\}:8080$/);
    const world = onPort
      .resources("aws_vpc_security_group_ingress_rule")
      .filter((r) => r.values.cidr_ipv4 === "0.0.0.0/0")
      .map((r) => [r.values.from_port, r.values.to_port]);
    expect(world).toEqual([[8080, 8080]]);
  });
});

describe("app-db-split: the database moves to RDS", () => {
  const json = split();

  test("one public app server and an RDS instance in the private data subnets of at least two AZs", () => {
    expect(subnetTier(json, json.resources("aws_instance")[0].values.subnet_id)).toBe("public");
    const [group] = json.resources("aws_db_subnet_group");
    const subnets = (group.values.subnet_ids as string[]).map((ref) => json.referenced(ref).values);
    expect(subnets.map((s) => s.tags.Tier)).toEqual(["data", "data", "data"]);
    expect(new Set(subnets.map((s) => s.availability_zone)).size).toBeGreaterThanOrEqual(2);
  });

  test("the chain: internet -> app (80 only: nothing on the box serves TLS) -> database (5432 from the app's group only)", () => {
    expect(ingress(json)).toEqual(["shop-test-app <- 0.0.0.0/0 :80", "shop-test-db <- shop-test-app :5432"]);
  });

  test("the database has no egress at all, and the app reaches it on its port only", () => {
    const egress = json
      .resources("aws_vpc_security_group_egress_rule")
      .map((r) => json.referenced(r.values.security_group_id).values.tags.Name);
    expect(egress).not.toContain("shop-test-db");
  });

  test("the app server may read the database's managed secret and its settings, and only that", () => {
    const policy = json.named("aws_iam_policy_document", "DatabasePolicy", true);
    expect(policy.values.statement).toEqual([
      expect.objectContaining({
        actions: ["secretsmanager:GetSecretValue"],
        resources: [expect.stringMatching(/^\$\{aws_db_instance\..+\.master_user_secret\[0\]\.secret_arn\}$/)],
      }),
      expect.objectContaining({
        actions: ["ssm:GetParameter"],
        resources: [expect.stringMatching(/^\$\{aws_ssm_parameter\..+\.arn\}$/)],
      }),
    ]);
  });

  test("MySQL requires TLS and logs slow queries, so the exported slow-query log has content", () => {
    const mysql = layout({
      layout: "app-db-split",
      network: { ...network, natGateways: "none" },
      app: { instanceType: "t4g.small", version: "1.0.0" },
      database: { engine: "mysql", engineVersion: "8.4", instanceClass: "db.t4g.small" },
    });
    const [params] = mysql.resources("aws_db_parameter_group");
    expect(params.values.family).toBe("mysql8.4");
    expect(params.values.parameter.map((p: { name: string; value: string }) => `${p.name}=${p.value}`)).toEqual([
      "require_secure_transport=1",
      "slow_query_log=1",
      "long_query_time=1",
      "log_output=FILE",
    ]);
    expect(mysql.resources("aws_db_instance")[0].values.enabled_cloudwatch_logs_exports).toEqual([
      "error",
      "slowquery",
    ]);
  });

  test("a Graviton instance type gets the arm64 image", () => {
    const param = json.dataSources("aws_ssm_parameter")[0];
    expect(param.values.name).toBe(al2023Parameter("arm64"));
  });
});

describe("load-balanced: app servers behind an ALB across AZs", () => {
  const json = loadBalanced();

  test("an internet-facing ALB in the public subnet of every AZ, dropping invalid headers", () => {
    const [alb] = json.resources("aws_lb");
    expect(alb.values).toMatchObject({
      internal: false,
      load_balancer_type: "application",
      drop_invalid_header_fields: true,
    });
    const subnets = (alb.values.subnets as string[]).map((ref) => json.referenced(ref).values);
    expect(subnets.map((s) => s.tags.Tier)).toEqual(["public", "public", "public"]);
    expect(subnets.map((s) => s.availability_zone).sort()).toEqual(AZS);
  });

  test("created in an order AWS accepts on a first apply: the ALB after the internet gateway's route, the servers after their subnets' routes out", () => {
    // (an internet-facing load balancer in a VPC without a gateway attached is refused: InvalidSubnet)
    const [alb] = json.resources("aws_lb");
    const internet = json
      .resources("aws_route")
      .filter((r) => r.values.gateway_id?.startsWith("${aws_internet_gateway."));
    expect(internet).toHaveLength(1);
    expect(alb.values.depends_on).toContain(`aws_route.${internet[0].name}`);
    // (a server booted before its NAT route cannot fetch the release, and its group abandons it)
    const [group] = json.resources("aws_autoscaling_group");
    const outward = json.resources("aws_route").filter((r) => r.values.nat_gateway_id !== undefined);
    expect(outward).toHaveLength(AZS.length);
    for (const route of outward) expect(group.values.depends_on).toContain(`aws_route.${route.name}`);
    // nor before its route to S3 through the gateway endpoint (review BP)
    const [endpoint] = json.resources("aws_vpc_endpoint");
    expect(group.values.depends_on).toContain(`aws_vpc_endpoint.${endpoint.name}`);
    // nor before its subnets are on those tables, nor before the public route the NAT gateways
    // forward through (review DO)
    const groupSubnets = group.values.vpc_zone_identifier as string[];
    const associations = json
      .resources("aws_route_table_association")
      .filter((a) => groupSubnets.includes(a.values.subnet_id));
    expect(associations).toHaveLength(AZS.length);
    for (const association of associations)
      expect(group.values.depends_on).toContain(`aws_route_table_association.${association.name}`);
    expect(group.values.depends_on).toContain(`aws_route.${internet[0].name}`);
  });

  test("the Auto Scaling group spreads over the private app subnets of every AZ, with the configured bounds", () => {
    const [group] = json.resources("aws_autoscaling_group");
    const subnets = (group.values.vpc_zone_identifier as string[]).map((ref) => json.referenced(ref).values);
    expect(subnets.map((s) => s.tags.Tier)).toEqual(["app", "app", "app"]);
    expect(subnets.map((s) => s.availability_zone).sort()).toEqual(AZS);
    expect(group.values).toMatchObject({ min_size: 3, max_size: 9, desired_capacity: 3, health_check_type: "ELB" });
    expect(json.countOf("aws_instance")).toBe(0);
  });

  test("the chain: internet -> ALB (80, 443) -> app (app port, from the ALB only) -> DB (from the app only)", () => {
    expect(ingress(json)).toEqual([
      "shop-test-alb <- 0.0.0.0/0 :443",
      "shop-test-alb <- 0.0.0.0/0 :80",
      "shop-test-app <- shop-test-alb :80",
      "shop-test-db <- shop-test-app :5432",
    ]);
  });

  test("an app.port other than 80 is the target group's, the app's ingress from the ALB and the ALB's egress (review AT)", () => {
    const json8080 = loadBalanced({
      app: { instanceType: "m7g.large", version: "1.0.0", count: { min: 3, desired: 3, max: 9 }, port: 8080 },
    });
    expect(ingress(json8080)).toContain("shop-test-app <- shop-test-alb :8080");
    expect(ingress(json8080)).not.toContain("shop-test-app <- shop-test-alb :80");
    const albEgress = json8080
      .resources("aws_vpc_security_group_egress_rule")
      .filter((r) => json8080.referenced(r.values.security_group_id).values.tags.Name === "shop-test-alb");
    expect(albEgress.map((r) => [r.values.from_port, r.values.to_port])).toEqual([[8080, 8080]]);
    expect(json8080.resources("aws_lb_target_group").map((g) => g.values.port)).toEqual([8080]);
  });

  test("the ALB may only send to the app servers", () => {
    const albEgress = json
      .resources("aws_vpc_security_group_egress_rule")
      .filter((r) => json.referenced(r.values.security_group_id).values.tags.Name === "shop-test-alb");
    expect(
      albEgress.map((r) => [
        json.referenced(r.values.referenced_security_group_id).values.tags.Name,
        r.values.from_port,
      ]),
    ).toEqual([["shop-test-app", 80]]);
  });

  test("HTTPS with the TLS 1.3 policy forwards to the app; HTTP redirects to HTTPS", () => {
    const listeners = json.resources("aws_lb_listener").map((l) => l.values);
    const https = listeners.find((l) => l.port === 443)!;
    const http = listeners.find((l) => l.port === 80)!;
    // written out, not the constant the code uses: a weaker policy there must fail here
    expect(https).toMatchObject({
      protocol: "HTTPS",
      ssl_policy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
      certificate_arn: CERT,
    });
    expect(https.default_action[0].type).toBe("forward");
    expect(http.default_action).toEqual([
      expect.objectContaining({
        type: "redirect",
        redirect: expect.objectContaining({ protocol: "HTTPS", port: "443", status_code: "HTTP_301" }),
      }),
    ]);
  });

  test("without HTTPS (allowed outside production) HTTP forwards, and 443 stays closed", () => {
    const plain = loadBalanced({ loadBalancer: { https: false } });
    const listeners = plain.resources("aws_lb_listener");
    expect(listeners.map((l) => [l.values.port, l.values.default_action[0].type])).toEqual([[80, "forward"]]);
    expect(ingress(plain)).not.toContain("shop-test-alb <- 0.0.0.0/0 :443");
  });

  test("the target group health-checks the configured path and the group registers with it", () => {
    const [targets] = json.resources("aws_lb_target_group");
    expect(targets.values.health_check).toMatchObject({ path: "/healthz", matcher: "200", protocol: "HTTP" });
    expect(json.resources("aws_autoscaling_group")[0].values.target_group_arns).toEqual([
      `\${aws_lb_target_group.${targets.name}.arn}`,
    ]);
  });

  test("a launch template change rolls out: the group uses latest_version, never $Latest, with a rolling refresh", () => {
    const [group] = json.resources("aws_autoscaling_group");
    const [template] = json.resources("aws_launch_template");
    expect(group.values.launch_template).toEqual({
      id: `\${aws_launch_template.${template.name}.id}`,
      version: `\${aws_launch_template.${template.name}.latest_version}`,
    });
    expect(group.values.instance_refresh).toMatchObject({
      strategy: "Rolling",
      preferences: expect.objectContaining({
        min_healthy_percentage: 100,
        max_healthy_percentage: 150,
        auto_rollback: false,
        checkpoint_percentages: [50, 100],
      }),
    });
  });

  test("a launch template replaced (a -replace by hand) is made anew before the old one goes: the group never points at none", () => {
    const [template] = json.resources("aws_launch_template");
    expect(template.values.lifecycle).toEqual({ create_before_destroy: true });
    // (its name a prefix: the two live side by side)
    expect(template.values.name).toBeUndefined();
    expect(template.values.name_prefix).toBe("shop-test-app-");
  });

  test("a new server waits out of service until its boot has finished: the launch hook outlasts the longest first boot, and abandons a boot that fails or outruns it", () => {
    const [group] = json.resources("aws_autoscaling_group");
    const script = bootScriptOf(json);
    const seconds = (text: string, pattern: RegExp) => Number(pattern.exec(text)![1]);
    const unit = writtenFile(script, "/etc/systemd/system/app@.service");
    const migrations = /timeout -k (\d+) "\$\{APP_MIGRATE_TIMEOUT:-(\d+)\}"/.exec(
      writtenFile(script, "/opt/app/bin/deploy"),
    )!;
    // the OS's boot and the hook's own calls (5 minutes at least); packages, agent and nginx (15); the
    // release's download (10); the migrations, killed after their grace; every process started at
    // once and, failing, stopped
    const firstBoot =
      (5 + 15 + 10) * 60 +
      Number(migrations[1]) +
      Number(migrations[2]) +
      seconds(unit, /^TimeoutStartSec=(\d+)$/m) +
      seconds(unit, /^TimeoutStopSec=(\d+)$/m);
    expect(group.values.initial_lifecycle_hook).toEqual([
      {
        name: "boot",
        lifecycle_transition: "autoscaling:EC2_INSTANCE_LAUNCHING",
        default_result: "ABANDON",
        heartbeat_timeout: expect.any(Number),
      },
    ]);
    const [hook] = group.values.initial_lifecycle_hook;
    // the same hook on its own resource, which adds it to a group created before it existed (the
    // group ignores its initial hook after creation: a change to it would replace the group)
    const [own] = json.resources("aws_autoscaling_lifecycle_hook");
    expect(own.values).toEqual({
      ...hook,
      autoscaling_group_name: `\${aws_autoscaling_group.${group.name}.name}`,
    });
    expect(group.values.lifecycle.ignore_changes).toContain("initial_lifecycle_hook");
    expect(hook.heartbeat_timeout).toBeGreaterThanOrEqual(firstBoot);
    expect(hook.heartbeat_timeout).toBeLessThanOrEqual(7200); // Auto Scaling's limit
    // the boot script completes this very hook
    expect(writtenFile(script, "/opt/app/bin/launch-hook")).toContain(`--lifecycle-hook-name ${hook.name} `);
    // creating the group, Terraform waits for servers in service as long as a boot may take
    expect(Number(/^(\d+)m$/.exec(group.values.wait_for_capacity_timeout)![1]) * 60).toBeGreaterThanOrEqual(
      hook.heartbeat_timeout + 5 * 60,
    );
  });

  test("the app servers may complete the launch actions of their own group only, and may before the first boots", () => {
    const [group] = json.resources("aws_autoscaling_group");
    const policy = json.named("aws_iam_policy_document", "LaunchHookPolicy", true);
    expect(policy.values.statement).toEqual([
      expect.objectContaining({ actions: ["autoscaling:DescribeAutoScalingInstances"], resources: ["*"] }),
      expect.objectContaining({
        actions: ["autoscaling:CompleteLifecycleAction"],
        resources: [
          `arn:aws:autoscaling:ap-northeast-2:*:autoScalingGroup:*:autoScalingGroupName/${group.values.name_prefix}*`,
        ],
        // and only the group tagged as this one is: the prefix also matches an environment named
        // like this one and "-app" (test-app: shop-test-app-app-...), whose Name tag differs
        condition: [
          {
            test: "StringEquals",
            variable: "autoscaling:ResourceTag/Name",
            values: [group.values.tag.find((t: { key: string }) => t.key === "Name").value],
          },
        ],
      }),
    ]);
    expect(group.values.tag).toContainEqual({ key: "Name", value: "shop-test-app", propagate_at_launch: true });
    expect(group.values.name_prefix).toBe("shop-test-app-");
    const rolePolicy = json.named("aws_iam_role_policy", "LaunchHook");
    expect(rolePolicy.values.policy).toBe(`\${data.aws_iam_policy_document.${policy.name}.json}`);
    expect(group.values.depends_on).toContain(`aws_iam_role_policy.${rolePolicy.name}`);
    // the lone servers have no group, and no such permission
    for (const lone of [singleServer(), split()]) {
      expect(
        lone
          .dataSources("aws_iam_policy_document")
          .map((d) => d.name)
          .join(),
      ).not.toContain("LaunchHook");
      expect(bootScriptOf(lone)).not.toContain("launch-hook");
    }
  });

  test("autoscaling owns desired capacity after creation, tracking CPU", () => {
    const [group] = json.resources("aws_autoscaling_group");
    expect(group.values.lifecycle.ignore_changes).toEqual(["desired_capacity", "initial_lifecycle_hook"]);
    expect(json.resources("aws_autoscaling_policy")[0].values).toMatchObject({
      policy_type: "TargetTrackingScaling",
      target_tracking_configuration: expect.objectContaining({ target_value: 60 }),
    });
  });

  test("the launch template requires IMDSv2 (hop limit 1) and encrypts the root volume", () => {
    const [template] = json.resources("aws_launch_template");
    expect(template.values.metadata_options).toMatchObject({ http_tokens: "required", http_put_response_hop_limit: 1 });
    expect(template.values.block_device_mappings[0].ebs).toMatchObject({ encrypted: "true", volume_type: "gp3" });
  });

  test("user data is base64 of the literal script, so Terraform never sees a ${ in it", () => {
    const [template] = json.resources("aws_launch_template");
    expect(template.values.user_data).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(userDataScript(template.values.user_data)).toContain("systemctl enable --now nginx");
  });

  test("the database: private, encrypted, TLS-only, managed password, backups, final snapshot, log exports", () => {
    const [db] = json.resources("aws_db_instance");
    expect(db.values).toMatchObject({
      engine: "postgres",
      publicly_accessible: false,
      storage_encrypted: true,
      storage_type: "gp3",
      manage_master_user_password: true,
      skip_final_snapshot: false,
      // automated backups outlive a destroy (restorable for their retention), as the final snapshot does
      delete_automated_backups: false,
      final_snapshot_identifier: 'shop-test-db-final-${formatdate("YYYYMMDDhhmmss", timestamp())}',
      auto_minor_version_upgrade: true,
      enabled_cloudwatch_logs_exports: ["postgresql", "upgrade"],
    });
    const params = json.referenced(`\${aws_db_parameter_group.${json.resources("aws_db_parameter_group")[0].name}.id}`);
    expect(params.values.family).toBe("postgres16");
    expect(params.values.parameter).toEqual([
      expect.objectContaining({ name: "rds.force_ssl", value: "1" }),
      expect.objectContaining({ name: "log_min_duration_statement", value: "1000" }),
    ]);
  });

  test("outputs: the HTTPS URL, the database endpoint and secret ARN, and how to get onto a server", () => {
    const outputs = json.doc.output;
    expect(outputs.url.value).toMatch(/^https:\/\/\$\{aws_lb\..+\.dns_name\}$/);
    expect(outputs.db_endpoint.value).toMatch(/aws_db_instance\..+\.endpoint/);
    expect(outputs.db_secret_arn.value).toMatch(/master_user_secret\[0\]\.secret_arn/);
    expect(outputs.connect_ssm.value).toMatch(
      /aws ssm start-session --region ap-northeast-2 --target \$\(aws ec2 describe-instances/,
    );
  });
});

describe("production settings are stricter, and it shows in the JSON", () => {
  const prod = layout(
    {
      layout: "load-balanced",
      production: true,
      app: { instanceType: "m7g.large", version: "1.0.0", count: { min: 2, desired: 2, max: 4 } },
      loadBalancer: { https: true, certificateArn: CERT },
    },
    "prod",
  );
  const dev = loadBalanced({ loadBalancer: { https: false } });

  test("prod: Multi-AZ, deletion protection, prevent_destroy, 14-day backups; dev: none of them", () => {
    expect(prod.resources("aws_db_instance")[0].values).toMatchObject({
      multi_az: true,
      deletion_protection: true,
      backup_retention_period: 14,
      lifecycle: { prevent_destroy: true },
    });
    expect(dev.resources("aws_db_instance")[0].values).toMatchObject({
      multi_az: false,
      deletion_protection: false,
      backup_retention_period: 3,
      lifecycle: { prevent_destroy: false },
    });
  });

  test("prod: the ALB is deletion-protected and servers send 1-minute metrics", () => {
    expect(prod.resources("aws_lb")[0].values.enable_deletion_protection).toBe(true);
    expect(dev.resources("aws_lb")[0].values.enable_deletion_protection).toBe(false);
    expect(prod.resources("aws_launch_template")[0].values.monitoring).toEqual({ enabled: true });
    expect(dev.resources("aws_launch_template")[0].values.monitoring).toEqual({ enabled: false });
  });
});

describe("access", () => {
  test("SSH: a public key becomes a key pair, and port 22 opens to the admin networks only", () => {
    const json = loadBalanced({
      access: {
        ssh: {
          publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOps2026ExampleKeyOnlyNotARealOne00000000000 ops@example",
          allowedCidrs: ["203.0.113.0/24"],
        },
      },
    });
    const [keyPair] = json.resources("aws_key_pair");
    expect(keyPair.values.public_key).toMatch(/^ssh-ed25519 /);
    expect(json.resources("aws_launch_template")[0].values.key_name).toBe(`\${aws_key_pair.${keyPair.name}.key_name}`);
    expect(ingress(json).filter((r: string) => r.endsWith(":22"))).toEqual(["shop-test-app <- 203.0.113.0/24 :22"]);
  });

  test("the single server prints an ssh command for ec2-user when SSH is configured", () => {
    const json = layout({
      layout: "single-server",
      network: { ...network, natGateways: "none" },
      app: { instanceType: "t3.small", version: "1.0.0" },
      access: { ssh: { keyName: "ops", allowedCidrs: ["203.0.113.0/24"] } },
    });
    expect(json.doc.output.connect_ssh.value).toMatch(
      /^ssh -i ~\/\.ssh\/ops\.pem ec2-user@\$\{aws_eip\..+\.public_ip\}$/,
    );
    // a key imported from publicKey: the private key is whoever made it's, not a .pem named after EC2's name (review BD)
    const imported = layout({
      layout: "single-server",
      network: { ...network, natGateways: "none" },
      app: { instanceType: "t3.small", version: "1.0.0" },
      access: {
        ssh: {
          publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq8b1D3oEoV2bN1mCq8yZ6uYb4m8JmQmV4Vf1s2b3c4 ops@laptop",
          allowedCidrs: ["203.0.113.0/24"],
        },
      },
    });
    expect(imported.doc.output.connect_ssh.value).toMatch(
      /^ssh -i <your private key> ec2-user@\$\{aws_eip\..+\.public_ip\}$/,
    );
  });
});
