// `npm run pulumi -- ARGS`: the Pulumi CLI for this checkout, on a local file backend (.pulumi-state/) unless
// PULUMI_BACKEND_URL names another. The CLI is the toolchain's (`npm run toolchain`, with its own PULUMI_HOME
// holding the plugins it built) when it is complete, else the `pulumi` npm package's (pinned in
// package.json; it downloads its CLI on first use, and that CLI downloads the provider plugins). Where neither
// is there, one paragraph says why and what to do, not a stack trace.
//
// `npm run up|preview|destroy|refresh [-- --stack NAME] [flags]` go through it: the stack (default dev) is
// selected, or created from its Pulumi.<stack>.yaml, first.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { PROJECT_DIR, currentToolchain, toolchainEnv } from "./toolchainPlan";

/** A CLI to run and the environment it needs beside the caller's. */
export interface Cli {
  path: string;
  env: NodeJS.ProcessEnv;
}

const pinned: string = require("pulumi/package.json").version;

export function cliUnavailableMessage(toolchainReason: string, npmReason: string): string {
  return [
    `wsenv: no Pulumi CLI is available, so nothing was run.`,
    `\`npm run toolchain\` builds the CLI, its language hosts and the provider plugins this program needs (README, "Without internet");`,
    `here ${toolchainReason}.`,
    `Pulumi's \`pulumi\` npm package (${pinned}, pinned in package.json) downloads its CLI on first use into`,
    `${process.env.PULUMI_HOME ?? "~/.pulumi"}/versions/${pinned}; here that failed (${npmReason}).`,
    `Meanwhile \`npm run render -- --stack dev\` shows the nginx config a deploy would apply.`,
  ].join(" ");
}

/** The toolchain's CLI, when every part of it is built. */
export function toolchainCli(): Cli {
  const { dir, missing } = currentToolchain();
  if (missing.length > 0) throw new Error(`the toolchain in ${dir} lacks ${missing.map((p) => p.binary).join(", ")}`);
  return { path: path.join(dir, "bin", "pulumi"), env: toolchainEnv(dir) };
}

/** The npm package's CLI (downloaded on first use where there is internet). */
export async function npmCli(): Promise<Cli> {
  const { resolve } = require("pulumi/lib/resolve") as { resolve: () => Promise<string> };
  const cli = await resolve();
  return { path: cli, env: { PATH: `${path.dirname(cli)}${path.delimiter}${process.env.PATH ?? ""}` } };
}

export async function findCli(fromToolchain: () => Cli = toolchainCli, fromNpm: () => Promise<Cli> = npmCli): Promise<Cli> {
  let toolchainReason: string;
  try {
    return fromToolchain();
  } catch (err) {
    toolchainReason = (err as Error).message;
  }
  try {
    return await fromNpm();
  } catch (err) {
    throw new Error(cliUnavailableMessage(toolchainReason, (err as Error).message));
  }
}

/** The commands that act on a stack: the stack is selected (or created) before them. */
const STACK_COMMANDS = ["up", "preview", "destroy", "refresh"];

function stackOf(args: string[]): { stack: string; rest: string[] } {
  const at = args.indexOf("--stack");
  if (at < 0) return { stack: "dev", rest: args };
  return { stack: args[at + 1], rest: [...args.slice(0, at), ...args.slice(at + 2)] };
}

export async function runPulumi(argv: string[], find: () => Promise<Cli> = () => findCli(), run = spawnSync): Promise<number> {
  let cli: Cli;
  try {
    cli = await find();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  }
  const stateDir = path.join(PROJECT_DIR, ".pulumi-state");
  const env: NodeJS.ProcessEnv = { ...process.env, ...cli.env };
  if (env.PULUMI_BACKEND_URL === undefined) {
    fs.mkdirSync(stateDir, { recursive: true });
    env.PULUMI_BACKEND_URL = `file://${stateDir}`;
  }
  env.PULUMI_SKIP_UPDATE_CHECK = "true";
  if (env.PULUMI_CONFIG_PASSPHRASE === undefined && env.PULUMI_CONFIG_PASSPHRASE_FILE === undefined) {
    // The local stacks' secrets are encrypted with an empty passphrase unless you choose one.
    process.stderr.write("wsenv: PULUMI_CONFIG_PASSPHRASE is not set; using an empty passphrase for this local stack's secrets.\n");
    env.PULUMI_CONFIG_PASSPHRASE = "";
  }
  const step = (args: string[]) => run(cli.path, args, { cwd: PROJECT_DIR, env, stdio: "inherit" }).status ?? 1;
  const [command, ...args] = argv;
  if (!STACK_COMMANDS.includes(command)) return step(argv);
  const { stack, rest } = stackOf(args);
  if (!stack) {
    process.stderr.write("usage: npm run up|preview|destroy|refresh [-- --stack NAME] [pulumi flags]\n");
    return 2;
  }
  const selected = step(["stack", "select", stack, "--create", "--non-interactive"]);
  if (selected !== 0) return selected;
  const confirm = !process.stdout.isTTY && command !== "preview" && !rest.includes("--yes") ? ["--yes"] : [];
  return step([command, "--stack", stack, ...confirm, ...rest]);
}

if (require.main === module) runPulumi(process.argv.slice(2)).then((code) => process.exit(code));
