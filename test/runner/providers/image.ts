// docker:index/image:Image, the native (not bridged) pulumi-docker resource (provider/provider.go, provider/image.go).
// Local builds only (skipPush: true); the legacy builder is used because BuildKit is not available here.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { dockerRaw, inspect } from "../docker";
import { Obj, isEmpty, tail } from "../util";
import { ProviderImpl, StepContext, rejectUnsupported } from "./types";

const TYPE = "docker:index/image:Image";
const INPUTS = ["imageName", "build", "skipPush", "buildOnPreview", "registry"];
const BUILD_INPUTS = ["context", "dockerfile", "args", "target", "platform", "builderVersion", "network", "addHosts", "contextDigest"];

/** runtime.GOARCH of the provider binary, as used for the default platform "linux/<arch>". */
function goArch(): string {
  const m: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x" };
  return m[process.arch] ?? process.arch;
}

function modeString(st: fs.Stats | undefined): string {
  if (!st) return "----------";
  const t = st.isSymbolicLink() ? "L" : st.isDirectory() ? "d" : "-";
  const bits = "rwxrwxrwx";
  let s = "";
  for (let i = 0; i < 9; i++) s += st.mode & (1 << (8 - i)) ? bits[i] : "-";
  return t + s;
}

/** .dockerignore patterns (subset of the moby patternmatcher syntax: *, **, ?, leading !). */
function ignoreMatcher(patterns: string[]): (rel: string) => boolean {
  const rules = patterns.map((p) => {
    const neg = p.startsWith("!");
    const pat = path.posix.normalize((neg ? p.slice(1) : p).trim().replace(/^\/+/, ""));
    let re = "";
    for (let i = 0; i < pat.length; i++) {
      const ch = pat[i];
      if (ch === "*" && pat[i + 1] === "*") {
        re += ".*";
        i++;
        if (pat[i + 1] === "/") i++;
      } else if (ch === "*") re += "[^/]*";
      else if (ch === "?") re += "[^/]";
      else re += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    }
    return { neg, re: new RegExp(`^${re}(/.*)?$`) };
  });
  return (rel) => {
    let excluded = false;
    for (const r of rules) if (r.re.test(rel)) excluded = !r.neg;
    return excluded;
  };
}

function readIgnore(contextDir: string, dockerfile: string): string[] {
  const base = path.basename(dockerfile);
  const f = path.join(contextDir, base === "Dockerfile" ? ".dockerignore" : `${base}.dockerignore`);
  if (!fs.existsSync(f)) return [];
  return fs
    .readFileSync(f, "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

/**
 * Like provider.go hashContext: the Dockerfile's content, then every file of the context that
 * .dockerignore does not exclude (relative name, mode, content or symlink target). The value is
 * not byte-identical to the provider's digest, but it changes for the same reasons.
 */
export function hashContext(contextDir: string, dockerfile: string): string {
  const acc = crypto.createHash("sha256");
  const add = (rel: string, st: fs.Stats | undefined, content: Buffer | string) => {
    acc.update(rel);
    acc.update(modeString(st));
    acc.update(crypto.createHash("sha256").update(content).digest());
    acc.update(Buffer.from([0]));
  };
  add("Dockerfile", undefined, fs.readFileSync(dockerfile));
  const ignored = ignoreMatcher(readIgnore(contextDir, dockerfile));
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(path.join(contextDir, dir)).sort()) {
      const rel = dir ? `${dir}/${e}` : e;
      if (ignored(rel)) continue;
      const abs = path.join(contextDir, rel);
      const st = fs.lstatSync(abs);
      if (st.isDirectory()) walk(rel);
      else if (st.isSymbolicLink()) add(rel, st, fs.readlinkSync(abs));
      else add(rel, st, fs.readFileSync(abs));
    }
  };
  walk("");
  return acc.digest("hex");
}

interface Build {
  context: string;
  dockerfile: string;
  args: Record<string, string>;
  target?: string;
  platform: string;
  network?: string;
  addHosts: string[];
}

function buildOf(i: Obj): Build {
  const b = (i.build as Obj | undefined) ?? {};
  const context = String(b.context ?? ".");
  return {
    context,
    dockerfile: String(b.dockerfile ?? path.posix.join(context, "Dockerfile")),
    args: (b.args as Record<string, string> | undefined) ?? {},
    target: b.target ? String(b.target) : undefined,
    platform: String(b.platform),
    network: b.network ? String(b.network) : undefined,
    addHosts: (b.addHosts as string[] | undefined) ?? [],
  };
}

async function build(ctx: StepContext, i: Obj): Promise<{ id: string; outputs: Obj }> {
  const b = buildOf(i);
  const name = String(i.imageName);
  const contextDir = path.resolve(ctx.projectDir, b.context);
  const dockerfile = path.resolve(ctx.projectDir, b.dockerfile);
  const a = ["build", "--tag", name, "--file", dockerfile, "--platform", b.platform];
  for (const k of Object.keys(b.args).sort()) a.push("--build-arg", `${k}=${b.args[k]}`);
  if (b.target) a.push("--target", b.target);
  if (b.network) a.push("--network", b.network);
  for (const h of b.addHosts) a.push("--add-host", h);
  a.push(contextDir);
  const r = await dockerRaw(a);
  if (r.code !== 0) throw new Error(`unable to build image ${name} (docker ${a.join(" ")}):\n${tail(r.combined, 30)}`);
  const img = await inspect("image", name);
  if (!img) throw new Error(`built image ${name} is not present after the build`);
  ctx.note(`built image ${name} -> ${String(img.Id).slice(7, 19)}`);
  const relDockerfile = path.relative(contextDir, dockerfile).split(path.sep).join("/");
  return {
    // dockerBuild returns img.Name as the resource id
    id: name,
    outputs: {
      ...i,
      imageName: name,
      baseImageName: name,
      context: b.context,
      dockerfile: relDockerfile,
      platform: b.platform,
      registryServer: "",
      // node_modules/@pulumi/docker/image.d.ts: for local images repoDigest is the image id (sha256:...)
      repoDigest: img.Id,
    },
  };
}

export const imageProvider: ProviderImpl = {
  type: TYPE,

  check(ctx, news) {
    rejectUnsupported(TYPE, ctx.name, news, INPUTS.filter((k) => k !== "registry"), (v) => !isEmpty(v));
    const where = `${TYPE} ${ctx.name}`;
    if (!news.imageName) throw new Error(`${where}: imageName is required`);
    if (news.skipPush !== true) throw new Error(`${where}: skipPush must be true: a push needs a registry and this machine has none`);
    const b: Obj = { ...((news.build as Obj | undefined) ?? {}) };
    rejectUnsupported(`${TYPE} ${ctx.name} build`, "", b, BUILD_INPUTS, (v) => !isEmpty(v));
    if (b.builderVersion === "BuilderBuildKit") ctx.note("build.builderVersion BuilderBuildKit: built with the legacy builder here (BuildKit is not available)");
    if (b.builderVersion !== undefined && b.builderVersion !== "BuilderV1" && b.builderVersion !== "BuilderBuildKit") throw new Error("invalid Docker Builder version");
    // marshalBuildAndApplyDefaults + Check: context ".", dockerfile "<context>/Dockerfile", platform linux/<arch>, contextDigest
    const context = String(b.context ?? ".");
    const dockerfile = String(b.dockerfile ?? path.posix.join(context, "Dockerfile"));
    const absDockerfile = path.resolve(ctx.projectDir, dockerfile);
    if (!fs.existsSync(absDockerfile)) {
      const rel = path.join(context, dockerfile);
      if (!path.isAbsolute(dockerfile) && fs.existsSync(path.resolve(ctx.projectDir, rel))) {
        throw new Error(`${where}: could not open dockerfile at relative path ${dockerfile}. Try setting \`dockerfile\` to "${rel}"`);
      }
      throw new Error(`${where}: could not open dockerfile at ${dockerfile} (paths are relative to the project directory)`);
    }
    b.contextDigest = hashContext(path.resolve(ctx.projectDir, context), absDockerfile);
    if (isEmpty(b.platform)) b.platform = `linux/${goArch()}`;
    return { inputs: { ...news, build: b } };
  },

  create(ctx, i) {
    return build(ctx, i);
  },

  async update(ctx, old, i) {
    const r = await build(ctx, i);
    const previous = new Set<string>((old.extra?.previousImageIds as string[] | undefined) ?? []);
    if (old.outputs.repoDigest && old.outputs.repoDigest !== r.outputs.repoDigest) previous.add(String(old.outputs.repoDigest));
    return { outputs: r.outputs, extra: { previousImageIds: [...previous].sort() } };
  },

  // provider.go Delete: a no-op ("This resource does not delete tags, locally or remotely")
  async delete() {},

  deleteBeforeReplace: () => false,

  /** `down` only: remove the image this stack built (and earlier builds left dangling). */
  async downCleanup(ctx, old) {
    const refs = [String(old.inputs.imageName), ...((old.extra?.previousImageIds as string[] | undefined) ?? [])];
    for (const ref of refs) {
      if (!(await inspect("image", ref))) continue;
      const r = await dockerRaw(["rmi", ref]);
      if (r.code === 0) ctx.note(`removed built image ${ref}`);
      else ctx.note(`could not remove built image ${ref}: ${r.stderr.trim()}`);
    }
  },
};
