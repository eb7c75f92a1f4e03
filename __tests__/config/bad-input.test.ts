import * as fs from "node:fs";
import { stringify } from "yaml";
import { ConfigError } from "../../src/config/errors";
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

test("the fixture the cases start from is itself valid (so each case fails for its own reason)", () => {
  expect(problemsOf({})).toEqual([]);
  expect(problemsOf(ssh({ keyName: "ops-2026" }))).toEqual([]);
  expect(problemsOf(ssh({ keyName: "ops", allowedCidrs: ["203.0.113.7/32"] }))).toEqual([]);
  expect(problemsOf({ tags: { "team:aws": "web", CostCenter: "x" } })).toEqual([]);
});
