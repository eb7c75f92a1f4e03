import * as fs from "node:fs";
import * as path from "node:path";
import { ensureReleases, type PreparedStack } from "../../src/ops/workflow";
import { tempDir } from "../helpers";

/** Before plan or drift, the release the stack uploads must be on disk. */

const APP_DIR = path.resolve(__dirname, "../../app");
const appVersion = JSON.parse(fs.readFileSync(path.join(APP_DIR, "package.json"), "utf8")).version;

function stackUploading(version: string): PreparedStack {
  const root = tempDir("ensure-releases-");
  const dir = path.join(root, "cdktf.out/stacks/dev");
  fs.mkdirSync(dir, { recursive: true });
  const source = `\${path.module}/../../../dist/app-${version}.tar.gz`;
  return {
    name: "dev",
    outdir: path.join(root, "cdktf.out"),
    dir,
    document: { resource: { aws_s3_object: { Release: { source } } } } as any,
  };
}

test("packages app/ when the stack uploads app/'s own version and its tarball is missing, once", () => {
  const stack = stackUploading(appVersion);
  const packaged = ensureReleases(stack, APP_DIR);
  expect(packaged).toEqual([path.resolve(stack.dir, `../../../dist/app-${appVersion}.tar.gz`)]);
  expect(fs.existsSync(packaged[0])).toBe(true);
  expect(ensureReleases(stack, APP_DIR)).toEqual([]);
});

test("another version's missing tarball is an error saying how to get it", () => {
  expect(() => ensureReleases(stackUploading("0.9.0"), APP_DIR)).toThrow(
    new RegExp(
      `dist/app-0\\.9\\.0\\.tar\\.gz is missing: stack dev runs a release other than app/package.json's ${appVersion.replace(/\./g, "\\.")}`,
    ),
  );
});
