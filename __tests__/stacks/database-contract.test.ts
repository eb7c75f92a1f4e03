import { environmentStack } from "../environment-stack";
import { bootScriptOf, ref, type Synthesized, firstDeployLine } from "../helpers";

/**
 * How every layout's app finds its database, on the synthesized JSON and the rendered user data:
 * the settings in an SSM parameter (no secret in it, nor anywhere in the JSON), the role allowed
 * exactly what the contract uses, the servers booting after both, and the boot script setting the
 * database up before the first deploy runs the migrations.
 */

const CERT = "arn:aws:acm:ap-northeast-2:111122223333:certificate/00000000-0000-4000-8000-000000000000";
const network = { cidr: "10.50.0.0/16", availabilityZones: ["ap-northeast-2a", "ap-northeast-2c"] };

const single = (database: Record<string, unknown> = { engine: "postgres", engineVersion: "16" }, extra = {}) =>
  environmentStack("test", {
    layout: "single-server",
    network: { ...network, natGateways: "none" },
    app: { instanceType: "t3.small", version: "1.0.0" },
    database,
    ...extra,
  });
const split = () =>
  environmentStack("test", {
    layout: "app-db-split",
    network: { ...network, natGateways: "none" },
    app: { instanceType: "t4g.small", version: "1.0.0" },
    database: { engine: "mysql", engineVersion: "8.4", instanceClass: "db.t4g.small" },
  });
const balanced = () =>
  environmentStack("test", {
    layout: "load-balanced",
    network: { ...network, natGateways: "single" },
    app: { instanceType: "t3.small", version: "1.0.0", count: { min: 2, desired: 2, max: 4 } },
    database: { engine: "postgres", engineVersion: "16", instanceClass: "db.t4g.small" },
    loadBalancer: { https: true, certificateArn: CERT },
  });

/** The settings parameter's lines as a map. */
function settings(json: Synthesized): Record<string, string> {
  const parameter = json.named("aws_ssm_parameter", "Parameter");
  expect(parameter.values).toMatchObject({ name: "/shop/test/app/database", type: "String" });
  return Object.fromEntries(
    String(parameter.values.value)
      .split("\n")
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
}

/** Every statement of the app role's database policy, by sid. */
function databaseStatements(json: Synthesized): Record<string, any> {
  const document = json.named("aws_iam_policy_document", "DatabasePolicy", true);
  return Object.fromEntries(document.values.statement.map((s: any) => [s.sid, s]));
}

/** The app servers: the single instance, or the Auto Scaling group. */
const servers = (json: Synthesized) => json.resources("aws_instance")[0] ?? json.resources("aws_autoscaling_group")[0];

describe.each([
  ["app-db-split (MySQL)", split, "mysql", "3306"],
  ["load-balanced (PostgreSQL)", balanced, "postgres", "5432"],
])(
  "%s: the app reaches RDS with TLS, as RDS's master user, through its managed secret",
  (_name, stack, engine, port) => {
    const json = stack();
    const db = json.resources("aws_db_instance")[0];

    test("the settings name RDS's endpoint, TLS checked against RDS's CA bundle, and the secret's ARN, never a password", () => {
      expect(settings(json)).toEqual({
        DB_ENGINE: engine,
        DB_HOST: ref(db, "aws_db_instance", "address"),
        DB_PORT: port,
        DB_NAME: "app",
        DB_USER: "app_admin",
        DB_TLS: "verify-full",
        DB_CA_FILE: "/etc/app/rds-ca.pem",
        DB_SECRET_ID: `\${aws_db_instance.${db.name}.master_user_secret[0].secret_arn}`,
        DB_REGION: "ap-northeast-2",
      });
      expect(db.values).toMatchObject({ manage_master_user_password: true, db_name: "app", username: "app_admin" });
    });

    test("the role may read that one secret and the settings: nothing else of the database, no wildcard", () => {
      expect(Object.keys(databaseStatements(json))).toEqual(["ReadDatabaseSecret", "ReadDatabaseSettings"]);
      const statements = databaseStatements(json);
      expect(statements.ReadDatabaseSecret).toMatchObject({
        actions: ["secretsmanager:GetSecretValue"],
        resources: [`\${aws_db_instance.${db.name}.master_user_secret[0].secret_arn}`],
      });
      expect(statements.ReadDatabaseSettings).toMatchObject({
        actions: ["ssm:GetParameter"],
        resources: [ref(json.named("aws_ssm_parameter", "Parameter"), "aws_ssm_parameter", "arn")],
      });
      const everyAction = json
        .dataSources("aws_iam_policy_document")
        .flatMap((d) => (d.values.statement ?? []).flatMap((s: any) => s.actions ?? []));
      expect(everyAction.filter((a: string) => a.startsWith("secretsmanager:"))).toEqual([
        "secretsmanager:GetSecretValue",
      ]);
    });

    test("servers boot after the security group rules that let them reach RDS (their first boot runs the migrations)", () => {
      const ingress = json.named("aws_vpc_security_group_ingress_rule", "AppToDatabase_Ingress");
      const egress = json.named("aws_vpc_security_group_egress_rule", "AppToDatabase_Egress");
      expect([ingress.values.from_port, egress.values.to_port]).toEqual([Number(port), Number(port)]);
      expect(servers(json).values.depends_on).toEqual(
        expect.arrayContaining([
          `aws_vpc_security_group_ingress_rule.${ingress.name}`,
          `aws_vpc_security_group_egress_rule.${egress.name}`,
        ]),
      );
    });

    test("servers boot after the settings exist; the boot script fetches RDS's CA bundle for the region before the first deploy", () => {
      expect(servers(json).values.depends_on).toContain(
        `aws_ssm_parameter.${json.named("aws_ssm_parameter", "Parameter").name}`,
      );
      const script = bootScriptOf(json);
      const ca = script.indexOf("https://truststore.pki.rds.amazonaws.com/ap-northeast-2/ap-northeast-2-bundle.pem");
      expect(ca).toBeGreaterThan(0);
      expect(ca).toBeLessThan(script.indexOf(firstDeployLine("1.0.0")));
      expect(script).not.toContain("dnf install -y postgresql");
      expect(script).not.toContain("db-backup");
    });
  },
);

describe("every layout: the settings reach the processes and the migrations run once per deploy", () => {
  test.each([
    ["single-server", single],
    ["app-db-split", split],
    ["load-balanced", balanced],
  ])(
    "%s: the app@ unit loads database.env; the deploy writes it from the parameter, then migrates, before moving any process",
    (_layout, stack) => {
      const script = bootScriptOf(stack());
      expect(script).toContain("EnvironmentFile=-/etc/app/database.env\n");
      expect(script).toContain("DB_SETTINGS_PARAMETER=/shop/test/app/database\n");
      const settingsStep = script.indexOf("\nwrite_database_settings || {");
      const migrations = script.indexOf('\nrun_migrations "$version" 2>&1 | while');
      // the first install starts every process, later deploys move them one by one: both after
      const firstMove = Math.min(
        script.indexOf('\nif [[ -z $(for port in "${PORTS[@]}"; do running "$port"; done) ]]; then'),
        script.indexOf('for port in "${held[@]}" "${silent[@]}" "${serving[@]}"; do'),
      );
      expect(settingsStep).toBeGreaterThan(script.indexOf('fetch_release "$version" ||'));
      expect(migrations).toBeGreaterThan(settingsStep);
      expect(firstMove).toBeGreaterThan(migrations);
    },
  );

  test.each([
    ["single-server", single],
    ["app-db-split", split],
    ["load-balanced", balanced],
  ])("%s: no secret value anywhere in the JSON: no secret version, no password argument", (_layout, stack) => {
    const json = stack();
    expect(json.countOf("aws_secretsmanager_secret_version")).toBe(0);
    expect(json.json).not.toMatch(/"(master_)?password"\s*:/);
    for (const db of json.resources("aws_db_instance")) expect(db.values.manage_master_user_password).toBe(true);
  });
});

describe("single-server: the engine on the box, its password generated there, nightly dumps to S3", () => {
  const json = single();

  test("the settings point at 127.0.0.1 without TLS, as the app user, with the password in the stack's secret", () => {
    const secret = json.resources("aws_secretsmanager_secret")[0];
    expect(settings(json)).toEqual({
      DB_ENGINE: "postgres",
      DB_HOST: "127.0.0.1",
      DB_PORT: "5432",
      DB_NAME: "app",
      DB_USER: "app",
      DB_TLS: "disable",
      DB_SECRET_ID: ref(secret, "aws_secretsmanager_secret", "arn"),
      DB_REGION: "ap-northeast-2",
    });
  });

  test("the secret is created without a value (the server fills it at first boot), under the environment's name", () => {
    const [secret] = json.resources("aws_secretsmanager_secret");
    expect(json.countOf("aws_secretsmanager_secret")).toBe(1);
    expect(secret.values).toMatchObject({ name_prefix: "shop/test/db/app-", recovery_window_in_days: 7 });
    expect(json.countOf("aws_secretsmanager_secret_version")).toBe(0);
  });

  test("the role may read and fill only that secret, read the two parameters, and put, get and list dumps under db/: never delete", () => {
    const statements = databaseStatements(json);
    const secretArn = ref(json.resources("aws_secretsmanager_secret")[0], "aws_secretsmanager_secret", "arn");
    const bucket = json.named("aws_s3_bucket", "Backups");
    const bucketArn = ref(bucket, "aws_s3_bucket", "arn");
    expect(statements.ReadDatabaseSecret).toMatchObject({
      actions: ["secretsmanager:GetSecretValue"],
      resources: [secretArn],
    });
    expect(statements.FillDatabaseSecret).toMatchObject({
      actions: ["secretsmanager:PutSecretValue"],
      resources: [secretArn],
    });
    expect(statements.ReadDatabaseSettings.resources).toEqual([
      ref(json.named("aws_ssm_parameter", "Parameter"), "aws_ssm_parameter", "arn"),
      ref(json.named("aws_ssm_parameter", "BackupsParameter"), "aws_ssm_parameter", "arn"),
    ]);
    expect(statements.WriteAndReadDumps).toMatchObject({
      actions: ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
      resources: [`${bucketArn}/db/*`],
    });
    expect(statements.ListDumps).toMatchObject({ actions: ["s3:ListBucket"], resources: [bucketArn] });
    expect(statements.ListDumps.condition[0]).toMatchObject({
      test: "StringLike",
      variable: "s3:prefix",
      values: ["db/*"],
    });
    expect(JSON.stringify(statements)).not.toMatch(/Delete/);
    expect(Object.keys(statements)).toEqual([
      "ReadDatabaseSecret",
      "FillDatabaseSecret",
      "ReadDatabaseSettings",
      "WriteAndReadDumps",
      "ListDumps",
    ]);
  });

  test("the backups bucket is versioned, encrypted, private, TLS-only, and expires a dump after backupRetentionDays", () => {
    const bucket = json.named("aws_s3_bucket", "Backups");
    const bucketRef = ref(bucket, "aws_s3_bucket");
    const of = (type: string) => json.resources(type).find((r) => r.values.bucket === bucketRef)!.values;
    expect(bucket.values).toMatchObject({ bucket_prefix: "shop-test-db-backups-", force_destroy: true });
    expect(of("aws_s3_bucket_versioning").versioning_configuration.status).toBe("Enabled");
    expect(
      of("aws_s3_bucket_server_side_encryption_configuration").rule[0].apply_server_side_encryption_by_default
        .sse_algorithm,
    ).toBe("AES256");
    expect(of("aws_s3_bucket_public_access_block")).toMatchObject({
      block_public_acls: true,
      restrict_public_buckets: true,
    });
    expect(json.referenced(of("aws_s3_bucket_policy").policy).values.statement[0].condition[0]).toMatchObject({
      variable: "aws:SecureTransport",
      values: ["false"],
    });
    const [rule] = of("aws_s3_bucket_lifecycle_configuration").rule;
    expect(rule.expiration).toEqual([{ days: 3 }]); // the non-production default
    expect(rule.noncurrent_version_expiration).toEqual([{ noncurrent_days: 7 }]);
  });

  test("the server boots after the secret and the parameters; the boot script installs the engine, locks it to loopback and provisions before the first deploy", () => {
    const depends = servers(json).values.depends_on;
    expect(depends).toContain(`aws_secretsmanager_secret.${json.resources("aws_secretsmanager_secret")[0].name}`);
    expect(depends).toContain(`aws_ssm_parameter.${json.named("aws_ssm_parameter", "Parameter").name}`);
    expect(depends).toContain(`aws_ssm_parameter.${json.named("aws_ssm_parameter", "BackupsParameter").name}`);
    const script = bootScriptOf(json);
    const order = [
      "\nretry dnf install -y postgresql16 postgresql16-server\n",
      "\nlisten_addresses = 'localhost'\n",
      "host    app  app  127.0.0.1/32  scram-sha-256\n",
      "\n/opt/app/bin/db-provision\n",
      "\nsystemctl enable --now db-backup.timer\n",
      firstDeployLine("1.0.0"),
    ].map((line) => script.indexOf(line));
    expect(order.every((at) => at > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(script).toContain("OnCalendar=*-*-* 18:00:00 UTC\n");
  });

  test("outputs say where the dumps are and how to restore one", () => {
    const outputs = json.doc.output;
    expect(outputs.db_backups.value).toBe(
      `s3://\${aws_s3_bucket.${json.named("aws_s3_bucket", "Backups").name}.bucket}/db/`,
    );
    expect(outputs.db_restore.value).toMatch(/^sudo \/opt\/app\/bin\/db-restore latest/);
    // the app stops writing first (a restore wipes what it wrote since the dump), and a deploy starts it again
    expect(outputs.db_restore.value).toContain("after sudo systemctl stop 'app@*'; then sudo /opt/app/bin/deploy");
    expect(outputs.db_secret_arn.value).toBe(
      ref(json.resources("aws_secretsmanager_secret")[0], "aws_secretsmanager_secret", "arn"),
    );
  });

  test("MariaDB: AL2023's mariadb1011 packages, its drop-in on 127.0.0.1, port 3306", () => {
    const mariadb = single({ engine: "mariadb", engineVersion: "10.11" });
    expect(settings(mariadb)).toMatchObject({ DB_ENGINE: "mariadb", DB_PORT: "3306" });
    const script = bootScriptOf(mariadb);
    expect(script).toContain("\nretry dnf install -y mariadb1011 mariadb1011-server\n");
    expect(script).toContain("cat > /etc/my.cnf.d/zz-app.cnf <<");
    expect(script).toContain("\nbind-address = 127.0.0.1\n");
  });

  test("production keeps its data: the bucket refuses a destroy while it holds dumps, a deleted secret is recoverable for 30 days", () => {
    const prod = single(
      { engine: "postgres", engineVersion: "16", backupRetentionDays: 30 },
      {
        production: true,
        exceptions: [{ rule: "layout", reason: "one box on purpose, while the shop is small" }],
      },
    );
    expect(prod.named("aws_s3_bucket", "Backups").values.force_destroy).toBe(false);
    expect(prod.resources("aws_secretsmanager_secret")[0].values.recovery_window_in_days).toBe(30);
    const bucketRef = ref(prod.named("aws_s3_bucket", "Backups"), "aws_s3_bucket");
    const lifecycle = prod
      .resources("aws_s3_bucket_lifecycle_configuration")
      .find((r) => r.values.bucket === bucketRef)!;
    expect(lifecycle.values.rule[0].expiration).toEqual([{ days: 30 }]);
  });
});
