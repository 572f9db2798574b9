// Offline render: `npm run render -- --stack NAME` prints the nginx.conf that `pulumi up` would apply for
// Pulumi.NAME.yaml, through the same schema, staging and plan as the program. No Pulumi CLI, no Docker.
// Invalid config: the per-field problems on stderr and exit code 2.
import { prepareAppBuild } from "../lib/appSource";
import { planEnvironment } from "../lib/plan";
import { ConfigError } from "../lib/schema";
import { readStackConfigFile, specFromConfigMap } from "../lib/stackConfig";

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
    const build = await prepareAppBuild(spec.app, { projectDir, stack });
    process.stdout.write(planEnvironment(stack, spec, build).balancer.files.nginxConf);
    return 0;
  } catch (err) {
    process.stderr.write(`${err instanceof ConfigError ? err.message : `render failed: ${(err as Error).message}`}\n`);
    return 2;
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));
