import * as fs from "node:fs";
import * as path from "node:path";
import { packageApp } from "../src/artifact/package-app";
import { tempDir } from "./helpers";
import { packedRelease } from "./server/testbed";

/**
 * The drills publish release tarballs kept across runs (`packedRelease` in server/testbed.ts):
 * what they upload must be, byte for byte, what `packageApp` packs of the same files, and an app
 * that changed must never get the tarball of what it was.
 */
const work = tempDir("drill-tarballs-");
const cache = path.join(work, "cache");
const app = path.join(work, "app");
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** A small app without dependencies: packing it takes milliseconds. */
function writeApp(version: string, serverJs: string): void {
  fs.mkdirSync(app, { recursive: true });
  fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "drill-app", version }));
  fs.writeFileSync(path.join(app, "server.js"), serverJs);
}

const packed = (dir: string) => fs.readFileSync(packageApp(app, dir).file);

test("a release not kept yet is packed by packageApp and kept; a kept one is copied from the cache", () => {
  writeApp("2.0.0", "console.log('two');\n");
  const first = packedRelease(app, path.join(work, "first"), cache);
  expect(path.basename(first)).toBe("app-2.0.0.tar.gz");
  expect(fs.readFileSync(first)).toEqual(packed(path.join(work, "expected")));
  const kept = fs.readdirSync(cache).map((name) => path.join(cache, name));
  expect(kept).toHaveLength(1);
  expect(fs.readFileSync(kept[0])).toEqual(fs.readFileSync(first));
  // the second time nothing is packed: what the cache holds is what comes out
  fs.writeFileSync(kept[0], "kept bytes");
  expect(fs.readFileSync(packedRelease(app, path.join(work, "again"), cache), "utf8")).toBe("kept bytes");
  expect(fs.readdirSync(cache)).toHaveLength(1);
});

test("an app whose files changed, or its version alone, gets a tarball of its own", () => {
  writeApp("3.0.0", "console.log('three');\n");
  const before = packedRelease(app, path.join(work, "before"), cache);
  writeApp("3.0.0", "console.log('three, edited');\n");
  const edited = packedRelease(app, path.join(work, "edited"), cache);
  expect(fs.readFileSync(edited)).not.toEqual(fs.readFileSync(before));
  expect(fs.readFileSync(edited)).toEqual(packed(path.join(work, "edited-expected")));
  writeApp("3.0.1", "console.log('three, edited');\n");
  const bumped = packedRelease(app, path.join(work, "bumped"), cache);
  expect(path.basename(bumped)).toBe("app-3.0.1.tar.gz");
  expect(fs.readFileSync(bumped)).toEqual(packed(path.join(work, "bumped-expected")));
});
