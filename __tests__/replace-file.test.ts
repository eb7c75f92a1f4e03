import * as fs from "node:fs";
import * as path from "node:path";
import { replaceFile, replaceFiles } from "../src/replace-file";
import { isFileSystemError } from "../src/readable-stack";
import { tempDir } from "./helpers";

// bump-ami's config.yaml and release's releases.yaml: replaced whole or not at all (a full disk
// once left a config.yaml cut in the middle of a line, which no longer loaded).

test("a file is replaced whole, and no temporary file is left", () => {
  const dir = tempDir("replace-file-");
  try {
    const file = path.join(dir, "config.yaml");
    fs.writeFileSync(file, "old: true\n");
    replaceFile(file, "new: true\n");
    expect(fs.readFileSync(file, "utf8")).toBe("new: true\n");
    expect(fs.readdirSync(dir)).toEqual(["config.yaml"]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a write that fails leaves what was there as it was, removes its temporary file and names the file", () => {
  const dir = tempDir("replace-file-");
  try {
    // (a folder where the file should be: the rename fails, as a write on a full disk would)
    const target = path.join(dir, "releases.yaml");
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, "kept"), "kept");
    expect(() => replaceFile(target, "releases: []\n")).toThrow(
      new RegExp(`^cannot write ${target.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(E[A-Z]+\\): it is as it was$`),
    );
    expect(fs.readdirSync(dir)).toEqual(["releases.yaml"]);
    expect(fs.readFileSync(path.join(target, "kept"), "utf8")).toBe("kept");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("files replaced together: one that cannot be written leaves every one as it was, no temporary file behind, and the error names it in one line (review BR: a schema without its reference page, a tarball beside another's checksum)", () => {
  const dir = tempDir("replace-files-");
  try {
    const [schema, page] = [path.join(dir, "schema.json"), path.join(dir, "docs", "configuration.md")];
    fs.writeFileSync(schema, "old schema");
    // (no docs/ folder: the second file cannot be written)
    let thrown: unknown;
    try {
      replaceFiles([
        [schema, "new schema"],
        [page, "new page"],
      ]);
    } catch (error) {
      thrown = error;
    }
    expect((thrown as Error).message).toBe(`cannot write ${page} (ENOENT): nothing was written`);
    expect(isFileSystemError(thrown)).toBe(true); // printed as one line by the scripts, no stack trace
    expect(fs.readFileSync(schema, "utf8")).toBe("old schema");
    expect(fs.readdirSync(dir)).toEqual(["schema.json"]);
    // and with the folder there, both
    fs.mkdirSync(path.dirname(page));
    replaceFiles([
      [schema, "new schema"],
      [page, "new page"],
    ]);
    expect([fs.readFileSync(schema, "utf8"), fs.readFileSync(page, "utf8")]).toEqual(["new schema", "new page"]);
    expect(fs.readdirSync(dir).sort()).toEqual(["docs", "schema.json"]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a rename that fails after another succeeded says which were replaced, and leaves no temporary file; the same file twice is refused (review BS)", () => {
  const dir = tempDir("replace-files-");
  try {
    const [a, b] = [path.join(dir, "a"), path.join(dir, "b")];
    fs.writeFileSync(a, "old a");
    fs.mkdirSync(b); // a folder where b should be: b's rename fails, a's went first
    expect(() =>
      replaceFiles([
        [a, "new a"],
        [b, "new b"],
      ]),
    ).toThrow(
      new RegExp(
        `^cannot write ${b.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(E[A-Z]+\\): only ${a.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} replaced$`,
      ),
    );
    expect(fs.readdirSync(dir).sort()).toEqual(["a", "b"]);
    expect(() =>
      replaceFiles([
        [a, "1"],
        [a, "2"],
      ]),
    ).toThrow(`replaceFiles: ${a} given twice`);
    expect(fs.readFileSync(a, "utf8")).toBe("new a");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
