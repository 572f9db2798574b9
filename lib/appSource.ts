import { execFile } from "child_process";
import { createHash } from "crypto";
import extractZip from "extract-zip";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tar from "tar";
import { promisify } from "util";
import { SUPERVISOR_SCRIPT, renderDockerfile } from "./appImage";
import { stackPrefix } from "./naming";
import { AppSource, AppSpec, ConfigError } from "./schema";

/**
 * Brings the application to this machine and stages the node image's build context: the platform's
 * "deploy from a folder, an archive or a git repository". This is the program's only I/O before resources
 * are declared; it runs on every preview and up, so a changed source is seen by both.
 */

const run = promisify(execFile);

/** A staged build context, ready for `docker build`. */
export interface PreparedAppBuild {
  /** Build context folder, relative to the project folder (stable across machines). */
  contextDir: string;
  /** sha256 of everything in the context (paths, modes, bytes): the image's identity. */
  contentHash: string;
  /** What was deployed, for the outputs: the folder, the archive, or the git URL at its commit. */
  deployed: string;
}

const ARCHIVE_LIMIT_BYTES = 512 * 1024 * 1024;

function sourceError(message: string): ConfigError {
  return new ConfigError([`wsenv:app.source: ${message}`]);
}

async function download(location: string, projectDir: string, into: string): Promise<void> {
  if (!/^https?:\/\//i.test(location)) {
    const file = path.resolve(projectDir, location);
    if (!fs.existsSync(file)) throw sourceError(`archive ${location} does not exist (looked at ${file})`);
    fs.copyFileSync(file, into);
    return;
  }
  let response: Response;
  try {
    response = await fetch(location, { signal: AbortSignal.timeout(120_000), redirect: "follow" });
  } catch (err) {
    throw sourceError(`downloading ${location} failed: ${(err as Error).message}`);
  }
  if (!response.ok) throw sourceError(`downloading ${location} failed: HTTP ${response.status}`);
  const body = Buffer.from(await response.arrayBuffer());
  if (body.length > ARCHIVE_LIMIT_BYTES) throw sourceError(`archive ${location} is larger than 512 MiB`);
  fs.writeFileSync(into, body);
}

/** An archive holding one top-level folder (as GitHub's do) deploys that folder's contents. */
function unwrapSingleFolder(dir: string): void {
  const entries = fs.readdirSync(dir);
  if (entries.length !== 1) return;
  const only = path.join(dir, entries[0]);
  if (!fs.lstatSync(only).isDirectory()) return;
  const parked = `${dir}.unwrap`;
  fs.renameSync(only, parked);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(parked, dir);
}

async function fetchArchive(source: Extract<AppSource, { kind: "archive" }>, projectDir: string, into: string): Promise<string> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-archive-"));
  try {
    const file = path.join(scratch, source.format === "zip" ? "app.zip" : "app.tar.gz");
    await download(source.location, projectDir, file);
    fs.mkdirSync(into, { recursive: true });
    try {
      // Both extractors refuse entries that would land outside `into` (absolute paths, `..`).
      if (source.format === "zip") await extractZip(file, { dir: path.resolve(into) });
      else await tar.x({ file, cwd: into, strict: true });
    } catch (err) {
      throw sourceError(`${source.location} is not a valid ${source.format} archive: ${(err as Error).message}`);
    }
    unwrapSingleFolder(into);
    return source.location;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

async function git(args: string[], cwd?: string): Promise<string> {
  const { stdout } = await run("git", args, { cwd, timeout: 300_000, env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } });
  return stdout.trim();
}

async function fetchGit(source: Extract<AppSource, { kind: "git" }>, into: string): Promise<string> {
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
    return `${source.url}@${commit}`;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const detail = ((err as { stderr?: string }).stderr || (err as Error).message).trim();
    throw sourceError(`git could not fetch ${source.url}${source.ref ? ` at ${source.ref}` : ""}: ${detail}`);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

function copyTree(from: string, to: string): void {
  fs.cpSync(from, to, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (src) => path.basename(src) !== ".git",
  });
}

function fetchFolder(source: Extract<AppSource, { kind: "folder" }>, projectDir: string, into: string): string {
  const folder = path.resolve(projectDir, source.path);
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) {
    throw sourceError(`folder ${source.path} does not exist (looked at ${folder})`);
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
 * cannot be had, before any resource is declared.
 */
export async function prepareAppBuild(app: AppSpec, opts: { projectDir: string; stack: string }): Promise<PreparedAppBuild> {
  const contextDir = path.join(".wsenv", "build", stackPrefix(opts.stack));
  const absolute = path.resolve(opts.projectDir, contextDir);
  fs.rmSync(absolute, { recursive: true, force: true });
  fs.mkdirSync(absolute, { recursive: true });
  const appDir = path.join(absolute, "app");

  const source = app.source;
  const deployed =
    source.kind === "folder"
      ? fetchFolder(source, opts.projectDir, appDir)
      : source.kind === "archive"
        ? await fetchArchive(source, opts.projectDir, appDir)
        : await fetchGit(source, appDir);

  fs.writeFileSync(path.join(absolute, "Dockerfile"), renderDockerfile(app));
  fs.writeFileSync(path.join(absolute, "wsenv-supervise"), SUPERVISOR_SCRIPT, { mode: 0o755 });
  fs.chmodSync(path.join(absolute, "wsenv-supervise"), 0o755);
  return { contextDir, contentHash: hashTree(absolute), deployed };
}
