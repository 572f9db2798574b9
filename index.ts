import * as pulumi from "@pulumi/pulumi";
import { Environment, EnvironmentArgs, asRunError, resolveEnvironment } from "./components";
import { ConfigError, Problem } from "./lib/errors";
import { NAMESPACE, PROGRAM_ENVIRONMENT, STACK_CONFIG, argsFromConfigMap, stackConfigProblems } from "./lib/stackConfig";

// The engine tells the SDK which config keys hold an encrypted value; the SDK's reader of that list is
// exported but not in its typings.
const { isConfigSecret } = pulumi.runtime as unknown as { isConfigSecret(key: string): boolean };

/**
 * The wsenv program: the stack config's `wsenv:` keys are the Args of one Environment, resolved once (the
 * config checked, every problem at once and named by its stack config key, before any resource), then
 * declared; its outputs are the stack outputs. A bad config fails the run with the problems alone.
 */
export = async () => {
  const config = new pulumi.Config(NAMESPACE);
  const all = pulumi.runtime.allConfig();
  // Structured keys are JSON; the TLS key is a PEM string. Secrets stay Outputs, so they stay secret.
  const read = (key: string): unknown => (key === "secretEnv" ? config.getSecretObject(key) : key === "tlsKey" ? config.getSecret(key) : config.getObject(key));
  const values = Object.fromEntries(Object.keys(all).map((key) => [key, key.startsWith(STACK_CONFIG.prefix) ? read(key.slice(STACK_CONFIG.prefix.length)) : all[key]]));
  const problems: Problem[] = stackConfigProblems(values, Object.keys(all).filter((key) => isConfigSecret(key)));
  const args = argsFromConfigMap(values) as EnvironmentArgs;
  let resolved;
  try {
    resolved = await resolveEnvironment(PROGRAM_ENVIRONMENT, args, { projectDir: process.cwd(), stack: pulumi.getStack() });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  if (problems.length > 0 || !resolved) throw asRunError(new ConfigError(problems, STACK_CONFIG.subject, STACK_CONFIG.prefix));

  const env = new Environment(PROGRAM_ENVIRONMENT, resolved);
  return {
    url: env.url,
    wsUrl: env.wsUrl,
    nodes: env.nodes,
    balancer: env.balancer,
    deployed: env.deployed,
    // Only with TLS: the https:// and wss:// URLs and the certificate's expiry.
    ...(resolved.plan.tls ? { tls: env.tls } : {}),
  };
};
