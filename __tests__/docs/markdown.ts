import * as fs from "node:fs";
import * as path from "node:path";

// Small readers of the project's Markdown, for the documentation tests: headings and their GitHub
// anchors, relative links, fenced code blocks and the commands in them. Pure functions over text.

/** README.md and every page under docs/, as paths relative to `root` with `/` separators. */
export function documentationFiles(root: string): string[] {
  const pages: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith(".md")) pages.push(rel);
    }
  };
  if (fs.existsSync(path.join(root, "docs"))) walk("docs");
  return ["README.md", ...pages.sort()];
}

/** A fenced code block: its info string's first word (`sh`, `yaml`, ``) and its lines. */
export interface FencedBlock {
  readonly lang: string;
  readonly lines: string[];
  /** 1-based line of the opening fence. */
  readonly line: number;
}

/** The page's lines outside fenced code blocks (blocks replaced by empty lines), and the blocks. */
export function splitFences(markdown: string): { prose: string[]; blocks: FencedBlock[] } {
  const prose: string[] = [];
  const blocks: FencedBlock[] = [];
  let open: { fence: string; block: FencedBlock } | undefined;
  markdown.split("\n").forEach((line, i) => {
    const fence = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/.exec(line);
    if (!open && fence) {
      open = { fence: fence[1], block: { lang: fence[2].toLowerCase(), lines: [], line: i + 1 } };
      prose.push("");
    } else if (open && new RegExp(`^ {0,3}${open.fence[0]}{${open.fence.length},}\\s*$`).test(line)) {
      blocks.push(open.block);
      open = undefined;
      prose.push("");
    } else if (open) {
      open.block.lines.push(line);
      prose.push("");
    } else {
      prose.push(line);
    }
  });
  return { prose, blocks };
}

/**
 * GitHub's anchor for a heading's text, as github-slugger computes it: the rendered text (code
 * spans, emphasis and links reduced to their text), lower-cased, every character that is not a
 * letter, mark, number, connector punctuation (`_`), space or hyphen dropped, and each space made
 * a hyphen. Korean (Hangul is a letter) is kept as it is. Repeats get `-1`, `-2`, ... (see anchorsOf).
 */
export function githubSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // links and images: their text
    .replace(/<[^>]+>/g, "") // inline HTML tags
    .replace(/`([^`]*)`/g, "$1") // code spans: their content
    .replace(/(\*\*|__|\*)(?=\S)([^*]*?\S)\1/g, "$2"); // emphasis
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

/** Every anchor a page offers: its headings' slugs (repeats numbered) and explicit `id`/`name`s. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const { prose } = splitFences(markdown);
  for (const line of prose) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const base = githubSlug(heading[1]);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]);
  }
  return anchors;
}

/** A link in a page's prose: its target as written and the line it is on. */
export interface Link {
  readonly target: string;
  readonly line: number;
}

/** Inline links and images, and reference definitions, outside code blocks and code spans. */
export function linksOf(markdown: string): Link[] {
  const links: Link[] = [];
  splitFences(markdown).prose.forEach((raw, i) => {
    const line = raw.replace(/`[^`]*`/g, "");
    for (const m of line.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      links.push({ target: m[1], line: i + 1 });
    }
    const definition = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(\s|$)/.exec(line);
    if (definition) links.push({ target: definition[1], line: i + 1 });
  });
  return links;
}

/** Whether a link leaves the repository (a URL, mail, ...), rather than naming a file in it. */
export function isExternal(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//");
}

/**
 * Why a relative link of `page` (relative to `root`) does not resolve, or undefined when it does: the
 * file (or folder) must exist, and an `#anchor` must be one of the target page's anchors.
 */
export function brokenLink(root: string, page: string, target: string, read = readPage): string | undefined {
  const [file, anchor] = splitTarget(target);
  const resolved = file === "" ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), file));
  if (resolved.startsWith("..")) return `${target} points outside the repository`;
  const absolute = path.join(root, resolved);
  if (!fs.existsSync(absolute)) return `${target}: ${resolved} does not exist`;
  if (anchor === undefined) return undefined;
  if (!resolved.endsWith(".md")) return `${target}: an anchor into ${resolved}, which is not a Markdown page`;
  const anchors = anchorsOf(read(root, resolved));
  return anchors.has(anchor) ? undefined : `${target}: ${resolved} has no heading with the anchor #${anchor}`;
}

function splitTarget(target: string): [string, string | undefined] {
  const hash = target.indexOf("#");
  const file = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
  return [file, hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1))];
}

const pages = new Map<string, string>();

/** A page's text, read once per test process (the unit runner shares it between files). */
export function readPage(root: string, page: string): string {
  const key = path.join(root, page);
  let text = pages.get(key);
  if (text === undefined) {
    text = fs.readFileSync(key, "utf8");
    pages.set(key, text);
  }
  return text;
}

/** The shells whose blocks hold commands a reader runs. */
export const SHELL_LANGS = ["sh", "bash", "shell", "powershell", "pwsh", "ps1"];

/**
 * The commands of a page's shell blocks, block by block: each line without its comment (`#` at the
 * start or after a space, outside quotes) and without surrounding space, blank lines dropped.
 */
export function shellCommands(markdown: string): string[][] {
  return splitFences(markdown)
    .blocks.filter((b) => SHELL_LANGS.includes(b.lang))
    .map((b) => b.lines.map(withoutComment).filter((l) => l !== ""));
}

/** A shell line without its trailing comment. */
export function withoutComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]))) {
      return line.slice(0, i).trim();
    }
  }
  return line.trim();
}

/** Every `npm run <script>` a text names. */
export function npmScriptsNamed(text: string): string[] {
  return [...text.matchAll(/npm run ([A-Za-z0-9:_-]+)/g)].map((m) => m[1]);
}
