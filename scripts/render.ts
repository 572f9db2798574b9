// Offline render: `npm run render -- --stack NAME` prints the nginx.conf that `pulumi up` would apply for
// Pulumi.NAME.yaml, through the same schema, staging and plan as the program. No Pulumi CLI, no Docker.
// `--json` prints both balancer files as {"nginxConf": ..., "snippet": ...} (for render:diff).
// Invalid config: the per-field problems on stderr and exit code 2.
import { prepareAppBuild } from "../lib/appSource";
import { planEnvironment } from "../lib/plan";
import { environmentPrefix, secretEnvDigest } from "../lib/naming";
import { ConfigError } from "../lib/errors";
import { PROGRAM_ENVIRONMENT, STACK_CONFIG, readStackConfigFile, specFromConfigMap } from "../lib/stackConfig";

async function main(argv: string[]): Promise<number> {
  const at = argv.indexOf("--stack");
  const stack = at >= 0 ? argv[at + 1] : undefined;
  if (!stack || argv.includes("--help")) {
    process.stderr.write("usage: npm run render -- --stack NAME   (reads Pulumi.NAME.yaml, prints nginx.conf)\n");
    return stack ? 0 : 2;
  }
  // Like the Pulumi CLI: the stack files of the project in the current folder (npm runs scripts at the root).
  const projectDir = process.cwd();
  try {
    const file = readStackConfigFile(projectDir, stack);
    const spec = specFromConfigMap(file.config, file.secretPaths);
    const prefix = environmentPrefix(PROGRAM_ENVIRONMENT, stack);
    const build = await prepareAppBuild(spec.app, { projectDir, prefix });
    const { files } = planEnvironment({ prefix, stack }, spec, build, secretEnvDigest(stack, spec.secretEnv)).balancer;
    process.stdout.write(argv.includes("--json") ? `${JSON.stringify({ nginxConf: files.nginxConf, snippet: files.snippet })}\n` : files.nginxConf);
    return 0;
  } catch (err) {
    process.stderr.write(`${err instanceof ConfigError ? err.under(STACK_CONFIG.prefix, STACK_CONFIG.subject).message : `render failed: ${(err as Error).message}`}\n`);
    return 2;
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));
