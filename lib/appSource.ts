import { execFile } from "child_process";
import { createHash } from "crypto";
import * as dns from "dns";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { Transform } from "stream";
import { buffer } from "stream/consumers";
import { pipeline } from "stream/promises";
import * as tar from "tar";
import { promisify } from "util";
import * as yauzl from "yauzl";
import { SUPERVISOR_SCRIPT, renderDockerfile } from "./appImage";
import { stackPrefix } from "./naming";
import { AppSource, AppSpec, ConfigError, withoutCredentials } from "./schema";

/**
 * Brings the application to this machine and stages the node image's build context: the platform's
 * "deploy from a folder, an archive or a git repository". This is the program's only I/O before resources
 * are declared; it runs on every preview, up and render, so a changed source is seen by all of them.
 *
 * What the source is comes from the stack config, which is not trusted to reach the rest of the machine:
 * folders and archive files must be inside the project, git speaks https and ssh only, archive URLs stay
 * off private networks, and archives unpack inside the app folder and nowhere else. The opt-ins
 * `app.allowLocalGit` and `app.allowPrivateNetwork` lift the git and network rules.
 */

const run = promisify(execFile);

/** A staged build context, ready for `docker build`. */
export interface PreparedAppBuild {
  /** Build context folder, relative to the project folder (stable across machines). */
  contextDir: string;
  /** sha256 of everything in the context (paths, modes, bytes): the image's identity. */
  contentHash: string;
  /** What was deployed, for the outputs: the folder, the archive, or the git URL at its commit (no credentials). */
  deployed: string;
}

const ARCHIVE_LIMIT_BYTES = 512 * 1024 * 1024;
const DOWNLOAD_TIMEOUT_MS = 120_000;
const REDIRECT_LIMIT = 5;
const UNPACKED_LIMIT_BYTES = 1024 * 1024 * 1024;
const ENTRY_LIMIT = 100_000;
/** A link's target is a path; PATH_MAX bounds what reading one from an archive may cost. */
const LINK_TARGET_LIMIT_BYTES = 4096;
/** Links followed within one target before giving up, as the kernel does (Linux's MAXSYMLINKS). */
const LINK_HOPS = 40;

function sourceError(message: string): ConfigError {
  return new ConfigError([`wsenv:app.source: ${message}`]);
}

const isInside = (root: string, at: string) => at === root || at.startsWith(root + path.sep);

/** lstat, or undefined when nothing is there (ENOTDIR: a file where a folder would be). */
function lstatOrUndefined(at: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(at);
  } catch (err) {
    if (["ENOENT", "ENOTDIR"].includes((err as NodeJS.ErrnoException).code ?? "")) return undefined;
    throw err;
  }
}

/**
 * A folder or archive file named by the config, as its real path, which must lie inside the project. A
 * path outside is refused before it is looked at, so the message tells nothing of what exists there.
 */
function insideProject(what: "folder" | "archive", location: string, projectDir: string): string {
  const project = fs.realpathSync(projectDir);
  const outside = (at: string) => sourceError(`${what} ${location} is outside the project folder ${project} (it is ${at}); the app must be inside it`);
  const given = path.resolve(project, location);
  if (!isInside(project, given)) throw outside(given);
  if (!fs.existsSync(given)) throw sourceError(`${what} ${location} does not exist (looked at ${given})`);
  const real = fs.realpathSync(given);
  if (!isInside(project, real)) throw outside(real);
  return real;
}

// Loopback, "this network", private (RFC 1918, CGNAT, unique local) and link-local ranges, where cloud
// metadata services live. BlockList matches IPv4-mapped IPv6 addresses against the IPv4 ranges too.
const PRIVATE_NETWORKS = new net.BlockList();
for (const [network, prefix] of [["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12], ["192.168.0.0", 16]] as const) {
  PRIVATE_NETWORKS.addSubnet(network, prefix, "ipv4");
}
for (const [network, prefix] of [["::", 128], ["::1", 128], ["fc00::", 7], ["fe80::", 10]] as const) PRIVATE_NETWORKS.addSubnet(network, prefix, "ipv6");

function refusePrivate(shown: string, address: string): void {
  if (PRIVATE_NETWORKS.check(address, net.isIPv6(address) ? "ipv6" : "ipv4")) {
    throw sourceError(`${shown} is on a loopback, link-local or private address (${address}); set wsenv:app.allowPrivateNetwork: true to download from one`);
  }
}

/**
 * dns.lookup that fails when any address of the host is private. The check is the lookup the connection
 * uses, so a name cannot resolve to a public address for a check and to a private one for the download.
 */
function publicLookup(shown: string): net.LookupFunction {
  return (hostname, options, callback) =>
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, "");
      try {
        addresses.forEach((a) => refusePrivate(shown, a.address));
      } catch (refusal) {
        return callback(refusal as NodeJS.ErrnoException, "");
      }
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0].address, addresses[0].family);
    });
}

function get(url: URL, options: https.RequestOptions): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => (url.protocol === "https:" ? https : http).get(url, options, resolve).on("error", reject));
}

/** Passes bytes through until more than `limit` have gone by, then fails, which ends the download there. */
function atMost(limit: number, tooLarge: () => Error): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      done(seen > limit ? tooLarge() : null, chunk);
    },
  });
}

/** Streams `location` to `into` within the time and size limits; every failure is a ConfigError. */
async function download(location: string, into: string, allowPrivateNetwork: boolean): Promise<void> {
  const deadline = AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS);
  try {
    await follow(location, into, allowPrivateNetwork, deadline);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const reason = deadline.aborted ? `no answer within ${DOWNLOAD_TIMEOUT_MS / 1000} s` : withoutCredentials((err as Error).message);
    throw sourceError(`downloading ${withoutCredentials(location)} failed: ${reason}`);
  }
}

/** Fetches `location`, following redirects, each hop held to the same rules as the first. */
async function follow(location: string, into: string, allowPrivateNetwork: boolean, deadline: AbortSignal): Promise<void> {
  const tooLarge = () => sourceError(`archive ${withoutCredentials(location)} is larger than 512 MiB`);
  let url = new URL(location);
  for (let hop = 0; hop <= REDIRECT_LIMIT; hop++) {
    const shown = withoutCredentials(url.href);
    if (!/^https?:$/.test(url.protocol)) throw new Error(`it redirects to ${shown}, which is not http(s)`);
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    if (!allowPrivateNetwork && net.isIP(host)) refusePrivate(shown, host);
    const response = await get(url, { signal: deadline, lookup: allowPrivateNetwork ? undefined : publicLookup(shown) });
    const status = response.statusCode ?? 0;
    if (status >= 300 && status < 400 && response.headers.location) {
      response.resume();
      url = new URL(response.headers.location, url);
      continue;
    }
    if (status !== 200) {
      response.resume();
      throw new Error(`HTTP ${status}`);
    }
    if (Number(response.headers["content-length"]) > ARCHIVE_LIMIT_BYTES) {
      response.destroy();
      throw tooLarge();
    }
    await pipeline(response, atMost(ARCHIVE_LIMIT_BYTES, tooLarge), fs.createWriteStream(into));
    return;
  }
  throw new Error(`more than ${REDIRECT_LIMIT} redirects`);
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
async function unpack(file: string, format: "zip" | "tar.gz", shown: string, into: string): Promise<void> {
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

async function fetchArchive(source: Extract<AppSource, { kind: "archive" }>, app: AppSpec, projectDir: string, into: string): Promise<string> {
  const shown = withoutCredentials(source.location);
  if (!/^https?:\/\//i.test(source.location)) {
    await unpack(insideProject("archive", source.location, projectDir), source.format, shown, into);
    return shown;
  }
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-archive-"));
  try {
    const file = path.join(scratch, "archive");
    await download(source.location, file, app.allowPrivateNetwork);
    await unpack(file, source.format, shown, into);
    return shown;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** How git would reach `url`: "local" for a path or file://, undefined for what is neither that, https nor ssh. */
function gitTransport(url: string): "https" | "ssh" | "local" | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1].toLowerCase();
  if (scheme) return scheme === "https" ? "https" : ["ssh", "git+ssh", "ssh+git"].includes(scheme) ? "ssh" : scheme === "file" ? "local" : undefined;
  if (/^[a-z0-9][a-z0-9+.-]*::/i.test(url)) return undefined; // a remote helper, like ext::
  // Without a scheme, git reads host:path (no slash before the colon) as ssh, and anything else as a path.
  return /^[^/]*:/.test(url) ? "ssh" : "local";
}

function checkGitUrl(url: string, allowLocalGit: boolean): void {
  const transport = gitTransport(url);
  const shown = withoutCredentials(url);
  if (transport === undefined) throw sourceError(`git URL ${shown} must be https:// or ssh (ssh://host/path or user@host:path)`);
  if (transport === "local" && !allowLocalGit) {
    throw sourceError(`${shown} is a git repository on this machine; set wsenv:app.allowLocalGit: true to deploy from one (expected an https:// or ssh git URL)`);
  }
}

/**
 * git limited to https and ssh (and local repositories when allowed), whatever the URL turns into: a
 * `url.*.insteadOf` rewrite or a redirect cannot reach another transport. Each protocol is named, because
 * a `protocol.<name>.allow` in the user's own git config would otherwise win over `protocol.allow`.
 */
function protocolArgs(allowLocalGit: boolean): string[] {
  const allowed = new Set(["https", "ssh", ...(allowLocalGit ? ["file"] : [])]);
  return ["protocol.allow=never", ...["https", "ssh", "file", "git", "http", "ext"].map((p) => `protocol.${p}.allow=${allowed.has(p) ? "always" : "never"}`)].flatMap((c) => ["-c", c]);
}

async function fetchGit(source: Extract<AppSource, { kind: "git" }>, app: AppSpec, into: string): Promise<string> {
  checkGitUrl(source.url, app.allowLocalGit);
  const env = { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_PROTOCOL_FROM_USER: "0" };
  const git = async (args: string[], cwd?: string) => (await run("git", [...protocolArgs(app.allowLocalGit), ...args], { cwd, timeout: 300_000, env })).stdout.trim();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-git-"));
  const checkout = path.join(scratch, "checkout");
  try {
    try {
      await git(["clone", "--quiet", "--depth", "1", ...(source.ref ? ["--branch", source.ref] : []), "--", source.url, checkout]);
    } catch (shallowErr) {
      // --branch takes branches and tags only; a commit needs the full history.
      if (!source.ref) throw shallowErr;
      fs.rmSync(checkout, { recursive: true, force: true });
      await git(["clone", "--quiet", "--", source.url, checkout]);
      await git(["checkout", "--quiet", "--detach", source.ref], checkout);
    }
    const commit = await git(["rev-parse", "HEAD"], checkout);
    copyTree(checkout, into);
    return `${withoutCredentials(source.url)}@${commit}`;
  } catch (err) {
    const detail = withoutCredentials(((err as { stderr?: string }).stderr || (err as Error).message).trim());
    throw sourceError(`git could not fetch ${withoutCredentials(source.url)}${source.ref ? ` at ${source.ref}` : ""}: ${detail}`);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** Copies links as links (never what they point to), so a folder or checkout cannot read beyond itself. */
function copyTree(from: string, to: string): void {
  fs.cpSync(from, to, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (src) => path.basename(src) !== ".git",
  });
}

function fetchFolder(source: Extract<AppSource, { kind: "folder" }>, projectDir: string, into: string): string {
  const folder = insideProject("folder", source.path, projectDir);
  if (!fs.statSync(folder).isDirectory()) throw sourceError(`folder ${source.path} does not exist (looked at ${folder})`);
  // The project folder itself holds the stack files and the staging folder this copy would be written to.
  if (folder === fs.realpathSync(projectDir)) {
    throw sourceError(`must be a folder inside the project, not the project folder itself (got ${JSON.stringify(source.path)}); put the app in a subfolder such as ./app`);
  }
  copyTree(folder, into);
  return source.path;
}

/** sha256 over every entry's relative path, kind, executable bit and bytes, in sorted order. */
export function hashTree(root: string): string {
  const hash = createHash("sha256");
  const walk = (rel: string): void => {
    const abs = path.join(root, rel);
    for (const name of fs.readdirSync(abs).sort()) {
      const relChild = rel ? `${rel}/${name}` : name;
      const stat = fs.lstatSync(path.join(root, relChild));
      if (stat.isDirectory()) {
        hash.update(`d ${relChild}\0`);
        walk(relChild);
      } else if (stat.isSymbolicLink()) {
        hash.update(`l ${relChild} ${fs.readlinkSync(path.join(root, relChild))}\0`);
      } else {
        hash.update(`f ${relChild} ${stat.mode & 0o111 ? "x" : "-"} ${stat.size}\0`);
        hash.update(fs.readFileSync(path.join(root, relChild)));
      }
    }
  };
  walk("");
  return hash.digest("hex");
}

/**
 * Fetches the application and writes the build context to `.wsenv/build/<stack>/` in the project folder:
 * the Dockerfile, the supervisor and `app/`. Throws a ConfigError naming wsenv:app.source when the source
 * cannot be had, before any resource is declared, and leaves no half-staged context behind.
 */
export async function prepareAppBuild(app: AppSpec, opts: { projectDir: string; stack: string }): Promise<PreparedAppBuild> {
  const contextDir = path.join(".wsenv", "build", stackPrefix(opts.stack));
  const absolute = path.resolve(opts.projectDir, contextDir);
  fs.rmSync(absolute, { recursive: true, force: true });
  fs.mkdirSync(absolute, { recursive: true });
  const appDir = path.join(absolute, "app");

  const source = app.source;
  try {
    const deployed =
      source.kind === "folder"
        ? fetchFolder(source, opts.projectDir, appDir)
        : source.kind === "archive"
          ? await fetchArchive(source, app, opts.projectDir, appDir)
          : await fetchGit(source, app, appDir);

    fs.writeFileSync(path.join(absolute, "Dockerfile"), renderDockerfile(app));
    fs.writeFileSync(path.join(absolute, "wsenv-supervise"), SUPERVISOR_SCRIPT, { mode: 0o755 });
    fs.chmodSync(path.join(absolute, "wsenv-supervise"), 0o755);
    return { contextDir, contentHash: hashTree(absolute), deployed };
  } catch (err) {
    fs.rmSync(absolute, { recursive: true, force: true });
    throw err;
  }
}
