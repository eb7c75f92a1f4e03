import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { sha256Hex } from "../../src/artifact/releases";
import { tarGz, ustar, type TarEntry } from "../../src/artifact/tar";
import { tempDir } from "../helpers";

/** The release tarball is packed in Node: the same bytes on any machine, readable by every tar. */

const LONG = `${"deep/".repeat(24)}file.js`; // 127 bytes: needs ustar's prefix field
const ENTRIES: TarEntry[] = [
  { path: "server.js", type: "file", content: Buffer.from("console.log('hi');\n") },
  { path: "bin", type: "directory" },
  { path: "bin/start", type: "file", executable: true, content: Buffer.from("#!/bin/sh\nexec node server.js\n") },
  { path: "package.json", type: "file", content: Buffer.from('{"version":"1.0.0"}\n') },
  ...Array.from({ length: 24 }, (_, i) => ({ path: "deep/".repeat(i + 1).slice(0, -1), type: "directory" as const })),
  { path: LONG, type: "file", content: Buffer.alloc(700, "x") },
];

test("the same entries give the same bytes, whatever their order: a fixed checksum on every machine", () => {
  const bytes = tarGz(ENTRIES);
  expect(Buffer.from(tarGz([...ENTRIES].reverse()))).toEqual(Buffer.from(bytes));
  // Pinned: a change of packer or compressor shows here before it re-uploads every release.
  expect(sha256Hex(bytes)).toBe("e0b231dc5a8400b66e68c1997da13030d555c672bd2dfe0a1a6a354bf4eb2d31");
  // gzip header: no file name, time 0, OS byte fixed by the compressor, not by the machine.
  expect(Buffer.from(bytes.subarray(0, 10)).toString("hex")).toBe("1f8b0800000000000203");
});

test("ustar headers: sorted by path, mode 0644/0755, owner 0:0 without names, time 0, two zero blocks at the end", () => {
  const tar = Buffer.from(ustar(ENTRIES));
  const names: string[] = [];
  for (let at = 0; at < tar.length - 1024;) {
    const header = tar.subarray(at, at + 512);
    const field = (offset: number, length: number) =>
      header.toString("utf8", offset, offset + length).replace(/\0.*$/s, "");
    const prefix = field(345, 155);
    names.push(`${prefix ? `${prefix}/` : ""}${field(0, 100)}`);
    expect([field(108, 8), field(116, 8), field(136, 12), field(265, 32), field(297, 32)]).toEqual([
      "0000000",
      "0000000",
      "00000000000",
      "",
      "",
    ]);
    expect(field(257, 6)).toBe("ustar");
    const size = parseInt(field(124, 12), 8);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  expect(names.slice(0, 3)).toEqual(["bin/", "bin/start", "deep/"]);
  expect(names).toContain(LONG);
  expect(names[names.length - 1]).toBe("server.js");
  expect(tar.subarray(tar.length - 1024).every((b) => b === 0)).toBe(true);
});

test("sorted by bytes, not by the machine's locale: capitals first, one path twice refused (review DP)", () => {
  const file = (p: string): TarEntry => ({ path: p, type: "file", content: Buffer.from(p) });
  const tar = Buffer.from(ustar([file("a.js"), file("B.js"), file("_x.js"), file("Z.js")]));
  const names = [0, 1, 2, 3].map((i) => tar.toString("utf8", i * 1024, i * 1024 + 100).replace(/\0.*$/s, ""));
  // (a locale's order would be _x, a, B, Z)
  expect(names).toEqual(["B.js", "Z.js", "_x.js", "a.js"]);
  expect(() => ustar([file("a.js"), file("a.js")])).toThrow("tar: a.js appears twice");
});

/** Unpacks with one tar implementation and returns `path -> [mode, content]`. */
function unpackWith(tool: "gnu-tar" | "python-tarfile", file: string): Record<string, [string, string]> {
  const out = tempDir("tar-read-");
  const run =
    tool === "gnu-tar"
      ? spawnSync("tar", ["-xzf", file, "-C", out, "--no-same-owner"], { encoding: "utf8" })
      : spawnSync(PYTHON!, ["-c", "import sys,tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])", file, out], {
          encoding: "utf8",
        });
  if (run.status !== 0) throw new Error(`${tool}: ${run.stderr}`);
  const result: Record<string, [string, string]> = {};
  const walk = (rel: string) => {
    for (const d of fs.readdirSync(path.join(out, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) walk(p);
      else {
        const mode = (fs.statSync(path.join(out, p)).mode & 0o111) !== 0 ? "exec" : "plain";
        result[p] = [mode, fs.readFileSync(path.join(out, p), "utf8")];
      }
    }
  };
  walk("");
  return result;
}

/**
 * The interpreter `python3` on PATH runs, asked once: a version manager's shim (pyenv's, on this
 * machine kind) starts about a dozen processes for each call.
 */
const PYTHON = (() => {
  const found = spawnSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" });
  return found.status === 0 && found.stdout.trim() !== "" ? found.stdout.trim() : undefined;
})();
if (!PYTHON) console.info("skipped: reading the tarball with Python's tarfile: python3 is not on PATH");

const READERS: ("gnu-tar" | "python-tarfile")[] = PYTHON ? ["gnu-tar", "python-tarfile"] : ["gnu-tar"];
test.each(READERS)("%s unpacks exactly the files, contents and executable bits that were packed", (tool) => {
  const file = path.join(tempDir("tar-"), "release.tar.gz");
  fs.writeFileSync(file, tarGz(ENTRIES));
  const expected = Object.fromEntries(
    ENTRIES.filter((e) => e.type === "file").map((e) => [
      e.path,
      [e.executable ? "exec" : "plain", Buffer.from(e.content!).toString("utf8")],
    ]),
  );
  expect(unpackWith(tool, file)).toEqual(expected);
});

test("a path ustar cannot hold, or one that climbs out, is refused", () => {
  expect(() => ustar([{ path: `${"x".repeat(101)}/${"y".repeat(101)}`, type: "file" }])).toThrow(
    /too long for a ustar archive/,
  );
  expect(() => ustar([{ path: "../etc/passwd", type: "file" }])).toThrow(/relative path without \. or \.\./);
  expect(() => ustar([{ path: "/etc/passwd", type: "file" }])).toThrow(/relative path/);
});
