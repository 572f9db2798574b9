// What `npm run toolchain` builds, decided from this checkout's pins, as plain data: which versions, from
// which sources, into which cache folder. No builds and no Pulumi here; scripts/toolchain.ts does the work.
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const PROJECT_DIR = path.resolve(__dirname, "..");

/** A problem the toolchain reports as one message, without a stack trace. */
export class ToolchainError extends Error {}

/** The Go module the CLI is built from, and the SDK module every Pulumi Go binary shares. */
const PKG = "github.com/pulumi/pulumi/pkg/v3";
const SDK = "github.com/pulumi/pulumi/sdk/v3";
const BRIDGE = "github.com/pulumi/pulumi-terraform-bridge/v3";

/** The YAML language host (Pulumi YAML programs): served by the Go module proxy, built with `go install`. */
export const YAML_HOST = { module: "github.com/pulumi/pulumi-yaml", version: "v1.38.3" } as const;

/**
 * Bumped whenever a build step in scripts/toolchain.ts changes what it produces, so that a cached
 * toolchain built the old way is not taken for the new one.
 */
const RECIPE = 1;

/** The versions the toolchain is built at, each read from the one file that pins it. */
export interface Pins {
  /** One Pulumi release for the CLI, the Node.js language host, the npm `pulumi` and `@pulumi/pulumi`. */
  pulumi: string;
  /** The Docker provider: `@pulumi/docker` in package.json, its source the archive of that tag. */
  docker: string;
  /** The bridge the Docker provider is built on (toolchain/docker/go.mod; see its comment for why). */
  dockerBridge: string;
  /** The command provider: `@pulumi/command` in package.json. */
  command: string;
}

export interface PinInputs {
  packageJson: { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
  /** toolchain/<part>/go.mod by part: `pulumi`, `language-nodejs`, `docker`. */
  goMods: Record<string, string>;
}

/** The version a go.mod requires of a module, or undefined. */
export function goModRequire(goMod: string, module: string): string | undefined {
  const escaped = module.replace(/[./]/g, "\\$&");
  return new RegExp(`^\\s*(?:require\\s+)?${escaped} (v\\S+)`, "m").exec(goMod)?.[1];
}

const EXACT = /^\d+\.\d+\.\d+$/;

/**
 * The pins, every inconsistency reported at once: the CLI, the language host and both npm packages must be
 * one Pulumi release, and the providers exact versions (the plugins are built from those tags' sources).
 */
export function readPins({ packageJson, goMods }: PinInputs): Pins {
  const problems: string[] = [];
  const npm = (name: string, from: "dependencies" | "devDependencies"): string => {
    const version = packageJson[from]?.[name];
    if (!version || !EXACT.test(version)) problems.push(`package.json ${from}.${name}: must be an exact version like 1.2.3 (got ${JSON.stringify(version)})`);
    return version ?? "";
  };
  const pulumi = npm("pulumi", "devDependencies");
  const sdk = npm("@pulumi/pulumi", "devDependencies");
  if (pulumi && sdk && pulumi !== sdk) problems.push(`package.json: pulumi ${pulumi} and @pulumi/pulumi ${sdk} must be one Pulumi release`);
  for (const [part, modules] of [["pulumi", [PKG, SDK]], ["language-nodejs", [PKG, SDK]]] as const) {
    for (const module of modules) {
      const required = goModRequire(goMods[part] ?? "", module);
      if (required !== `v${pulumi}`) problems.push(`toolchain/${part}/go.mod: must require ${module} v${pulumi}, the release of package.json's pulumi (got ${required ?? "none"})`);
    }
  }
  const docker = npm("@pulumi/docker", "dependencies");
  const dockerBridge = goModRequire(goMods.docker ?? "", BRIDGE);
  if (!dockerBridge) problems.push(`toolchain/docker/go.mod: must require ${BRIDGE}`);
  const dockerModule = /^module (\S+)/m.exec(goMods.docker ?? "")?.[1];
  if (dockerModule !== `github.com/pulumi/pulumi-docker/provider/v${docker.split(".")[0]}`) {
    problems.push(`toolchain/docker/go.mod: must be the module of @pulumi/docker ${docker}'s provider (got ${dockerModule ?? "none"})`);
  }
  const command = npm("@pulumi/command", "dependencies");
  if (problems.length > 0) throw new ToolchainError(`the pins disagree:\n  ${problems.join("\n  ")}`);
  return { pulumi, docker, dockerBridge: dockerBridge!, command };
}

/** One binary of the toolchain. */
export interface Part {
  binary: string;
  /** The version the SDK packages ask for (the npm package's, or the CLI's release). */
  version: string;
  /**
   * The version the binary reports and is installed as: `version`, with SemVer build metadata where the
   * build is not exactly that release's (the CLI matches plugins ignoring build metadata).
   */
  buildVersion: string;
  /** What it is built from, in words: printed, and recorded in the manifest. */
  from: string;
  /** The source archive (in the sources folder), for the parts the Go module proxy does not serve. */
  archive?: string;
  /** A provider plugin, installed into the toolchain's PULUMI_HOME. */
  plugin?: { kind: "resource"; name: string };
}

/** The parts, in build order. */
export function toolchainParts(pins: Pins): Part[] {
  return [
    { binary: "pulumi", version: pins.pulumi, buildVersion: pins.pulumi, from: `${PKG}@v${pins.pulumi} (Go module proxy), in toolchain/pulumi` },
    {
      binary: "pulumi-language-nodejs",
      version: pins.pulumi,
      buildVersion: pins.pulumi,
      from: `pulumi/pulumi v${pins.pulumi} sdk/nodejs/cmd/pulumi-language-nodejs (source archive), with toolchain/language-nodejs/go.mod`,
      archive: `pulumi-language-nodejs-v${pins.pulumi}.tar.gz`,
    },
    {
      binary: "pulumi-resource-command",
      version: pins.command,
      buildVersion: pins.command,
      from: `pulumi/pulumi-command v${pins.command} provider/ (source archive), its own go.mod`,
      archive: `pulumi-command-v${pins.command}.tar.gz`,
      plugin: { kind: "resource", name: "command" },
    },
    {
      binary: "pulumi-resource-docker",
      version: pins.docker,
      // The tag's source on another bridge than the tag's: labelled so, not as the release itself.
      buildVersion: `${pins.docker}+bridge.${pins.dockerBridge.replace(/^v/, "")}`,
      from: `pulumi/pulumi-docker v${pins.docker} provider/ and patched upstream/ (source archive), on terraform-bridge ${pins.dockerBridge} (toolchain/docker/go.mod)`,
      archive: `pulumi-docker-v${pins.docker}.tar.gz`,
      plugin: { kind: "resource", name: "docker" },
    },
    { binary: "pulumi-language-yaml", version: YAML_HOST.version.slice(1), buildVersion: YAML_HOST.version.slice(1), from: `${YAML_HOST.module}@${YAML_HOST.version} (Go module proxy, go install)` },
  ];
}

/** `SHA256SUMS` text (`<hex>  <file>` lines) as file name to digest. */
export function parseSums(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split("\n")
      .map((line) => /^([0-9a-f]{64})\s+\*?(\S+)$/.exec(line.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[2], m[1]]),
  );
}

export const toolchainRoot = (env: NodeJS.ProcessEnv = process.env): string => env.WSENV_TOOLCHAIN_DIR ?? path.join(os.homedir(), ".cache", "wsenv", "toolchain");

/** Where the source archives are: WSENV_TOOLCHAIN_SOURCES, else the shared folder beside the clone. */
export const sourcesDir = (env: NodeJS.ProcessEnv = process.env): string => env.WSENV_TOOLCHAIN_SOURCES ?? path.resolve(PROJECT_DIR, "..", "shared", "third_party");

/**
 * The toolchain's folder for these exact inputs (every go.mod and go.sum, the pinned archive digests, the
 * recipe): new inputs are a new folder, so a stale build is never reused. The Go release is recorded in the
 * manifest, not keyed: the module files pin every dependency, and a program that runs the toolchain must
 * find it on a machine without Go.
 */
export function cacheDir(root: string, pins: Pins, inputs: string[]): string {
  const key = createHash("sha256").update([String(RECIPE), JSON.stringify(pins), ...inputs].join("\0")).digest("hex").slice(0, 12);
  return path.join(root, `pulumi-v${pins.pulumi}-${key}`);
}

/** What a finished step leaves in the folder: each built part's binary, what from, and with which Go. */
export interface Manifest {
  built: Record<string, string>;
}

export function readManifest(dir: string): Manifest {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8")) as Manifest;
    return manifest.built && typeof manifest.built === "object" ? manifest : { built: {} };
  } catch {
    return { built: {} };
  }
}

export const missingParts = (manifest: Manifest, parts: Part[]): Part[] => parts.filter((part) => !(part.binary in manifest.built));

/** The inputs of this checkout, read from its files. */
export function checkoutInputs(projectDir = PROJECT_DIR): PinInputs & { files: string[] } {
  const read = (file: string) => fs.readFileSync(path.join(projectDir, file), "utf8");
  const goMods = Object.fromEntries(["pulumi", "language-nodejs", "docker"].map((part) => [part, read(`toolchain/${part}/go.mod`)]));
  const files = ["pulumi", "language-nodejs", "docker"].flatMap((part) => [`toolchain/${part}/go.mod`, `toolchain/${part}/go.sum`]).concat("toolchain/SHA256SUMS").map(read);
  return { packageJson: JSON.parse(read("package.json")), goMods, files };
}

/** The toolchain of this checkout: its folder, its parts, and which of them are not built yet. */
export interface Toolchain {
  dir: string;
  pins: Pins;
  parts: Part[];
  missing: Part[];
}

export function currentToolchain(env: NodeJS.ProcessEnv = process.env, projectDir = PROJECT_DIR): Toolchain {
  const inputs = checkoutInputs(projectDir);
  const pins = readPins(inputs);
  const parts = toolchainParts(pins);
  const dir = cacheDir(toolchainRoot(env), pins, [...inputs.files, JSON.stringify(parts)]);
  return { dir, pins, parts, missing: missingParts(readManifest(dir), parts) };
}

/**
 * The environment that runs the toolchain's CLI: its binaries first on PATH (the CLI finds its language
 * hosts there), its own PULUMI_HOME (the plugins it installed), and no plugin downloads or update checks,
 * which would only wait for a network this toolchain exists to do without.
 */
export function toolchainEnv(dir: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...base,
    PATH: `${path.join(dir, "bin")}${path.delimiter}${base.PATH ?? ""}`,
    PULUMI_HOME: path.join(dir, "home"),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
  };
}
