import * as fs from "node:fs";
import * as path from "node:path";
import { replaceFile } from "../src/replace-file";
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
