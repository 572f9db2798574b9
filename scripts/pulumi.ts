// `npm run up|preview|destroy [-- --stack NAME] [pulumi flags]`: the Pulumi CLI, a local file backend in
// .pulumi-state/, and the stack selected or created. The CLI comes from one of two places: Pulumi's own
// `pulumi` npm package (the version pinned in package.json, fetched on first use and cached in
// ~/.pulumi/versions: the fast path with internet), else the toolchain `npm run toolchain` built from Go
// modules. Where neither is there, one paragraph says why and what to do, not a stack trace.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { currentToolchainDir, isComplete, readManifest } from "./toolchain";

type Resolve = () => Promise<string>;

const projectDir = path.resolve(__dirname, "..");
const pinned: string = require("pulumi/package.json").version;

export function cliUnavailableMessage(npmReason: string, toolchainReason: string): string {
  return [
    `wsenv: no Pulumi CLI with its Node.js language host is available, so nothing was deployed.`,
    `Pulumi's \`pulumi\` npm package (${pinned}, pinned in package.json) downloads its CLI on first use and caches it`,
    `under ${process.env.PULUMI_HOME ?? "~/.pulumi"}/versions/${pinned}; here that failed (${npmReason}).`,
    `\`npm run toolchain\` builds the CLI, the language host and the providers from their Go modules instead;`,
    `here ${toolchainReason}. Run \`npm run up\` once on a machine with internet access (later runs use the cache),`,
    `or copy a cached ~/.pulumi/versions/${pinned} onto this one. Meanwhile \`npm run render -- --stack dev\``,
    `shows the nginx config a deploy would apply, and \`npm test\` proves the program on the local Docker engine.`,
  ].join(" ");
}

/** The CLI `npm run toolchain` built, when it built everything `pulumi up` needs. */
export function toolchainCli(): string {
  const { dir, parts } = currentToolchainDir();
  const manifest = readManifest(dir);
  if (isComplete(manifest, parts)) return path.join(dir, "bin", "pulumi");
  const missing = parts.map((part) => part.binary).filter((binary) => !manifest?.built.includes(binary));
  throw new Error(`the toolchain in ${dir} lacks ${missing.join(", ")} (\`npm run toolchain\` says why)`);
}

function parseArgs(argv: string[]): { command: string; stack: string; rest: string[] } {
  const [command, ...args] = argv;
  const at = args.indexOf("--stack");
  const stack = at >= 0 ? args[at + 1] : "dev";
  const rest = at >= 0 ? [...args.slice(0, at), ...args.slice(at + 2)] : args;
  return { command, stack, rest };
}

export async function runPulumi(argv: string[], resolve: Resolve, fromToolchain = toolchainCli, run = spawnSync): Promise<number> {
  const { command, stack, rest } = parseArgs(argv);
  if (!["up", "preview", "destroy", "refresh"].includes(command ?? "")) {
    process.stderr.write("usage: npm run up|preview|destroy [-- --stack NAME] [pulumi flags]\n");
    return 2;
  }
  let cli: string;
  let plugins: NodeJS.ProcessEnv = {};
  try {
    cli = await resolve();
  } catch (npmErr) {
    try {
      cli = fromToolchain();
      // The toolchain installed every plugin the program needs; the CLI must not try to fetch any.
      plugins = { PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true" };
    } catch (toolchainErr) {
      process.stderr.write(`${cliUnavailableMessage((npmErr as Error).message, (toolchainErr as Error).message)}\n`);
      return 1;
    }
  }
  const stateDir = path.join(projectDir, ".pulumi-state");
  fs.mkdirSync(stateDir, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${path.dirname(cli)}${path.delimiter}${process.env.PATH ?? ""}`,
    PULUMI_BACKEND_URL: process.env.PULUMI_BACKEND_URL ?? `file://${stateDir}`,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    ...plugins,
  };
  if (env.PULUMI_CONFIG_PASSPHRASE === undefined && env.PULUMI_CONFIG_PASSPHRASE_FILE === undefined) {
    // The local dev stack's secrets are encrypted with an empty passphrase unless you choose one.
    process.stderr.write("wsenv: PULUMI_CONFIG_PASSPHRASE is not set; using an empty passphrase for this local stack's secrets.\n");
    env.PULUMI_CONFIG_PASSPHRASE = "";
  }
  const step = (args: string[]) => run(cli, args, { cwd: projectDir, env, stdio: "inherit" }).status ?? 1;
  const selected = step(["stack", "select", stack, "--create", "--non-interactive"]);
  if (selected !== 0) return selected;
  const confirm = !process.stdout.isTTY && command !== "preview" && !rest.includes("--yes") ? ["--yes"] : [];
  return step([command, "--stack", stack, ...confirm, ...rest]);
}

if (require.main === module) {
  const { resolve } = require("pulumi/lib/resolve") as { resolve: Resolve };
  runPulumi(process.argv.slice(2), resolve).then((code) => process.exit(code));
}
