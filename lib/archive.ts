import * as fs from "fs";
import * as path from "path";
import { buffer } from "stream/consumers";
import { pipeline } from "stream/promises";
import * as tar from "tar";
import { promisify } from "util";
import * as yauzl from "yauzl";
import { sourceError } from "./errors";

/**
 * Unpacking a .zip or .tar.gz app source, entry by entry, inside the app folder and nowhere else: no link
 * out of the app, nothing written through a link, no name twice, within a size and an entry count.
 */

const UNPACKED_LIMIT_BYTES = 1024 * 1024 * 1024;
const ENTRY_LIMIT = 100_000;
/** A link's target is a path; PATH_MAX bounds what reading one from an archive may cost. */
const LINK_TARGET_LIMIT_BYTES = 4096;
/** Links followed within one target before giving up, as the kernel does (Linux's MAXSYMLINKS). */
const LINK_HOPS = 40;

/** Whether `at` is `root` or lies below it (both absolute and normalised). */
export const isInside = (root: string, at: string) => at === root || at.startsWith(root + path.sep);

/** lstat, or undefined when nothing is there (ENOTDIR: a file where a folder would be). */
function lstatOrUndefined(at: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(at);
  } catch (err) {
    if (["ENOENT", "ENOTDIR"].includes((err as NodeJS.ErrnoException).code ?? "")) return undefined;
    throw err;
  }
}

/** An entry that would take the archive out of the app folder or past its limits. */
class UnsafeArchive extends Error {}

const quoted = (name: string) => JSON.stringify(name);
/** A name's path parts; "" and "." are no step at all. */
const partsOf = (name: string) => name.split("/").filter((part) => part !== "" && part !== ".");

function entryParts(name: string): string[] {
  if (name.startsWith("/")) throw new UnsafeArchive(`entry ${quoted(name)} has an absolute name`);
  const parts = partsOf(name);
  if (parts.includes("..")) throw new UnsafeArchive(`entry ${quoted(name)} has .. in its name, which climbs out of the app`);
  return parts;
}

const outsideLink = (name: string, target: string) => new UnsafeArchive(`entry ${quoted(name)} is a link that points outside the app (to ${quoted(target)})`);

/**
 * Where `target`, read from a link in the folder `from`, leads when the kernel follows it (through the
 * links already there, so `..` after a link climbs from where the link went), or undefined once a step
 * leaves `root` or the links go round in a loop.
 */
function reachInside(root: string, from: string, target: string, hops = 0): string | undefined {
  if (path.isAbsolute(target) || hops > LINK_HOPS) return undefined;
  let at = from;
  for (const part of partsOf(target)) {
    at = part === ".." ? path.dirname(at) : path.join(at, part);
    if (!isInside(root, at)) return undefined;
    if (lstatOrUndefined(at)?.isSymbolicLink()) {
      const next = reachInside(root, path.dirname(at), fs.readlinkSync(at), hops + 1);
      if (next === undefined) return undefined;
      at = next;
    }
  }
  return at;
}

const fileMode = (mode: number) => mode & 0o777 || 0o644;

/**
 * Writes an archive's entries under `root`, one at a time and never through a link: each entry's parents
 * must be real folders (lstat), a name may come once however it is spelled, files are created with O_EXCL
 * (so neither an existing file nor a link is ever opened), and a link may only point inside the app.
 */
class Unpacker {
  private readonly seen = new Set<string>();
  /** Regular files written so far, the only things a tar hard link may name. */
  private readonly files = new Set<string>();
  /** Links written, by entry name, for {@link checkLinks} once every entry is in place. */
  private readonly links: string[] = [];
  private entries = 0;
  private bytes = 0;

  constructor(private readonly root: string) {}

  /** Counts an entry and its bytes before anything of it is written. */
  count(size: number): void {
    if (++this.entries > ENTRY_LIMIT) throw new UnsafeArchive(`has more than ${ENTRY_LIMIT} entries`);
    this.spend(size);
  }

  folder(name: string): void {
    const parts = entryParts(name);
    if (parts.length === 0) return; // "./", the archive's own top
    const dest = this.place(name, parts);
    if (!lstatOrUndefined(dest)?.isDirectory()) fs.mkdirSync(dest, { mode: 0o755 });
  }

  /** Where a regular file goes; the caller creates it with the "wx" flag. */
  file(name: string): string {
    const parts = entryParts(name);
    const dest = this.place(name, parts);
    this.files.add(parts.join("/"));
    return dest;
  }

  link(name: string, target: string): void {
    const dest = this.place(name, entryParts(name));
    if (reachInside(this.root, path.dirname(dest), target) === undefined) throw outsideLink(name, target);
    fs.symlinkSync(target, dest);
    this.links.push(name);
  }

  /** A tar hard link, written as a copy of a file this archive wrote before. */
  copy(name: string, of: string): void {
    const from = partsOf(of).join("/");
    if (!this.files.has(from)) throw new UnsafeArchive(`entry ${quoted(name)} is a hard link to something that is not a file of the archive (${quoted(of)})`);
    const source = path.join(this.root, from);
    this.spend(fs.statSync(source).size);
    fs.copyFileSync(source, this.file(name), fs.constants.COPYFILE_EXCL);
  }

  /**
   * Once every entry is in place, follows each link again from `appRoot` (the folder that becomes the app):
   * a link made before the links it leads through, or one leaving the single top folder that is unwrapped,
   * is only seen now.
   */
  checkLinks(appRoot: string): void {
    for (const name of this.links) {
      const at = path.join(this.root, ...partsOf(name));
      const target = fs.readlinkSync(at);
      if (reachInside(appRoot, path.dirname(at), target) === undefined) throw outsideLink(name, target);
    }
  }

  private spend(bytes: number): void {
    this.bytes += bytes;
    if (this.bytes > UNPACKED_LIMIT_BYTES) throw new UnsafeArchive("unpacks to more than 1 GiB");
  }

  /** The entry's path, once its name is new and each parent is a real folder (made if the archive left it out). */
  private place(name: string, parts: string[]): string {
    const key = parts.join("/");
    if (this.seen.has(key)) throw new UnsafeArchive(`entry ${quoted(name)} appears twice`);
    this.seen.add(key);
    let at = this.root;
    for (const part of parts.slice(0, -1)) {
      at = path.join(at, part);
      const stat = lstatOrUndefined(at);
      if (stat?.isSymbolicLink()) throw new UnsafeArchive(`entry ${quoted(name)} is under the link ${quoted(path.relative(this.root, at))}, and nothing is written through a link`);
      if (!stat) fs.mkdirSync(at, { mode: 0o755 });
    }
    return path.join(this.root, ...parts);
  }
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

const openZip = promisify<string, yauzl.Options, yauzl.ZipFile>(yauzl.open);
const openEntry = (zip: yauzl.ZipFile, entry: yauzl.Entry) => promisify(zip.openReadStream.bind(zip))(entry);

/** yauzl refuses absolute names and `..` itself, and checks each entry's bytes against the size it claims. */
async function unzip(file: string, unpacker: Unpacker): Promise<void> {
  const zip = await openZip(file, { lazyEntries: true });
  try {
    if (zip.entryCount > ENTRY_LIMIT) throw new UnsafeArchive(`has more than ${ENTRY_LIMIT} entries`);
    await new Promise<void>((resolve, reject) => {
      zip.on("error", reject).on("end", resolve);
      zip.on("entry", (entry: yauzl.Entry) => unzipEntry(zip, entry, unpacker).then(() => zip.readEntry(), reject));
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
}

async function unzipEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, unpacker: Unpacker): Promise<void> {
  unpacker.count(entry.uncompressedSize);
  const mode = entry.externalFileAttributes >>> 16;
  if ((mode & S_IFMT) === S_IFDIR || entry.fileName.endsWith("/")) return unpacker.folder(entry.fileName);
  if ((mode & S_IFMT) === S_IFLNK) {
    if (entry.uncompressedSize > LINK_TARGET_LIMIT_BYTES) {
      throw new UnsafeArchive(`entry ${quoted(entry.fileName)} is a link to a path longer than ${LINK_TARGET_LIMIT_BYTES} bytes`);
    }
    return unpacker.link(entry.fileName, (await buffer(await openEntry(zip, entry))).toString("utf8"));
  }
  const dest = unpacker.file(entry.fileName);
  await pipeline(await openEntry(zip, entry), fs.createWriteStream(dest, { flags: "wx", mode: fileMode(mode) }));
}

/** Reads the archive synchronously, so each entry is written, in order, before the next is read. */
function untar(file: string, unpacker: Unpacker): void {
  let open: number | undefined;
  try {
    tar.t({
      file,
      sync: true,
      strict: true,
      onReadEntry: (entry) => {
        unpacker.count(entry.size);
        switch (entry.type) {
          case "Directory":
            return unpacker.folder(entry.path);
          case "SymbolicLink":
            return unpacker.link(entry.path, entry.linkpath ?? "");
          case "Link":
            return unpacker.copy(entry.path, entry.linkpath ?? "");
          case "File":
          case "OldFile":
          case "ContiguousFile": {
            const fd = (open = fs.openSync(unpacker.file(entry.path), "wx", fileMode(entry.mode ?? 0)));
            entry.on("data", (chunk: Buffer) => fs.writeFileSync(fd, chunk));
            entry.on("end", () => {
              fs.closeSync(fd);
              open = undefined;
            });
            return;
          }
          default:
            throw new UnsafeArchive(`entry ${quoted(entry.path)} is a ${entry.type}; an app archive holds files, folders and links only`);
        }
      },
    });
  } finally {
    if (open !== undefined) fs.closeSync(open);
  }
}

/** The only top-level folder of `dir`, if that is all it holds. */
function singleFolder(dir: string): string | undefined {
  const entries = fs.readdirSync(dir);
  if (entries.length !== 1) return undefined;
  const only = path.join(dir, entries[0]);
  return fs.lstatSync(only).isDirectory() ? only : undefined;
}

function unwrap(dir: string, only: string): void {
  const parked = `${dir}.unwrap`;
  fs.renameSync(only, parked);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(parked, dir);
}

/** Unpacks the archive `file` into `into`; `shown` is how messages name it. */
export async function unpack(file: string, format: "zip" | "tar.gz", shown: string, into: string): Promise<void> {
  fs.mkdirSync(into, { recursive: true });
  const unpacker = new Unpacker(into);
  try {
    if (format === "zip") await unzip(file, unpacker);
    else untar(file, unpacker);
    // An archive holding one top-level folder (as GitHub's do) deploys that folder's contents.
    const only = singleFolder(into);
    unpacker.checkLinks(only ?? into);
    if (only) unwrap(into, only);
  } catch (err) {
    if (err instanceof UnsafeArchive) throw sourceError(`${shown}: ${err.message}`);
    throw sourceError(`${shown} is not a valid ${format} archive: ${(err as Error).message}`);
  }
}
