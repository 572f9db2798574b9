// `npm run up|preview|destroy [-- --stack NAME] [pulumi flags]`: the Pulumi CLI at the version pinned in
// package.json (from Pulumi's own `pulumi` npm package, which fetches that CLI on first use and caches
// it in ~/.pulumi/versions), a local file backend in .pulumi-state/, and the stack selected or created.
// Where the CLI cannot be had, one paragraph says why and what to do, not a stack trace.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

type Resolve = () => Promise<string>;

const projectDir = path.resolve(__dirname, "..");
const pinned: string = require("pulumi/package.json").version;

export function cliUnavailableMessage(reason: string): string {
  return [
    `wsenv: the Pulumi CLI ${pinned} is not available, so nothing was deployed.`,
    `Pulumi's \`pulumi\` npm package (pinned in package.json) downloads that CLI from get.pulumi.com on first use`,
    `and caches it under ${process.env.PULUMI_HOME ?? "~/.pulumi"}/versions/${pinned}; here the download failed (${reason}).`,
    `Run \`npm run up\` once on a machine with internet access (later runs use the cache and need none),`,
    `or copy a cached ~/.pulumi/versions/${pinned} onto this one. Meanwhile \`npm run render -- --stack dev\``,
    `shows the nginx config a deploy would apply, and \`npm test\` proves the program on the local Docker engine.`,
  ].join(" ");
}

function parseArgs(argv: string[]): { command: string; stack: string; rest: string[] } {
  const [command, ...args] = argv;
  const at = args.indexOf("--stack");
  const stack = at >= 0 ? args[at + 1] : "dev";
  const rest = at >= 0 ? [...args.slice(0, at), ...args.slice(at + 2)] : args;
  return { command, stack, rest };
}

export async function runPulumi(argv: string[], resolve: Resolve, run = spawnSync): Promise<number> {
  const { command, stack, rest } = parseArgs(argv);
  if (!["up", "preview", "destroy", "refresh"].includes(command ?? "")) {
    process.stderr.write("usage: npm run up|preview|destroy [-- --stack NAME] [pulumi flags]\n");
    return 2;
  }
  let cli: string;
  try {
    cli = await resolve();
  } catch (err) {
    process.stderr.write(`${cliUnavailableMessage((err as Error).message)}\n`);
    return 1;
  }
  const stateDir = path.join(projectDir, ".pulumi-state");
  fs.mkdirSync(stateDir, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${path.dirname(cli)}${path.delimiter}${process.env.PATH ?? ""}`,
    PULUMI_BACKEND_URL: process.env.PULUMI_BACKEND_URL ?? `file://${stateDir}`,
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
