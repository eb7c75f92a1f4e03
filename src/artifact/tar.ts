import * as fs from "node:fs";
import * as path from "node:path";

/** One entry of a release tarball: a regular file (executable or not) or a directory. */
export interface TarEntry {
  /** Path inside the archive, `/`-separated, relative (`server.js`, `lib/db.js`, `lib`). */
  readonly path: string;
  readonly type: "file" | "directory";
  /** Only for files. */
  readonly executable?: boolean;
  /** Only for files. */
  readonly content?: Uint8Array;
}

const BLOCK = 512;

/**
 * A POSIX ustar archive of `entries`, byte for byte the same for the same input on any machine:
 * entries sorted by path (byte order), mode 0644 for files (0755 for executables and directories),
 * owner and group 0 with no names, modification time 0, two zero blocks at the end and no padding
 * to a record size. GNU tar, bsdtar and Python's tarfile read it (tested).
 */
export function ustar(entries: readonly TarEntry[]): Uint8Array {
  const sorted = [...entries].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  const seen = new Set<string>();
  const parts: Uint8Array[] = [];
  for (const entry of sorted) {
    if (seen.has(entry.path)) throw new Error(`tar: ${entry.path} appears twice`);
    seen.add(entry.path);
    const content = entry.type === "file" ? (entry.content ?? new Uint8Array()) : new Uint8Array();
    parts.push(header(entry, content.length), content);
    const padding = (BLOCK - (content.length % BLOCK)) % BLOCK;
    if (padding > 0) parts.push(new Uint8Array(padding));
  }
  parts.push(new Uint8Array(2 * BLOCK));
  return Buffer.concat(parts);
}

/** `ustar` compressed with gzip (level 9, no file name, time 0) in JavaScript, never the platform's zlib. */
export function tarGz(entries: readonly TarEntry[]): Uint8Array {
  // fflate is deterministic by construction (the same JavaScript everywhere); a native zlib may
  // choose other matches on another CPU or version, and a different byte changes the release's
  // checksum and makes Terraform upload it again.
  // Loaded here, not at the top: synth packs only on a release-cache miss.
  const { gzipSync } = require("fflate") as typeof import("fflate");
  return gzipSync(ustar(entries), { level: 9, mtime: 0 });
}

function header(entry: TarEntry, size: number): Uint8Array {
  const block = Buffer.alloc(BLOCK);
  const [prefix, name] = splitPath(entry.type === "directory" ? `${entry.path}/` : entry.path);
  block.write(name, 0, 100, "utf8");
  octal(block, 100, 8, entry.type === "directory" || entry.executable ? 0o755 : 0o644);
  octal(block, 108, 8, 0); // uid
  octal(block, 116, 8, 0); // gid
  octal(block, 124, 12, size);
  octal(block, 136, 12, 0); // mtime
  block.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  block.write(entry.type === "directory" ? "5" : "0", 156, 1, "ascii");
  block.write("ustar\u0000", 257, 6, "ascii");
  block.write("00", 263, 2, "ascii");
  block.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, 8, "ascii");
  return block;
}

/** ustar keeps names up to 100 bytes, and up to 255 with a prefix split at a `/`. */
function splitPath(path: string): [string, string] {
  if (!/^[^/].*$/.test(path) || path.split("/").some((part) => part === ".." || part === ".")) {
    throw new Error(`tar: ${path} must be a relative path without . or .. parts`);
  }
  if (Buffer.byteLength(path) <= 100) return ["", path];
  for (let i = path.lastIndexOf("/", path.length - 2); i > 0; i = path.lastIndexOf("/", i - 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return [prefix, name];
  }
  throw new Error(`tar: ${path} is too long for a ustar archive (at most 100 bytes, or 255 split at a /)`);
}

function octal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, "0")}\u0000`, offset, length, "ascii");
}

/**
 * The files and folders below `root`/`start` (recursively, each folder before what is in it), as
 * tarball entries with paths relative to `root`. `skip(entryPath)` leaves an entry, and what is
 * below it, out; anything but a file or a folder (a symbolic link, a socket) is handed to
 * `notFileOrFolder`, which throws the caller's error.
 */
export function directoryEntries(
  root: string,
  start: string,
  skip: (entryPath: string) => boolean,
  notFileOrFolder: (full: string) => never,
): TarEntry[] {
  const entries: TarEntry[] = [];
  const walk = (relative: string) => {
    for (const dirent of fs.readdirSync(path.join(root, relative), { withFileTypes: true })) {
      const entryPath = relative ? `${relative}/${dirent.name}` : dirent.name;
      if (skip(entryPath)) continue;
      const full = path.join(root, entryPath);
      if (dirent.isDirectory()) {
        entries.push({ path: entryPath, type: "directory" });
        walk(entryPath);
      } else if (dirent.isFile()) {
        const executable = (fs.statSync(full).mode & 0o100) !== 0;
        entries.push({ path: entryPath, type: "file", executable, content: fs.readFileSync(full) });
      } else {
        notFileOrFolder(full);
      }
    }
  };
  walk(start);
  return entries;
}
