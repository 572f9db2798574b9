// tsx test/runner/cli.ts up|down --stack NAME   (run from the Pulumi project directory)
import { RunnerError, down, up } from "./runner";

function usage(): never {
  process.stderr.write("usage: tsx test/runner/cli.ts up|down --stack NAME\n");
  process.exit(2);
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const cmd = argv[0];
  if (cmd !== "up" && cmd !== "down") usage();
  let stack = process.env.WSENV_STACK;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--stack" || a === "-s") stack = argv[++i];
    else if (a.startsWith("--stack=")) stack = a.slice("--stack=".length);
    else usage();
  }
  if (!stack) usage();
  // Rejections that follow a failed step are reported through the runner's result, not as a crash.
  process.on("unhandledRejection", () => undefined);
  try {
    if (cmd === "up") await up(process.cwd(), stack);
    else await down(process.cwd(), stack);
    return 0;
  } catch (e) {
    const msg = e instanceof RunnerError || e instanceof Error ? e.message : String(e);
    process.stderr.write(`error: ${msg}\n`);
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
