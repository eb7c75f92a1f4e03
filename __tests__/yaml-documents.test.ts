import * as fs from "node:fs";
import * as path from "node:path";
import { loadEnvironments } from "../src/config/load";
import { DOCUMENTS_KEPT, readDocument } from "../src/yaml-documents";
import { environmentFile, tempDir } from "./helpers";
import { stringify } from "yaml";

// The parsed YAML the environment loader and releases.yaml share (src/yaml-documents.ts).

let dir: string;
beforeEach(() => (dir = tempDir()));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test("the same text read with the same options is parsed once; other text or other options are parsed anew", () => {
  const text = "a: 1\nb: [2, 3]\n";
  const first = readDocument(text, { merge: true });
  expect(readDocument(text, { merge: true })).toBe(first);
  expect(readDocument(text)).not.toBe(first);
  expect(readDocument(`${text}# a comment\n`, { merge: true })).not.toBe(first);
  // each toJS is a value of its own: a caller that changed one would not change the next
  const value = first.toJS() as { b: number[] };
  value.b.push(4);
  expect(readDocument(text, { merge: true }).toJS()).toEqual({ a: 1, b: [2, 3] });
});

test(`at most ${DOCUMENTS_KEPT} documents are kept, the least recently used going first`, () => {
  const texts = Array.from({ length: DOCUMENTS_KEPT + 1 }, (_, i) => `kept-test: ${i}\n`);
  const documents = texts.slice(0, DOCUMENTS_KEPT).map((text) => readDocument(text));
  // the first used again: now the second is the least recently used
  expect(readDocument(texts[0])).toBe(documents[0]);
  readDocument(texts[DOCUMENTS_KEPT]); // one more than is kept
  expect(readDocument(texts[0])).toBe(documents[0]);
  expect(readDocument(texts[1])).not.toBe(documents[1]);
});

test("an environment file changed on disk between two loads is read as it is now, in the same process", () => {
  fs.mkdirSync(path.join(dir, "dev"));
  const file = path.join(dir, "dev", "config.yaml");
  const write = (instanceType: string) =>
    fs.writeFileSync(file, stringify(environmentFile({ app: { ...environmentFile().app, instanceType } })));
  write("t3.micro");
  expect(loadEnvironments({ dir }).map((e) => e.app.instanceType)).toEqual(["t3.micro"]);
  write("t3.small");
  expect(loadEnvironments({ dir }).map((e) => e.app.instanceType)).toEqual(["t3.small"]);
  write("t3.micro");
  expect(loadEnvironments({ dir }).map((e) => e.app.instanceType)).toEqual(["t3.micro"]);
});
