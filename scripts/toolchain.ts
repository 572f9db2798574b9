// `npm run toolchain`: the Pulumi CLI, its Node.js and YAML language hosts and the Docker and command
// provider plugins, built with the ordinary `go` command into a cache outside the clone (WSENV_TOOLCHAIN_DIR,
// default ~/.cache/wsenv/toolchain), the plugins installed into that toolchain's own PULUMI_HOME. The CLI and
// the YAML host come from the Go module proxy; the Node.js host and the providers from their source
// archives (WSENV_TOOLCHAIN_SOURCES, default ../shared/third_party), checked against toolchain/SHA256SUMS.
// A second run with the same pins does nothing. What each part is built from: scripts/toolchainPlan.ts.
import { spawnSync, SpawnSyncOptions } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Part, PROJECT_DIR, ToolchainError, YAML_HOST, currentToolchain, parseSums, readManifest, sourcesDir, toolchainEnv } from "./toolchainPlan";

const started = Date.now();
const say = (what: string): void => console.log(`toolchain [${((Date.now() - started) / 1000).toFixed(1)} s] ${what}`);

function run(command: string, args: string[], opts: SpawnSyncOptions): void {
  const result = spawnSync(command, args, { stdio: "inherit", ...opts, env: { ...process.env, GOFLAGS: "-mod=readonly", ...opts.env } });
  if (result.status !== 0) throw new ToolchainError(`${command} ${args.join(" ")} (in ${opts.cwd}) failed: ${result.error?.message ?? `exit ${result.status}`}`);
}

const versionFlags = (variable: string, version: string) => ["-trimpath", "-ldflags", `-s -w -X ${variable}=${version}`];
const SDK_VERSION = "github.com/pulumi/pulumi/sdk/v3/go/common/version.Version";

/** The archive of a part, checked against the digest this checkout pins, unpacked into `into`. */
function unpack(part: Part, into: string): string {
  const sources = sourcesDir();
  const file = path.join(sources, part.archive!);
  const pinned = parseSums(fs.readFileSync(path.join(PROJECT_DIR, "toolchain", "SHA256SUMS"), "utf8"))[part.archive!];
  if (!pinned) throw new ToolchainError(`toolchain/SHA256SUMS pins no digest for ${part.archive}`);
  if (!fs.existsSync(file)) {
    throw new ToolchainError(`no ${part.archive} in ${sources}: ${part.binary} is built from that source archive; set WSENV_TOOLCHAIN_SOURCES to the folder that holds it (README, "Without internet")`);
  }
  const digest = createHash("sha256").update(fs.readFileSync(file)).digest("hex");
  if (digest !== pinned) throw new ToolchainError(`${file} has SHA-256 ${digest}, not the ${pinned} that toolchain/SHA256SUMS pins: refusing to build from it`);
  run("tar", ["-xzf", file, "-C", into], { cwd: into });
  return path.join(into, part.archive!.replace(/\.tar\.gz$/, ""));
}

const moduleFiles = (name: string, into: string) => {
  for (const file of ["go.mod", "go.sum"]) fs.copyFileSync(path.join(PROJECT_DIR, "toolchain", name, file), path.join(into, file));
};

/** Builds one part into `out`, in a scratch folder `work`. */
const RECIPES: Record<string, (part: Part, out: string, work: string) => void> = {
  pulumi: (part, out) => {
    run("go", ["build", ...versionFlags(SDK_VERSION, `v${part.buildVersion}`), "-o", out, "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"], { cwd: path.join(PROJECT_DIR, "toolchain", "pulumi") });
  },
  "pulumi-language-nodejs": (part, out, work) => {
    // The tagged source requires pkg/v3 and sdk/v3 through ../ replaces into the monorepo; our module
    // file requires both at the same release from the proxy instead.
    const dir = path.join(unpack(part, work), "sdk", "nodejs", "cmd", "pulumi-language-nodejs");
    moduleFiles("language-nodejs", dir);
    run("go", ["build", ...versionFlags(SDK_VERSION, `v${part.buildVersion}`), "-o", out, "."], { cwd: dir });
  },
  "pulumi-resource-command": (part, out, work) => {
    const dir = path.join(unpack(part, work), "provider");
    run("go", ["build", ...versionFlags("github.com/pulumi/pulumi-command/provider/pkg/version.Version", `v${part.buildVersion}`), "-o", out, "./cmd/pulumi-resource-command"], { cwd: dir });
  },
  "pulumi-resource-docker": (part, out, work) => {
    // As the provider's own Makefile does: its patches on the Terraform provider it bridges, the schema
    // stamped with the version, then the build without Compose support.
    const root = unpack(part, work);
    const patches = fs.readdirSync(path.join(root, "patches")).filter((f) => f.endsWith(".patch")).sort();
    for (const patch of patches) run("git", ["apply", path.join(root, "patches", patch)], { cwd: path.join(root, "upstream") });
    const dir = path.join(root, "provider");
    moduleFiles("docker", dir);
    run("go", ["generate", "./cmd/pulumi-resource-docker/main.go"], { cwd: dir, env: { VERSION: part.buildVersion } });
    const flags = versionFlags("github.com/pulumi/pulumi-docker/provider/v5/pkg/version.Version", part.buildVersion);
    run("go", ["build", "-tags", "no_compose", ...flags, "-o", out, "./cmd/pulumi-resource-docker"], { cwd: dir, env: { CGO_ENABLED: "0" } });
  },
  "pulumi-language-yaml": (_part, out, work) => {
    run("go", ["install", `${YAML_HOST.module}/cmd/pulumi-language-yaml@${YAML_HOST.version}`], { cwd: work, env: { GOBIN: work, GOFLAGS: "" } });
    fs.renameSync(path.join(work, "pulumi-language-yaml"), out);
  },
};

function main(): number {
  const toolchain = currentToolchain();
  const { dir, parts, missing } = toolchain;
  if (missing.length === 0) {
    say(`cached in ${dir}: ${parts.map((p) => `${p.binary} ${p.buildVersion}`).join(", ")}; nothing to do`);
    return 0;
  }
  const goVersion = spawnSync("go", ["env", "GOVERSION"], { encoding: "utf8" }).stdout?.trim();
  if (!goVersion) throw new ToolchainError("the `go` command is not on PATH: the toolchain is built with Go (1.26)");
  const manifest = readManifest(dir);
  for (const sub of ["bin", "providers", "home"]) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  for (const part of missing) {
    say(`building ${part.binary} ${part.buildVersion} from ${part.from}`);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), `wsenv-toolchain-${part.binary}-`));
    // Providers stay off PATH: the CLI must run the plugins it installed, not whatever PATH holds.
    const out = path.join(dir, part.plugin ? "providers" : "bin", part.binary);
    try {
      RECIPES[part.binary](part, `${out}.tmp`, work);
      fs.renameSync(`${out}.tmp`, out);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
    if (part.plugin) {
      const env = toolchainEnv(dir);
      run(path.join(dir, "bin", "pulumi"), ["plugin", "install", part.plugin.kind, part.plugin.name, part.buildVersion, "--file", out, "--reinstall"], { cwd: dir, env });
    }
    manifest.built[part.binary] = `${part.buildVersion} from ${part.from}, ${goVersion}`;
    fs.writeFileSync(path.join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    say(`${part.binary} ${part.buildVersion} done`);
  }
  say(`complete in ${dir}`);
  return 0;
}

if (require.main === module) {
  try {
    process.exit(main());
  } catch (err) {
    if (!(err instanceof ToolchainError)) throw err;
    console.error(`wsenv toolchain: ${err.message}`);
    process.exit(1);
  }
}
