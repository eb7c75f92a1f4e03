import { isMap, isScalar, isSeq, parseDocument } from "yaml";

/**
 * `npm run bump-ami -- <env>`: the environment's `config.yaml` with `app.amiPinnedAt` set to
 * `now` (a UTC minute), everything else (comments, order) as it was. The next plan re-reads AWS's
 * newest Amazon Linux 2023 for a pinned environment and rolls its servers onto it.
 */
export function bumpAmiPin(configText: string, now: Date, where: string): string {
  const document = parseDocument(configText);
  if (document.errors.length > 0) throw new Error(`${where}: not valid YAML: ${document.errors[0].message}`);
  const app = document.get("app");
  if (!isMap(app)) throw new Error(`${where}: app is missing`);
  const ami = app.get("ami") ?? "al2023";
  if (ami !== "al2023") {
    throw new Error(`${where}: app.ami is the fixed id ${String(ami)}: change it there, nothing is resolved to bump`);
  }
  // as load.ts resolves it: pinned by default in production only
  const updates = app.get("amiUpdates") ?? (document.get("production") === true ? "pinned" : "latest");
  if (updates === "latest") {
    throw new Error(
      `${where}: app.amiUpdates is latest${app.has("amiUpdates") ? "" : " (the default outside production)"}: every ` +
        "apply already follows the newest Amazon Linux 2023, so there is no pin to bump (set app.amiUpdates: pinned to pin it)",
    );
  }
  const stamp = `${now.toISOString().slice(0, 16)}Z`;
  // An earlier pin's value is replaced where it is written; the rest of the file stays byte for byte.
  const pinned = app.get("amiPinnedAt", true);
  if (isScalar(pinned) && pinned.range) {
    const [start, end] = pinned.range;
    return `${configText.slice(0, start)}${stamp}${configText.slice(end)}`;
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
  // what was written must read back as the same file with the pin: never a line in another block
  const check = parseDocument(bumped).toJS() as { app?: Record<string, unknown> };
  const expected = document.toJS() as { app: Record<string, unknown> };
  if (JSON.stringify(check) !== JSON.stringify({ ...expected, app: { ...expected.app, amiPinnedAt: stamp } })) {
    throw new Error(
      `${where}: could not add app.amiPinnedAt without changing anything else; set app.amiPinnedAt: ${stamp} by hand`,
    );
  }
  return bumped;
}
