import { execFile } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { SUPERVISOR_SCRIPT, renderDockerfile } from "./appImage";
import { isInside, unpack } from "./archive";
import { download } from "./download";
import { buildContextDir } from "./naming";
import { withoutCredentials } from "./credentials";
import { ConfigError, problem, sourceError } from "./errors";
import type { AppSpec } from "./schema";
import type { AppSource } from "./sourceKind";

/**
 * Brings the application to this machine and stages the node image's build context: the platform's
 * "deploy from a folder, an archive or a git repository". This is the program's only I/O before resources
 * are declared; it runs on every preview, up and render, so a changed source is seen by all of them.
 *
 * What the source is comes from the stack config, which is not trusted to reach the rest of the machine:
 * folders and archive files must be inside the project (or inside `app.sourceRoot`, which a project in a
 * subfolder of its repository sets to reach a sibling folder), git speaks https and ssh only, archive URLs
 * stay off private networks, and archives unpack inside the app folder and nowhere else. The opt-ins
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

/** The folder sources must stay inside: the project folder, or `app.sourceRoot` resolved against it. */
function sourceRootOf(app: Pick<AppSpec, "sourceRoot">, projectDir: string): { root: string; isProject: boolean } {
  const project = fs.realpathSync(projectDir);
  const given = path.resolve(project, app.sourceRoot);
  if (!fs.existsSync(given) || !fs.statSync(given).isDirectory()) {
    throw new ConfigError([problem("app.sourceRoot", `must be a folder (looked at ${given}, relative to the project folder ${project})`)]);
  }
  const root = fs.realpathSync(given);
  return { root, isProject: root === project };
}

/**
 * A folder or archive file named by the config, as its real path, which must lie inside the source root
 * (the project, unless `app.sourceRoot` says otherwise). A path outside is refused before it is looked
 * at, so the message tells nothing of what exists there.
 */
function insideRoot(what: "folder" | "archive", location: string, app: Pick<AppSpec, "sourceRoot">, projectDir: string): string {
  const { root, isProject } = sourceRootOf(app, projectDir);
  const outside = (at: string) =>
    sourceError((key) =>
      isProject
        ? `${what} ${location} is outside the project folder ${root} (it is ${at}); the app must be inside it, or set ${key("app.sourceRoot")} to a folder that holds both (such as ..)`
        : `${what} ${location} is outside ${key("app.sourceRoot")} ${root} (it is ${at}); the app must be inside it`,
    );
  const given = path.resolve(fs.realpathSync(projectDir), location);
  if (!isInside(root, given)) throw outside(given);
  if (!fs.existsSync(given)) throw sourceError(`${what} ${location} does not exist (looked at ${given})`);
  const real = fs.realpathSync(given);
  if (!isInside(root, real)) throw outside(real);
  return real;
}

async function fetchArchive(source: Extract<AppSource, { kind: "archive" }>, app: AppSpec, projectDir: string, into: string): Promise<string> {
  const shown = withoutCredentials(source.location);
  if (!/^https?:\/\//i.test(source.location)) {
    await unpack(insideRoot("archive", source.location, app, projectDir), source.format, shown, into);
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
    throw sourceError((key) => `${shown} is a git repository on this machine; set ${key("app.allowLocalGit")}: true to deploy from one (expected an https:// or ssh git URL)`);
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

/** The app folder as its real path, inside the source root, and neither the project folder nor above it. */
function appFolder(source: Extract<AppSource, { kind: "folder" }>, app: AppSpec, projectDir: string): string {
  const folder = insideRoot("folder", source.path, app, projectDir);
  if (!fs.statSync(folder).isDirectory()) throw sourceError(`folder ${source.path} does not exist (looked at ${folder})`);
  // The project folder holds the stack files and the staging folder this copy would be written to.
  if (isInside(folder, fs.realpathSync(projectDir))) {
    throw sourceError(`must be a folder inside the project or beside it, not the project folder or one that holds it (got ${JSON.stringify(source.path)}); put the app in a subfolder such as ./app`);
  }
  return folder;
}

function fetchFolder(source: Extract<AppSource, { kind: "folder" }>, app: AppSpec, projectDir: string, into: string): string {
  copyTree(appFolder(source, app, projectDir), into);
  return source.path;
}

/**
 * Sets every staged folder to 0755 and file to 0755 or 0644 by its executable bit, as hashTree sees it.
 * The provider's build digest includes every permission bit, so without this the same app checked out
 * under another umask (git's archives are 0664, most clones 0644) would rebuild the image; and the
 * node's server user can read what it serves, whoever owned the source.
 */
function normalizeModes(root: string): void {
  for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
    const at = path.join(root, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) {
      fs.chmodSync(at, 0o755);
      normalizeModes(at);
    } else fs.chmodSync(at, fs.statSync(at).mode & 0o111 ? 0o755 : 0o644);
  }
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

/** Replaces `final` with the staged folder; another staging that moved first is replaced in turn. */
function moveIntoPlace(staged: string, final: string): void {
  for (let attempt = 0; ; attempt++) {
    fs.rmSync(final, { recursive: true, force: true });
    try {
      fs.renameSync(staged, final);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== "ENOTEMPTY" && code !== "EEXIST") || attempt >= 10) throw err;
    }
  }
}

/** Where and for whom a build is staged. */
export interface StagingOptions {
  /** The project folder: relative sources resolve here, and sources must lie inside it. */
  projectDir: string;
  /** The environment's name prefix (see `environmentPrefix`): the context goes to `.wsenv/build/<prefix>/`. */
  prefix: string;
}

/**
 * Fetches the application and writes the build context to `.wsenv/build/<prefix>/` in the project folder:
 * the Dockerfile, the supervisor and `app/`. Throws a ConfigError naming app.source when the source
 * cannot be had, before any resource is declared, and leaves no half-staged context behind.
 */
export async function prepareAppBuild(app: AppSpec, opts: StagingOptions): Promise<PreparedAppBuild> {
  const contextDir = buildContextDir(opts.prefix);
  const final = path.resolve(opts.projectDir, contextDir);
  // Staged in a folder of its own and moved into place when complete: two stagings of one environment at
  // once (a render beside an up, test files in parallel) never see each other's half-written files.
  fs.mkdirSync(path.dirname(final), { recursive: true });
  const absolute = fs.mkdtempSync(`${final}.staging-`);
  const appDir = path.join(absolute, "app");

  const source = app.source;
  try {
    const deployed =
      source.kind === "folder"
        ? fetchFolder(source, app, opts.projectDir, appDir)
        : source.kind === "archive"
          ? await fetchArchive(source, app, opts.projectDir, appDir)
          : await fetchGit(source, app, appDir);

    fs.writeFileSync(path.join(absolute, "Dockerfile"), renderDockerfile(app));
    fs.writeFileSync(path.join(absolute, "wsenv-supervise"), SUPERVISOR_SCRIPT, { mode: 0o755 });
    normalizeModes(absolute);
    const contentHash = hashTree(absolute);
    moveIntoPlace(absolute, final);
    return { contextDir, contentHash, deployed };
  } catch (err) {
    // Nothing of a source that failed stays, nor an earlier context that no longer matches the config.
    fs.rmSync(absolute, { recursive: true, force: true });
    fs.rmSync(final, { recursive: true, force: true });
    throw err;
  }
}
