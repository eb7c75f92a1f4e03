import { isMap, isScalar, isSeq, parseDocument, type Document } from "yaml";

/**
 * `npm run bump-ami -- <env>`: the environment's `config.yaml` with `app.amiPinnedAt` set to
 * `now` (a UTC minute), everything else (comments, order) as it was. The next plan re-reads AWS's
 * newest Amazon Linux 2023 for a pinned environment and rolls its servers onto it.
 */
export function bumpAmiPin(configText: string, now: Date, where: string): string {
  // merge keys (<<) read as the loader reads them (src/config/load.ts)
  const document = parseDocument(configText, { merge: true });
  if (document.errors.length > 0) throw new Error(`${where}: not valid YAML: ${document.errors[0].message}`);
  const app = document.get("app");
  if (!isMap(app)) throw new Error(`${where}: app is missing`);
  // values as the loader reads them, merge keys resolved; positions from the nodes
  const values = document.toJS() as { production?: unknown; app: Record<string, unknown> };
  const ami = values.app.ami ?? "al2023";
  if (ami !== "al2023") {
    throw new Error(`${where}: app.ami is the fixed id ${String(ami)}: change it there, nothing is resolved to bump`);
  }
  // as load.ts resolves it: pinned by default in production only
  const updates = values.app.amiUpdates ?? (values.production === true ? "pinned" : "latest");
  if (updates === "latest") {
    throw new Error(
      `${where}: app.amiUpdates is latest${"amiUpdates" in values.app ? "" : " (the default outside production)"}: every ` +
        "apply already follows the newest Amazon Linux 2023, so there is no pin to bump (set app.amiUpdates: pinned to pin it)",
    );
  }
  const stamp = `${now.toISOString().slice(0, 16)}Z`;
  // An earlier pin's value is replaced where it is written; the rest of the file stays byte for byte.
  const pinned = app.get("amiPinnedAt", true);
  if (isScalar(pinned) && pinned.range) {
    const [start, end] = pinned.range;
    // a plain or quoted value on the key's line: a block scalar (|-, >-) would take the stamp as
    // text of the key's line and swallow the next field; refused by the read-back check below
    return readsBackAs(`${configText.slice(0, start)}${stamp}${configText.slice(end)}`, document, stamp, where);
  }
  // A new line after app's last field, indented as its first: yaml's own printing would restyle
  // the file (flow lists and maps padded alike, long lines folded).
  const [first, last] = [app.items[0], app.items.at(-1)];
  const firstKey = isScalar(first?.key) ? first.key.range : undefined;
  const lastEnd = (
    isScalar(last?.value) || isMap(last?.value) || isSeq(last?.value) ? last.value.range : undefined
  )?.[1];
  if (!firstKey || lastEnd === undefined) {
    throw new Error(
      `${where}: app is not a block of fields (app: ... on lines of their own); set app.amiPinnedAt: ${stamp} by hand`,
    );
  }
  const indent = firstKey[0] - (configText.lastIndexOf("\n", firstKey[0] - 1) + 1);
  const lineEnd = configText.indexOf("\n", Math.max(lastEnd - 1, 0));
  const at = lineEnd === -1 ? configText.length : lineEnd;
  const bumped = `${configText.slice(0, at)}\n${" ".repeat(indent)}amiPinnedAt: ${stamp}${configText.slice(at)}`;
  return readsBackAs(bumped, document, stamp, where);
}

/**
 * `bumped`, when it reads back as `document` with the pin and nothing else changed: never a line
 * in another block, nor a field swallowed.
 */
function readsBackAs(bumped: string, document: Document, stamp: string, where: string): string {
  const check = parseDocument(bumped, { merge: true }).toJS() as { app?: Record<string, unknown> };
  const expected = document.toJS() as { app: Record<string, unknown> };
  if (JSON.stringify(check) !== JSON.stringify({ ...expected, app: { ...expected.app, amiPinnedAt: stamp } })) {
    throw new Error(
      `${where}: could not set app.amiPinnedAt without changing anything else; set app.amiPinnedAt: ${stamp} by hand`,
    );
  }
  return bumped;
}

/**
 * What `npm run bump-ami -- <name>` says once it has bumped `where` (its text `configText`): a
 * fleet (load-balanced) rolls onto the newest Amazon Linux 2023 at the next apply; a fixed server
 * (single-server, app-db-split) keeps its AMI (`ignore_changes`), so only a server that replaces it
 * after the next apply starts from the new one, and its own packages are updated through `app.osRelease`
 * (review DF: the message promised a roll that the plan never shows there).
 */
export function bumpedMessage(configText: string, name: string, where: string): string {
  const { layout } = (parseDocument(configText, { merge: true }).toJS() ?? {}) as { layout?: unknown };
  if (layout === "load-balanced") {
    return `${where}: app.amiPinnedAt bumped; npm run plan -- ${name} shows the roll onto the newest Amazon Linux 2023`;
  }
  return (
    `${where}: app.amiPinnedAt bumped: from the next apply, a replacement server would start from the newest Amazon ` +
    `Linux 2023, but layout ${String(layout)} keeps its running server and its AMI, so npm run plan -- ${name} shows no ` +
    "roll; to update that server's packages, set app.osRelease (docs/operations.md#os-updates)"
  );
}
