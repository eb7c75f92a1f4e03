import { parseDocument, type Document, type DocumentOptions, type ParseOptions, type SchemaOptions } from "yaml";

type Options = ParseOptions & DocumentOptions & SchemaOptions;

/** How many parsed documents are kept: a test process reads a few hundred distinct files in its life. */
export const DOCUMENTS_KEPT = 64;

/** The documents `readDocument` parsed, by options and text, the least recently used first. */
const parsed = new Map<string, Document.Parsed>();

/**
 * `text` parsed by the `yaml` library, as `parseDocument(text, options)` parses it: the document of
 * the last time the same text was read with the same options, when it is still kept. Callers share
 * it, so it is only ever read (its `errors`, `get`, `getIn`, `toJS`, which builds new values each
 * call), never changed. The unit tests load the same environment files and releases.yaml hundreds
 * of times, and parsing them was most of their time in `yaml` (docs/development.md#benchmark).
 * Keyed by content, not by file: a file changed on disk is parsed anew.
 */
export function readDocument(text: string, options: Options = {}): Document.Parsed {
  const key = `${JSON.stringify(options)}\0${text}`;
  const known = parsed.get(key);
  if (known) {
    parsed.delete(key); // (to the end: the most recently used)
    parsed.set(key, known);
    return known;
  }
  const document = parseDocument(text, options);
  parsed.set(key, document);
  if (parsed.size > DOCUMENTS_KEPT) parsed.delete(parsed.keys().next().value!);
  return document;
}
