import * as fs from "node:fs";
import { stringify } from "yaml";
import { ConfigError } from "../../src/config/errors";
import { environmentJsonSchema } from "../../src/config/json-schema";
import { loadEnvironments, parseEnvironment } from "../../src/config/load";
import { environmentFile, tempDir, writeEnvironments } from "../helpers";

// Input a new user really writes, and the one line each gets back: the field, what is allowed,
// and, where the mistake is a common one, what they meant.

const network = environmentFile().network;
const app = environmentFile().app;
const ssh = (fields: Record<string, unknown>) => ({
  access: { ssh: { allowedCidrs: ["203.0.113.0/24"], ...fields } },
});

/** The problems of one environment file, as the user reads them (without the folder prefix). */
function problemsOf(overrides: Record<string, unknown>): string[] {
  return parseEnvironment("dev", environmentFile(overrides)).problems;
}

/** The problems `loadEnvironments` reports for one folder written as `text`. */
function problemsOfText(text: string): string[] {
  const dir = tempDir();
  try {
    writeEnvironments(dir, { dev: text });
    loadEnvironments({ dir });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => p.replace(/^[^:]*\/dev: /, ""));
    throw error;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  throw new Error("expected the folder to be rejected");
}

describe("bad input a user really writes", () => {
  test.each([
    [
      "a tag key in AWS's reserved aws: prefix (AWS rejects it at apply time)",
      { tags: { "aws:team": "web" } },
      'tags.aws:team must not start with "aws:": AWS reserves that prefix for its own tags (got "aws:team")',
    ],
    [
      "the reserved prefix in any case",
      { tags: { "AWS:Owner": "web" } },
      'tags.AWS:Owner must not start with "aws:": AWS reserves that prefix for its own tags (got "AWS:Owner")',
    ],
    [
      "a reserved tag key in another case (IAM compares tag keys without case, and refuses the pair)",
      { tags: { environment: "qa" } },
      'tags.environment is set by the project itself (reserved, in any case: Project, Environment, ManagedBy) (got "environment")',
    ],
    [
      "a tag key that differs only in case from the Name tag the project puts on a role",
      { tags: { name: "web" } },
      'tags.name differs only in case from a tag the project sets on resources (Name, Tier): IAM refuses both on one role (got "name")',
    ],
    [
      "two tag keys that differ only in case",
      { tags: { Team: "web", team: "payments" } },
      'tags has keys "Team" and "team", which differ only in case: IAM refuses both on one role (got {"Team":"web","team":"payments"})',
    ],
    [
      "more tags than a resource can carry beside the project's own (AWS refuses a 51st at apply)",
      { tags: Object.fromEntries(Array.from({ length: 46 }, (_, i) => [`Tag${i}`, "x"])) },
      "tags must hold at most 45 tags: every one reaches every resource, which AWS lets carry 50, 5 of them the project's own (got 46)",
    ],
    [
      "a key pair file name instead of the key pair's name",
      ssh({ keyName: "ops-2026.pem" }),
      'access.ssh.keyName must be the name of an EC2 key pair, which has no file extension: did you mean "ops-2026"? Key pairs are per region: it must exist in ap-northeast-2 (got "ops-2026.pem")',
    ],
    [
      "a path to a key file",
      ssh({ keyName: "~/.ssh/ops.ppk" }),
      'access.ssh.keyName must be the name of an EC2 key pair, which has no file extension: did you mean "ops"? Key pairs are per region: it must exist in ap-northeast-2 (got "~/.ssh/ops.ppk")',
    ],
    [
      "a bare IP address as an admin network",
      ssh({ keyName: "ops", allowedCidrs: ["203.0.113.7"] }),
      'access.ssh.allowedCidrs[0] must be a CIDR block, not a bare address: did you mean "203.0.113.7/32"? (got "203.0.113.7")',
    ],
    [
      "a CIDR with host bits set",
      ssh({ keyName: "ops", allowedCidrs: ["203.0.113.7/24"] }),
      'access.ssh.allowedCidrs[0] must start at its network address: did you mean "203.0.113.0/24"? (got "203.0.113.7/24")',
    ],
    [
      "a public key in PuTTYgen's SSH2 format",
      ssh({
        publicKey:
          '---- BEGIN SSH2 PUBLIC KEY ----\nComment: "ed25519-key-20260101"\nAAAAC3NzaC1lZDI1NTE5AAAAIG4mZ7\n---- END SSH2 PUBLIC KEY ----\n',
      }),
      'access.ssh.publicKey is in PuTTYgen\'s SSH2 format: paste the one-line OpenSSH form instead (PuTTYgen\'s box "Public key for pasting into OpenSSH authorized_keys file", or ssh-keygen -i -f <file>), e.g. ssh-ed25519 AAAA... (got "---- BEGIN SSH2 PUBLIC KEY ----")',
    ],
    [
      "a private key",
      ssh({
        publicKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
      }),
      "access.ssh.publicKey is a private key: never put one in a config file; give its public half (ssh-keygen -y -f <file>) (got a private key, not shown)",
    ],
    [
      "a city instead of a region",
      { region: "seoul" },
      expect.stringMatching(
        /^region must be one of: ap-northeast-2, .*: did you mean ap-northeast-2 \(Seoul\)\? \(got "seoul"\)$/,
      ),
    ],
    [
      "a misspelled region",
      { region: "ap-northeast2" },
      expect.stringMatching(
        /^region must be one of: .*: did you mean ap-northeast-2 \(Seoul\)\? \(got "ap-northeast2"\)$/,
      ),
    ],
    [
      "a count that is not an object",
      { app: { ...app, count: 3 } },
      "app.count must be an object with the fields min, desired, max (got 3)",
    ],
    [
      "a count without its max",
      { app: { ...app, count: { min: 1, desired: 1 } } },
      "app.count.max is required (an integer from 1 to 100)",
    ],
    [
      "a count with an empty max",
      { app: { ...app, count: { min: 1, desired: 1, max: null } } },
      "app.count.max is required (an integer from 1 to 100)",
    ],
    [
      "a misspelled field, answered with the likely spelling",
      { network: { ...network, natGateway: "single" } },
      "network.natGateway is not a known field: did you mean natGateways? (allowed: cidr, availabilityZones, natGateways, flowLogs)",
    ],
    [
      "the backend's name where the state mapping belongs",
      { state: "s3" },
      'state must be a mapping whose backend is local, s3 or cloud, with that backend\'s fields (backend: s3 and bucket: <name>, for one), not a single value (got "s3")',
    ],
    [
      "a state key ending in a slash, as a folder would (Terraform's S3 backend refuses it at init)",
      { state: { backend: "s3", bucket: "acme-tfstate", key: "shop/staging/" } },
      'state.key must be an S3 object key of letters, digits and !_.*\'()/-, with no / at either end and no // (got "shop/staging/")',
    ],
    [
      "a state key starting with a slash",
      { state: { backend: "s3", bucket: "acme-tfstate", key: "/shop/staging.tfstate" } },
      'state.key must be an S3 object key of letters, digits and !_.*\'()/-, with no / at either end and no // (got "/shop/staging.tfstate")',
    ],
    [
      "a state key with an empty folder",
      { state: { backend: "s3", bucket: "acme-tfstate", key: "shop//staging.tfstate" } },
      'state.key must be an S3 object key of letters, digits and !_.*\'()/-, with no / at either end and no // (got "shop//staging.tfstate")',
    ],
    [
      "a state key that is another environment's lock object (S3-native locking writes <key>.tflock; review AS)",
      { state: { backend: "s3", bucket: "acme-tfstate", key: "shop/qa/terraform.tfstate.tflock" } },
      'state.key must not end in .tflock: Terraform keeps each state\'s lock at <key>.tflock (got "shop/qa/terraform.tfstate.tflock")',
    ],
    ...[
      "xn--tfstate",
      "sthree-acme",
      "amzn-s3-demo-state",
      "acme-s3alias",
      "acme--ol-s3",
      "acme--x-s3",
      "acme--table-s3",
    ].map((bucket): [string, Record<string, unknown>, string] => [
      `a state bucket name S3 reserves (${bucket})`,
      { state: { backend: "s3", bucket } },
      `state.bucket must not begin with xn--, sthree-, amzn-s3-demo- or end with -s3alias, --ol-s3, --x-s3, --table-s3: S3 reserves them (got "${bucket}")`,
    ]),
  ])("%s", (_case, overrides, expected) => {
    expect(problemsOf(overrides as Record<string, unknown>)).toContainEqual(expected);
  });

  test("a misspelled required field is one problem, the likely spelling, not also the field it meant as missing", () => {
    // natGateways has a default; region and app.instanceType do not
    const { region, ...rest } = environmentFile();
    expect(parseEnvironment("dev", { ...rest, regoin: region }).problems).toEqual([
      expect.stringMatching(/^regoin is not a known field: did you mean region\? \(allowed: /),
    ]);
    const { instanceType, ...appRest } = environmentFile().app;
    expect(
      parseEnvironment("dev", { ...environmentFile(), app: { ...appRest, instanceTyp: instanceType } }).problems,
    ).toEqual([expect.stringMatching(/^app\.instanceTyp is not a known field: did you mean instanceType\? /)]);
    // a required field that is simply missing is still said
    expect(parseEnvironment("dev", rest).problems).toEqual([expect.stringMatching(/^region is required \(one of: /)]);
  });

  test("a value YAML reads as infinity or not a number is shown as that, not as null; a too-large count is one line", () => {
    const app = environmentFile().app;
    for (const [written, shownAs] of [
      [".inf", "Infinity"],
      ["1e400", "Infinity"],
      [".nan", "NaN"],
    ]) {
      const text = stringify(environmentFile()).replace(/rootVolumeGb: \d+|app:\n/, (m) =>
        m === "app:\n" ? `app:\n  rootVolumeGb: ${written}\n` : `rootVolumeGb: ${written}`,
      );
      expect(problemsOfText(text)).toEqual([
        expect.stringMatching(new RegExp(`^app\\.rootVolumeGb .*\\(got ${shownAs}\\)$`)),
      ]);
    }
    const huge = problemsOf({ app: { ...app, count: { min: 1, desired: 1, max: 99999999999999999999 } } });
    expect(huge).toHaveLength(new Set(huge).size);
    expect(huge.filter((p) => p.startsWith("app.count.max"))).toHaveLength(1);
  });

  test("a version YAML reads as a number is answered with how to quote it, showing what was written", () => {
    // given `version: 1.0`, which YAML reads as the number 1
    const file = stringify(environmentFile())
      .replace('version: "1.0.0"', "version: 1.0")
      .replace("version: 1.0.0", "version: 1.0");
    expect(file).toContain("version: 1.0\n");
    // then the message says what to write, and shows 1.0 as written, not 1
    expect(problemsOfText(file)).toEqual([
      'app.version must be text, so quote it: version: "1.0" (YAML reads 1.0 unquoted as the number 1) (got 1.0)',
    ]);
  });

  test("a number where text is meant, which quoted would still be wrong, is answered with the field's rule, not how to quote it", () => {
    // given `cidr: 10`: "10" is no CIDR block either
    const file = stringify(environmentFile()).replace("cidr: 10.50.0.0/16", "cidr: 10");
    expect(problemsOfText(file)).toEqual(["network.cidr must be an IPv4 CIDR block such as 10.20.0.0/16 (got 10)"]);
    // and `cidr: 10.30`, as written (YAML reads the number 10.3)
    expect(problemsOfText(file.replace("cidr: 10", "cidr: 10.30"))).toEqual([
      "network.cidr must be an IPv4 CIDR block such as 10.20.0.0/16 (got 10.30)",
    ]);
  });

  test("yes, no, on or off where a boolean goes is answered with what to write: YAML 1.2 reads them as text (review CS)", () => {
    const file = stringify(environmentFile({ production: false }));
    expect(file).toContain("production: false\n");
    expect(problemsOfText(file.replace("production: false", "production: no"))).toEqual([
      'production must be true or false: write production: false (YAML reads "no" as text, not as a boolean) (got "no")',
    ]);
    expect(problemsOfText(file.replace("production: false", "production: On"))).toEqual([
      'production must be true or false: write production: true (YAML reads "On" as text, not as a boolean) (got "On")',
    ]);
    // quoted, true is text too
    expect(problemsOfText(file.replace("production: false", 'production: "true"'))).toEqual([
      'production must be true or false: write production: true (YAML reads "true" as text, not as a boolean) (got "true")',
    ]);
    // any other text keeps the plain answer
    expect(problemsOfText(file.replace("production: false", "production: maybe"))).toEqual([
      'production must be a boolean (got "maybe")',
    ]);
  });

  test("an engine version YAML reads as a number gets the same answer", () => {
    const file = stringify(environmentFile()).replace(/engineVersion: "?16"?/, "engineVersion: 16");
    expect(problemsOfText(file)).toEqual([
      'database.engineVersion must be text, so quote it: engineVersion: "16" (YAML reads 16 unquoted as the number 16) (got 16)',
    ]);
  });

  test("a duplicated key names the line and shows it, with no dangling colon", () => {
    const file = `${stringify(environmentFile())}project: other\n`;
    const line = file.split("\n").length - 1;
    expect(problemsOfText(file)).toEqual([
      `config.yaml is not valid YAML: map keys must be unique (line ${line}, column 1: "project: other")`,
    ]);
  });

  test("a tab in the indentation is one problem, the parser's first, not also the two that follow from it", () => {
    const file = stringify(environmentFile()).replace(/\n {2}instanceType:/, "\n\tinstanceType:");
    const problems = problemsOfText(file);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^config\.yaml is not valid YAML: tabs are not allowed as indentation \(line \d+, column 1/,
    );
  });

  test("a second YAML document (a --- line) is answered with what to do in the file, not with the parser's advice to a program", () => {
    const file = `${stringify(environmentFile())}---\ntags:\n  Team: web\n`;
    const line = file.split("\n").indexOf("---") + 1;
    expect(problemsOfText(file)).toEqual([
      "config.yaml is not valid YAML: it holds more than one YAML document (a --- line after the first setting): an environment is one document; " +
        `remove the --- line, or move what follows it into the file above it (line ${line}, column 1: "---")`,
    ]);
  });

  test("two duplicated keys are two problems", () => {
    expect(problemsOfText(`${stringify(environmentFile())}project: other\nregion: us-east-1\n`)).toEqual([
      expect.stringMatching(/map keys must be unique .*"project: other"/),
      expect.stringMatching(/map keys must be unique .*"region: us-east-1"/),
    ]);
  });

  test("a YAML syntax error names the line without the parser's trailing context", () => {
    const [problem] = problemsOfText("project: shop\nregion: [ap-northeast-2\n");
    expect(problem).toMatch(/^config\.yaml is not valid YAML: .+ \(line \d+, column \d+/);
    expect(problem).not.toMatch(/:$/);
    expect(problem).not.toContain("\n");
  });
});

/** Public keys made by `ssh-keygen -t <type>` for these tests (the private halves were not kept). */
const KEYS = {
  ed25519: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPun0CGh8hTGj3QO24qUHYVGF9soE3as5EtDq46P4DO5",
  rsa: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDOfrU6A6WG5/uc0h7BLPFL9JPfu0QSCEBUepYZVfIlAtgpM9RuJaiM4PPNxDWlslSsMXC0Ha24BRxliLelyI+ashIxLoxY7Hke9Iuqq8oVF777cUOjxAWg5qujuWpQNJh2H0XOIJoW07M0IoJMfKKu5Ay/kc2Vp1ppgAV9pZ8fPb3+heb8eWXF5ggbBTuBw4egQxiTUkLrR78PnItKrLHQyuAnEzzdc/rjiBYcJvjQDSxxBNTH7veLPuPz3SPCsyBeJO1N+91pHxMwOerGbzoX0HKDsK+/gjIeBmBedsOqrAs778rKAuQRWPQJor4U3xFESDliuUPl8KrGIDA0A8cz",
  ecdsa:
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBDpVETS3k9/5bbxNBPXb+Qx8SAwHjgkw6UW47OxLe/Qhm5RrCZ5eSKYahInP+29PgShCuhH85/yZFnV4hHtO3es=",
};

// Input the schema's shapes would take and AWS refuses only at apply time, half-way through
// creating an environment's resources (found by a review against AWS's API references).
describe("input AWS would refuse at apply time is refused at synth", () => {
  test.each([
    [
      "an ECDSA public key (EC2's ImportKeyPair takes RSA and ED25519 only)",
      ssh({ publicKey: `${KEYS.ecdsa} ops@laptop` }),
      'access.ssh.publicKey must be an RSA or ED25519 key: EC2 imports no other kind (ssh-keygen -t ed25519 makes one) (got a "ecdsa-sha2-nistp256" key)',
    ],
    [
      "a public key cut short when it was copied",
      ssh({ publicKey: KEYS.ed25519.slice(0, -8) }),
      `access.ssh.publicKey must be a whole OpenSSH public key: what follows ssh-ed25519 is not a key (cut short when it was copied?); copy the whole line of the .pub file (got "ssh-ed25519 AAAAC3NzaC1lZDI1...", ${KEYS.ed25519.length - 20} characters of key)`,
    ],
    [
      "an RSA key labelled as an ED25519 one",
      ssh({ publicKey: KEYS.rsa.replace("ssh-rsa", "ssh-ed25519") }),
      'access.ssh.publicKey must start with the key\'s own type: the key is ssh-rsa, the line says ssh-ed25519 (got "ssh-ed25519 AAAAB3NzaC1yc2EA...")',
    ],
    [
      "an admin network listed twice (EC2: InvalidPermission.Duplicate)",
      ssh({ keyName: "ops", allowedCidrs: ["203.0.113.0/24", "198.51.100.0/24", "203.0.113.0/24"] }),
      'access.ssh.allowedCidrs[2] repeats allowedCidrs[0]; each network must appear once (got "203.0.113.0/24")',
    ],
    [
      "a tag value with characters IAM refuses",
      { tags: { Owner: "R&D (payments), team #2" } },
      'tags.Owner must be at most 256 letters, digits, spaces or _.:/=+-@: AWS refuses any other character in a tag value (IAM first, half-way through an apply) (got "R&D (payments), team #2")',
    ],
    [
      "a site name longer than an ACM certificate's common name may be",
      {
        loadBalancer: { https: true },
        domain: { name: `${"a".repeat(53)}.example.net`, hostedZone: "example.net" },
      },
      `domain.name must be at most 64 characters for the ACM certificate issued for it (its common name), or give loadBalancer.certificateArn of a certificate that covers it (got "${"a".repeat(53)}.example.net", 65 characters)`,
    ],
    [
      "a site at a zone's own name, without its zone (the zone would default to the top-level domain)",
      { domain: { name: "corp.io" } },
      'domain.name must be given its Route 53 zone in domain.hostedZone (hostedZone: corp.io for a zone\'s own name): by default the zone is the name without its first label, here the top-level domain "io", which no account can hold (got "corp.io")',
    ],
    [
      "a project named sg (a security group's name may not begin with sg-)",
      { project: "sg" },
      'project must not be "sg" or begin with "sg-": a security group\'s name may not (<project>-<env>-app-) (got "sg")',
    ],
  ])("%s", (_, overrides, expected) => {
    expect(problemsOf(overrides)).toEqual([expected]);
  });

  test("a public key written as a YAML block scalar (a newline after it) passes the validator and the editor's schema, and is imported without the newline", () => {
    const key = `${KEYS.ed25519} ops@laptop\n`;
    const parsed = parseEnvironment("dev", environmentFile(ssh({ publicKey: key })));
    expect(parsed.problems).toEqual([]);
    expect(parsed.environment?.access.ssh?.publicKey).toBe(key.trim());
    const pattern = JSON.stringify(JSON.parse(environmentJsonSchema())).match(
      /"publicKey":\{[^}]*"pattern":("(?:[^"\\]|\\.)*")/,
    );
    const editor = new RegExp(JSON.parse(pattern![1]), "u");
    expect([key, key.trim(), `  ${key}`].map((k) => editor.test(k))).toEqual([true, true, true]);
    // and still misses what the validator refuses
    expect(editor.test(`${KEYS.ecdsa}\n`)).toBe(false);
  });

  test("app.port where something else on the server listens: sshd's 22, and on a single server its own database's port", () => {
    const single = (port: number) =>
      problemsOf({ layout: "single-server", app: { instanceType: "t3.small", version: "1.0.0", port } });
    expect(problemsOf({ app: { ...app, port: 22 } })).toEqual([
      "app.port must not be 22, where the server's sshd listens; nginx listens on app.port (got 22)",
    ]);
    expect(single(5432)).toEqual([
      "app.port must not be 5432, where the server's own postgres listens (layout single-server); nginx listens on app.port (got 5432)",
    ]);
    // the database is elsewhere on the other layouts; any other port is nginx's to take
    expect(problemsOf({ app: { ...app, port: 5432 } })).toEqual([]);
    expect(single(8080)).toEqual([]);
  });

  test("an allocation too large for any storage ceiling RDS takes is refused as what it is, not as a ceiling no one wrote", () => {
    const database = (allocatedStorageGb: number) => ({
      database: { ...environmentFile().database, allocatedStorageGb },
    });
    expect(problemsOf(database(60000))).toEqual([
      "database.allocatedStorageGb must be an integer from 20 to 59578 (got 60000)",
    ]);
    // the largest allocation takes the largest ceiling, 10 % above it
    expect(problemsOf(database(59578))).toEqual([]);
  });

  test('a folder name with "--", which every RDS identifier of the environment would hold', () => {
    expect(parseEnvironment("pr--d", environmentFile()).problems).toEqual([
      'folder name must not hold "--": an RDS identifier may not (<project>-<env>-db) (got "pr--d")',
    ]);
  });

  test("what AWS takes still passes: RSA and ED25519 keys, tag values in any script, a 64-character site name, a longer one with a certificate of the user's own", () => {
    expect(problemsOf(ssh({ publicKey: `${KEYS.ed25519} ops@laptop` }))).toEqual([]);
    expect(problemsOf(ssh({ publicKey: KEYS.rsa }))).toEqual([]);
    expect(problemsOf({ tags: { Owner: "연구개발 팀 / R+D @seoul", Empty: "" } })).toEqual([]);
    expect(problemsOf({ project: "sgx" })).toEqual([]);
    const name = (length: number) => `${"a".repeat(length - ".example.net".length)}.example.net`;
    const site = (length: number) => ({ name: name(length), hostedZone: "example.net" });
    expect(problemsOf({ loadBalancer: { https: true }, domain: site(64) })).toEqual([]);
    expect(problemsOf({ loadBalancer: { https: false }, domain: site(65) })).toEqual([]);
    const arn = "arn:aws:acm:ap-northeast-2:111122223333:certificate/5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
    expect(problemsOf({ loadBalancer: { https: true, certificateArn: arn }, domain: site(65) })).toEqual([]);
  });
});

test("a certificate the load balancer cannot use is refused before anything is written: with https false, or of another account than accountId (review BD)", () => {
  const arn = (account: string) =>
    `arn:aws:acm:ap-northeast-2:${account}:certificate/5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f`;
  expect(problemsOf({ loadBalancer: { https: false, certificateArn: arn("111122223333") } })).toEqual([
    `loadBalancer.certificateArn has no use while loadBalancer.https is false (plain HTTP, no listener for a certificate): set https: true, or remove certificateArn (got "${arn("111122223333")}")`,
  ]);
  expect(
    problemsOf({ accountId: "246813579024", loadBalancer: { https: true, certificateArn: arn("135792468013") } }),
  ).toEqual([
    "loadBalancer.certificateArn must be a certificate of the environment's account 246813579024 (accountId), as a load balancer uses only its own account's certificates (got one of account 135792468013)",
  ]);
  // its own account's passes; without accountId there is nothing to compare with
  expect(
    problemsOf({ accountId: "246813579024", loadBalancer: { https: true, certificateArn: arn("246813579024") } }),
  ).toEqual([]);
  expect(
    problemsOf({ accountId: undefined, loadBalancer: { https: true, certificateArn: arn("135792468013") } }),
  ).toEqual([]);
});

test("the fixture the cases start from is itself valid (so each case fails for its own reason)", () => {
  expect(problemsOf({})).toEqual([]);
  expect(problemsOf(ssh({ keyName: "ops-2026" }))).toEqual([]);
  expect(problemsOf(ssh({ keyName: "ops", allowedCidrs: ["203.0.113.7/32"] }))).toEqual([]);
  expect(problemsOf({ tags: { "team:aws": "web", CostCenter: "x" } })).toEqual([]);
});
