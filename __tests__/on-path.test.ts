import * as fs from "node:fs";
import * as path from "node:path";
import { onPath, pathOf } from "../src/on-path";
import { tempDir } from "./helpers";

// Whether a command is on PATH (src/on-path.ts): main.ts warns under the cdktf CLI without Terraform.

let dir: string;
beforeEach(() => (dir = tempDir("on-path-")));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test("an executable file in one of PATH's folders is on PATH; a file that cannot be run, a folder, or nothing is not", () => {
  const [bin, other] = [path.join(dir, "bin"), path.join(dir, "other")];
  fs.mkdirSync(bin);
  fs.mkdirSync(other);
  fs.writeFileSync(path.join(bin, "terraform"), "#!/bin/sh\n", { mode: 0o755 });
  fs.writeFileSync(path.join(bin, "plain"), "not a program\n", { mode: 0o644 });
  fs.mkdirSync(path.join(bin, "folder"));
  const env = { PATH: [other, bin].join(path.delimiter) };
  expect(onPath("terraform", env, "linux")).toBe(true);
  expect(onPath("plain", env, "linux")).toBe(false);
  expect(onPath("folder", env, "linux")).toBe(false);
  expect(onPath("tofu", env, "linux")).toBe(false);
  expect(onPath("terraform", { PATH: other }, "linux")).toBe(false);
  expect(onPath("terraform", {}, "linux")).toBe(false);
  // a name with a folder in it is that file
  expect(onPath(path.join(bin, "terraform"), {}, "linux")).toBe(true);
  expect(onPath(path.join(other, "terraform"), env, "linux")).toBe(false);
});

test("on Windows, with PATHEXT's extensions (terraform.exe answers to terraform)", () => {
  fs.writeFileSync(path.join(dir, "terraform.exe"), "", { mode: 0o755 });
  expect(onPath("terraform", { PATH: dir, PATHEXT: ".COM;.exe" }, "win32")).toBe(true);
  expect(onPath("terraform", { PATH: dir, PATHEXT: ".COM" }, "win32")).toBe(false);
  expect(onPath("terraform", { PATH: dir }, "linux")).toBe(false);
});

test("pathOf names the file onPath finds: the first of PATH's folders that has it", () => {
  const [first, second] = [path.join(dir, "first"), path.join(dir, "second")];
  for (const folder of [first, second]) {
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, "terraform"), "#!/bin/sh\n", { mode: 0o755 });
  }
  expect(pathOf("terraform", { PATH: [first, second].join(path.delimiter) }, "linux")).toBe(
    path.join(first, "terraform"),
  );
  expect(pathOf("terraform", { PATH: [second, first].join(path.delimiter) }, "linux")).toBe(
    path.join(second, "terraform"),
  );
  expect(pathOf("tofu", { PATH: first }, "linux")).toBeUndefined();
  fs.writeFileSync(path.join(dir, "terraform.exe"), "", { mode: 0o755 });
  expect(pathOf("terraform", { PATH: dir, PATHEXT: ".exe" }, "win32")).toBe(path.join(dir, "terraform.exe"));
});
