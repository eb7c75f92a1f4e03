import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_ROOT } from "../../src/project-root";
import {
  anchorsOf,
  brokenLink,
  documentationFiles,
  githubSlug,
  isExternal,
  linksOf,
  npmScriptsNamed,
  readPage,
  shellCommands,
  withoutComment,
} from "./markdown";

// The documentation as a reader meets it: README.md and docs/**/*.md. Every relative link resolves
// (file and #anchor, by GitHub's anchor rules), every `npm run` script they name exists, and each
// Korean guide in docs/ko/ keeps the commands of its English page and links to it and back.
// In-process: files are read once, nothing is spawned.
const ROOT = PROJECT_ROOT;
const PAGES = documentationFiles(ROOT);
const read = (page: string) => readPage(ROOT, page);

/** Every broken relative link of the given pages, as `<page>:<line>: <why>`. */
function brokenLinks(root: string, pages: readonly string[], reader = readPage): string[] {
  return pages.flatMap((page) =>
    linksOf(reader(root, page))
      .filter((link) => !isExternal(link.target))
      .flatMap((link) => {
        const why = brokenLink(root, page, link.target, reader);
        return why ? [`${page}:${link.line}: ${why}`] : [];
      }),
  );
}

describe("GitHub's heading anchors", () => {
  test.each([
    ["Quick start", "quick-start"],
    ["Reviewing a plan", "reviewing-a-plan"],
    ["`npm run cost`: the monthly estimate", "npm-run-cost-the-monthly-estimate"],
    ["single-server — one box", "single-server--one-box"],
    [
      "Foundations: CDK for Terraform (archived) and CDK Terrain",
      "foundations-cdk-for-terraform-archived-and-cdk-terrain",
    ],
    ["**Bold** and [a link](x.md)", "bold-and-a-link"],
    ["STATELESS_TYPES, kept", "stateless_types-kept"],
    ["첫 배포: dev 환경", "첫-배포-dev-환경"],
    ["리전 확인 (서울과 오사카)", "리전-확인-서울과-오사카"],
    ["Session Manager와 SSH(PuTTY)로 접속", "session-manager와-sshputty로-접속"],
  ])("%s -> #%s", (heading, slug) => {
    expect(githubSlug(heading)).toBe(slug);
  });

  test("a repeated heading gets -1, -2; headings inside code blocks are not headings", () => {
    const anchors = anchorsOf('# A\n## Notes\n```sh\n# not a heading\n```\n### Notes\n## Notes\n<a id="custom"></a>\n');
    expect([...anchors].sort()).toEqual(["a", "custom", "notes", "notes-1", "notes-2"]);
  });
});

describe("links", () => {
  test("every relative link in README.md and docs/ resolves, file and #anchor", () => {
    expect(PAGES).toEqual(
      expect.arrayContaining(["README.md", "docs/getting-started.md", "docs/ko/getting-started.md"]),
    );
    expect(brokenLinks(ROOT, PAGES)).toEqual([]);
  });

  test("the check finds a missing page, a missing anchor and an anchor in a Korean page", () => {
    // given a page with one good and three bad links, read from memory
    const pages: Record<string, string> = {
      "README.md": [
        "[ok](docs/ko/a.md#첫-배포-dev)",
        "[no file](docs/missing.md)",
        "[no anchor](docs/ko/a.md#첫-배포)",
        "[here](#nowhere) and `[in code](docs/missing.md)`",
        "```md\n[in a block](docs/missing.md)\n```",
      ].join("\n"),
      "docs/ko/a.md": "# 첫 배포: dev\n",
    };
    const reader = (_root: string, page: string) => pages[page];
    const root = fs.mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "links-"));
    fs.mkdirSync(path.join(root, "docs", "ko"), { recursive: true });
    fs.writeFileSync(path.join(root, "README.md"), pages["README.md"]);
    fs.writeFileSync(path.join(root, "docs", "ko", "a.md"), pages["docs/ko/a.md"]);
    // then exactly the three bad ones are reported, with their lines
    expect(brokenLinks(root, ["README.md"], reader)).toEqual([
      "README.md:2: docs/missing.md: docs/missing.md does not exist",
      "README.md:3: docs/ko/a.md#첫-배포: docs/ko/a.md has no heading with the anchor #첫-배포",
      "README.md:4: #nowhere: README.md has no heading with the anchor #nowhere",
    ]);
  });

  test("code and configuration that point readers at a page point at one that exists", () => {
    // Messages and comments say "docs/state.md" or "docs/releases.md#rolling-back"; none may
    // still send a reader to a README section that has moved.
    const sources = [
      ...filesUnder("src", /\.ts$/),
      ...filesUnder("scripts", /\.(ts|js)$/),
      ...filesUnder("environments", /\.yaml$/),
      ...filesUnder(".github", /\.ya?ml$/),
      "releases.yaml",
      "main.ts",
    ];
    const readmeAnchors = anchorsOf(read("README.md"));
    const problems = sources.flatMap((file) => {
      const text = fs.readFileSync(path.join(ROOT, file), "utf8");
      const pages = [...text.matchAll(/\bdocs\/[A-Za-z0-9/_-]+\.md(#[A-Za-z0-9_-]+)?/g)].flatMap((m) => {
        if (m[0].includes("<") || /architecture-$/.test(m[0])) return [];
        const why = brokenLink(ROOT, "README.md", m[0]);
        return why ? [`${file}: ${why}`] : [];
      });
      const sections = [...text.matchAll(/README, "([^"]+)"/g)]
        .filter((m) => !readmeAnchors.has(githubSlug(m[1])))
        .map((m) => `${file}: README has no section "${m[1]}"`);
      return [...pages, ...sections];
    });
    expect(problems).toEqual([]);
  });
});

describe("the README", () => {
  test("stays a short front door: depth goes into docs/ (the generated diagram aside)", () => {
    const readme = read("README.md");
    const outside = readme.replace(/<!-- diagram:prod:start -->[\s\S]*<!-- diagram:prod:end -->/, "");
    expect(outside.split("\n").length).toBeLessThanOrEqual(130);
    // and links every English guide in docs/ and every Korean one
    const linked = new Set(linksOf(readme).map((l) => l.target.split("#")[0]));
    const guides = PAGES.filter((p) => p.startsWith("docs/") && !/architecture-/.test(p));
    expect(guides.filter((p) => !linked.has(p))).toEqual([]);
  });

  test("keeps the two quick-start commands that CI and the stop hook read", () => {
    expect(read("README.md")).toContain("npm ci && npm run synth");
    expect(read("README.md")).toMatch(/^npm test\b/m);
  });
});

describe("npm run", () => {
  const scripts = Object.keys(JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts);

  test("every `npm run <script>` the README and docs name is a script in package.json", () => {
    const named = PAGES.flatMap((page) => npmScriptsNamed(read(page)).map((script) => ({ page, script })));
    expect(named.length).toBeGreaterThan(20);
    expect(
      named.filter(({ script }) => !scripts.includes(script)).map((n) => `${n.page}: npm run ${n.script}`),
    ).toEqual([]);
    // and the docs name the everyday ones
    const all = new Set(named.map((n) => n.script));
    for (const script of ["synth", "plan", "drift", "cost", "release", "schema", "diagram", "test:quick", "bench"])
      expect([script, all.has(script)]).toEqual([script, true]);
  });

  test("finds the script name in prose, code and Korean text", () => {
    expect(npmScriptsNamed("run `npm run plan -- prod`, then npm run cost로 비용을 봅니다; npm run deplyo")).toEqual([
      "plan",
      "cost",
      "deplyo",
    ]);
  });
});

describe("Korean guides", () => {
  const korean = PAGES.filter((p) => p.startsWith("docs/ko/"));
  const pairs = korean.map((ko) => [ko, `docs/${path.posix.basename(ko)}`] as const);

  test("there are the three guides, each with its English page", () => {
    expect(korean).toEqual(
      expect.arrayContaining(["docs/ko/getting-started.md", "docs/ko/layouts.md", "docs/ko/operations.md"]),
    );
    for (const [, en] of pairs) expect([en, PAGES.includes(en)]).toEqual([en, true]);
  });

  test.each(pairs)("%s links to %s, and back", (ko, en) => {
    const targets = (page: string) => linksOf(read(page)).map((l) => l.target.split("#")[0]);
    expect(targets(ko)).toContain(`../${path.posix.basename(en)}`);
    expect(targets(en)).toContain(`ko/${path.posix.basename(ko)}`);
  });

  test.each(pairs)("%s runs the same commands as %s, block by block (comments aside)", (ko, en) => {
    const english = shellCommands(read(en));
    expect(english.length).toBeGreaterThan(0);
    expect(shellCommands(read(ko))).toEqual(english);
  });

  // Commands written in the prose (`npm run bump-ami -- <env>`), not only in code blocks: a Korean
  // page left them out where the English one tells an operator what to run (review AY). Placeholders
  // are translated (`<address>`, `<주소>`), so they compare as `<>`. The sections a Korean page sends
  // to its English one (layouts: outputs, diagrams, the log groups' import) are named here.
  const ENGLISH_ONLY: Record<string, readonly string[]> = {
    "docs/ko/layouts.md": [
      "terraform import 'aws_cloudwatch_log_group.<>' /aws/rds/instance/<>/<>",
      "terraform -chdir=cdktf.out/stacks/<> output -raw <>",
      "npm run diagram",
    ],
  };
  test.each(pairs)("%s names every command that %s names in its prose, or sends readers there for it", (ko, en) => {
    const normal = (text: string) => text.replace(/\s+/g, " ").replace(/<[^>]*>/g, "<>");
    const spans = (text: string) =>
      [...text.replace(/```[\s\S]*?```/g, "").matchAll(/`([^`\n]+)`/g)].map((m) => normal(m[1]));
    const commands = spans(read(en)).filter((span) => /^(npm run |npx |terraform |aws )/.test(span));
    expect(commands.length).toBeGreaterThan(3);
    const korean = normal(read(ko));
    const missing = [...new Set(commands)].filter((command) => !korean.includes(command));
    expect(missing).toEqual(ENGLISH_ONLY[ko] ?? []);
  });

  test("comments are set aside, quoted # and #{ } are kept", () => {
    expect(withoutComment("npm run synth   # 모든 환경")).toBe("npm run synth");
    expect(withoutComment("# 주석만")).toBe("");
    expect(withoutComment(`echo "a # b" # c`)).toBe(`echo "a # b"`);
    expect(withoutComment("git log --format=%h#x")).toBe("git log --format=%h#x");
    const blocks = shellCommands('```sh\nnpm ci # en\n\n```\n```yaml\na: 1\n```\n```powershell\n$env:A = "1"\n```\n');
    expect(blocks).toEqual([["npm ci"], ['$env:A = "1"']]);
  });
});

function filesUnder(dir: string, pattern: RegExp): string[] {
  const found: string[] = [];
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(child);
      else if (pattern.test(entry.name)) found.push(child);
    }
  };
  walk(dir);
  return found;
}
