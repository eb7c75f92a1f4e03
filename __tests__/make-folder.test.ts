import * as fs from "node:fs";
import * as path from "node:path";
import { FolderError, makeFolder } from "../src/make-folder";
import { tempDir } from "./helpers";

test("makes a folder with its parents, leaves one that is there, and names the first it cannot make", () => {
  const root = tempDir("make-folder-");
  try {
    const deep = path.join(root, "a", "b", "c");
    makeFolder(deep);
    expect(fs.statSync(deep).isDirectory()).toBe(true);
    fs.writeFileSync(path.join(deep, "kept"), "");
    makeFolder(deep);
    expect(fs.readdirSync(deep)).toEqual(["kept"]);
    // a file in the way, and a place where nothing can be made (Node.js's recursive mkdir loops there)
    fs.writeFileSync(path.join(root, "file"), "");
    expect(() => makeFolder(path.join(root, "file", "x"))).toThrow(
      new FolderError(path.join(root, "file", "x"), "ENOTDIR"),
    );
    expect(() => makeFolder("/proc/classic-servers-test/a/b")).toThrow(
      "cannot create the folder /proc/classic-servers-test (ENOENT)",
    );
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
