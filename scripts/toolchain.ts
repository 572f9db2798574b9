// `npm run toolchain`: the Pulumi CLI, its Node.js language host and the Docker and command providers, built
// from their own Go modules at pinned versions with the ordinary `go` command, into a cache outside the
// clone (WSENV_TOOLCHAIN_DIR, default ~/.cache/wsenv/toolchain) that later runs and other clones reuse.
// Nothing is downloaded at run time. Each module is asked of the Go module proxy first; one the proxy will
// not serve stops the toolchain with one paragraph naming the module, the version and the proxy's answer.
import { execFileSync, spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const projectDir = path.resolve(__dirname, "..");
const cliModuleDir = path.join(projectDir, "toolchain", "pulumi");
const PKG = "github.com/pulumi/pulumi/pkg/v3";

/** One binary of the toolchain and the module it comes from. */
export interface ToolchainPart {
  /** The binary's file name, as the CLI looks for it. */
  binary: string;
  module: string;
  /** The version as the proxy is asked for it: a tag, or a commit. */
  version: string;
  /** Why this version (shown when the proxy refuses it). */
  pinnedBy: string;
}

/** The versions everything is pinned to: the CLI's module file and package.json's SDK packages. */
export function toolchainParts(cliGoMod: string, packageJson: { dependencies: Record<string, string> }): ToolchainPart[] {
  const cli = new RegExp(`^\\s*${PKG.replace(/[./]/g, "\\$&")} (v\\S+)`, "m").exec(cliGoMod)?.[1];
  if (!cli) throw new Error(`toolchain/pulumi/go.mod does not require ${PKG}`);
  const dep = (name: string): string => {
    const version = packageJson.dependencies[name];
    if (!version) throw new Error(`package.json has no dependency ${name}`);
    return version;
  };
  return [
    { binary: "pulumi", module: PKG, version: cli, pinnedBy: "toolchain/pulumi/go.mod" },
    {
      binary: "pulumi-language-nodejs",
      module: "github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3",
      // The language host has no tags of its own: it is built from the commit of the CLI's release tag.
      version: `commit of ${PKG}@${cli}`,
      pinnedBy: "the CLI's release",
    },
    {
      binary: `pulumi-resource-docker`,
      module: "github.com/pulumi/pulumi-docker/provider/v5",
      version: `v${dep("@pulumi/docker")}`,
      pinnedBy: "@pulumi/docker in package.json",
    },
    {
      binary: `pulumi-resource-command`,
      module: "github.com/pulumi/pulumi-command/provider",
      version: COMMAND_PROVIDER_COMMITS[dep("@pulumi/command")] ?? `v${dep("@pulumi/command")}`,
      pinnedBy: `@pulumi/command ${dep("@pulumi/command")} in package.json`,
    },
  ];
}

/**
 * The YAML language host: not needed by this program (Node.js), but by Pulumi YAML programs, such as one
 * that uses a component package. Served by the proxy; `go install` builds it (its module has no local
 * replaces). Recorded in the manifest with its version, so a new pin builds it again.
 */
export const YAML_HOST: ToolchainPart = {
  binary: "pulumi-language-yaml",
  module: "github.com/pulumi/pulumi-yaml",
  version: "v1.25.0",
  pinnedBy: "scripts/toolchain.ts (the newest release the proxy serves)",
};
export const yamlHostEntry = `${YAML_HOST.binary}@${YAML_HOST.version}`;

/** pulumi-command tags its releases at the repository root, so its provider module is asked for by commit. */
const COMMAND_PROVIDER_COMMITS: Record<string, string> = { "1.2.1": "7f3eb6f3b77cd0fa3895ba437a695dd393f7dd25" };

/** The paragraph that stops the toolchain when the proxy refuses a module. */
export function refusalParagraph(part: ToolchainPart, answer: string, built: string[]): string {
  const said = answer.replace(/\s+/g, " ").trim().replace(/\.$/, "");
  return [
    `wsenv toolchain: the Go module proxy (${goEnv("GOPROXY")}) will not serve ${part.module} at ${part.version}`,
    `(pinned by ${part.pinnedBy}), so ${part.binary} cannot be built and \`pulumi up\` cannot run on this machine;`,
    `the proxy answered: ${said}.`,
    built.length ? `Built and cached so far: ${built.join(", ")}.` : "",
    `With internet access, \`npm ci\` fetches the Pulumi CLI and \`pulumi up\` its plugins instead.`,
  ]
    .filter(Boolean)
    .join(" ");
}

function goEnv(name: string): string {
  try {
    return execFileSync("go", ["env", name], { encoding: "utf8" }).trim();
  } catch {
    return "go env unavailable";
  }
}

/** Where the toolchain for these exact inputs lives: a new go.mod, go.sum or Go release is a new folder. */
export function cacheDir(root: string, cliVersion: string, inputs: string[]): string {
  const key = createHash("sha256").update(inputs.join("\0")).digest("hex").slice(0, 12);
  return path.join(root, `pulumi-${cliVersion}-${key}`);
}

export function toolchainRoot(): string {
  return process.env.WSENV_TOOLCHAIN_DIR ?? path.join(os.homedir(), ".cache", "wsenv", "toolchain");
}

/** What a finished step leaves behind: the binaries that are built. */
export interface Manifest {
  built: string[];
}

/** Whether every part of the toolchain is built. */
export const isComplete = (manifest: Manifest | undefined, parts: ToolchainPart[]): boolean =>
  parts.every((part) => manifest?.built.includes(part.binary) ?? false);

export function readManifest(dir: string): Manifest | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8")) as Manifest;
  } catch {
    return undefined;
  }
}

/** The toolchain's folder for this checkout's pins, computed the same way `npm run toolchain` does. */
export function currentToolchainDir(): { dir: string; parts: ToolchainPart[] } {
  const goMod = fs.readFileSync(path.join(cliModuleDir, "go.mod"), "utf8");
  const goSum = fs.readFileSync(path.join(cliModuleDir, "go.sum"), "utf8");
  const parts = toolchainParts(goMod, JSON.parse(fs.readFileSync(path.join(projectDir, "package.json"), "utf8")));
  const goVersion = execFileSync("go", ["env", "GOVERSION"], { encoding: "utf8" }).trim();
  return { dir: cacheDir(toolchainRoot(), parts[0].version, [goMod, goSum, goVersion, JSON.stringify(parts)]), parts };
}

/**
 * The environment for the toolchain's CLI and YAML host on a scratch project in `projectDir`: a
 * PULUMI_HOME and a file backend (`projectDir/.state`, which must exist) of its own, and no plugin
 * downloads (there is nothing to download them from here).
 */
export function scratchProjectEnv(toolchainDir: string, projectDir: string, passphrase: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${path.join(toolchainDir, "bin")}${path.delimiter}${process.env.PATH}`,
    PULUMI_HOME: path.join(projectDir, ".pulumi-home"),
    PULUMI_BACKEND_URL: `file://${path.join(projectDir, ".state")}`,
    PULUMI_CONFIG_PASSPHRASE: passphrase,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
  };
}

/** Asks the proxy for a module version; returns the error text it gave, or undefined when it is served. */
function askProxy(part: ToolchainPart, cliVersion: string): string | undefined {
  let query = part.version;
  if (query.startsWith("commit of ")) {
    // The commit of the CLI's tag is what the proxy reports as Origin.Hash for pkg/v3 at that tag.
    const info = goModDownload(PKG, cliVersion);
    const hash = (info.Origin as { Hash?: string } | undefined)?.Hash;
    if (!hash) {
      const list = spawnSync("go", ["list", "-m", "-versions", part.module], { encoding: "utf8", cwd: os.tmpdir() });
      return `it gives no commit (Origin.Hash) for ${PKG}@${cliVersion}, and for the module's version list: ${(list.stderr || list.stdout).trim()}`;
    }
    query = hash;
  }
  const info = goModDownload(part.module, query);
  return typeof info.Error === "string" ? info.Error : undefined;
}

function goModDownload(module: string, version: string): Record<string, unknown> {
  const result = spawnSync("go", ["mod", "download", "-json", `${module}@${version}`], { encoding: "utf8", cwd: os.tmpdir() });
  try {
    return JSON.parse(result.stdout) as Record<string, unknown>;
  } catch {
    return { Error: (result.stderr || result.stdout || `go exited ${result.status}`).trim() };
  }
}

function buildCli(dir: string, version: string): void {
  fs.mkdirSync(path.join(dir, "bin"), { recursive: true });
  const out = path.join(dir, "bin", "pulumi");
  const ldflags = `-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${version}`;
  const build = spawnSync("go", ["build", "-trimpath", "-ldflags", ldflags, "-o", `${out}.tmp`, `${PKG}/cmd/pulumi`], {
    cwd: cliModuleDir,
    stdio: "inherit",
  });
  if (build.status !== 0) throw new Error(`go build of the Pulumi CLI failed (exit ${build.status})`);
  fs.renameSync(`${out}.tmp`, out);
}

function buildYamlHost(dir: string): void {
  const build = spawnSync("go", ["install", `${YAML_HOST.module}/cmd/${YAML_HOST.binary}@${YAML_HOST.version}`], {
    cwd: os.tmpdir(),
    env: { ...process.env, GOBIN: path.join(dir, "bin") },
    stdio: "inherit",
  });
  if (build.status !== 0) throw new Error(`go install of ${YAML_HOST.module} ${YAML_HOST.version} failed (exit ${build.status})`);
}

function writeManifest(dir: string, manifest: Manifest): void {
  fs.writeFileSync(path.join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
}

function main(): number {
  const started = Date.now();
  const step = (what: string): void => console.log(`toolchain [${((Date.now() - started) / 1000).toFixed(1)} s] ${what}`);
  const { dir, parts } = currentToolchainDir();
  const cli = parts[0];
  const previous = readManifest(dir);
  if (isComplete(previous, parts) && previous!.built.includes(yamlHostEntry)) {
    step(`cached in ${dir}: ${previous!.built.join(", ")}; nothing to do`);
    return 0;
  }
  const built = previous?.built ?? [];
  if (!built.includes(cli.binary)) {
    step(`building ${cli.binary} ${cli.version} from ${cli.module} (a few minutes the first time)`);
    buildCli(dir, cli.version);
    built.push(cli.binary);
    writeManifest(dir, { built });
  }
  step(`${cli.binary} ${cli.version} in ${path.join(dir, "bin")}`);
  if (!built.includes(yamlHostEntry)) {
    step(`building ${YAML_HOST.binary} ${YAML_HOST.version} from ${YAML_HOST.module}`);
    buildYamlHost(dir);
    built.push(yamlHostEntry);
    writeManifest(dir, { built });
  }
  step(`${YAML_HOST.binary} ${YAML_HOST.version} in ${path.join(dir, "bin")}`);
  // Every module is asked before anything stops, so one run names every module the proxy refuses.
  const refusals = parts.slice(1).flatMap((part) => {
    step(`asking the Go module proxy for ${part.module} at ${part.version}`);
    const refused = askProxy(part, cli.version);
    return refused ? [refusalParagraph(part, refused, built)] : [];
  });
  if (refusals.length > 0) {
    step("stopped: the toolchain is incomplete");
    console.error(refusals.join("\n\n"));
    return 1;
  }
  // The proxy this project reaches refuses each of these modules, so no build recipe for them could be run
  // and none is written: a proxy that serves them all stops here, saying so.
  console.error("wsenv toolchain: the language host and providers are served, but no build step for them is written yet (issue #10).");
  return 1;
}

if (require.main === module) process.exit(main());
