import { isMap, parseDocument } from "yaml";

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
  if (app.get("amiUpdates") === "latest") {
    throw new Error(`${where}: app.amiUpdates is latest: every apply already follows the newest Amazon Linux 2023`);
  }
  app.set("amiPinnedAt", `${now.toISOString().slice(0, 16)}Z`);
  return document.toString();
}
