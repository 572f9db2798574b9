import * as pulumi from "@pulumi/pulumi";
import { prepareAppBuild } from "../lib/appSource";
import { ConfigError, Problem, problem } from "../lib/errors";
import { environmentNameProblem, environmentPrefix, secretEnvDigest } from "../lib/naming";
import { EnvironmentPlan, planEnvironment } from "../lib/plan";
import { RawWsenvConfig, parseWsenvConfig } from "../lib/schema";
import { checkTlsKey } from "../lib/tls";
import type { EnvironmentArgs } from "./environmentArgs";
import { UNKNOWN, settleArgs } from "./settleArgs";

/** Where an environment is resolved: relative sources resolve against `projectDir`; names carry `stack`. */
export interface EnvironmentContext {
  projectDir: string;
  stack: string;
}

/** An environment checked, staged and planned: everything `new Environment` declares from. */
export interface ResolvedEnvironment {
  plan: EnvironmentPlan;
  /**
   * Inputs the plan could not wait for: in a preview, secrets or `app.env` values that come from
   * resources not created yet. What depends on them (the nodes' Docker names and environment, the
   * balancer's files) shows as unknown until they are known. Undefined when everything was known.
   */
  pending?: pulumi.Output<unknown>;
  /** The secret environment, kept a Pulumi secret, when there is one. */
  secretEnv?: pulumi.Output<Record<string, string>>;
  /** With TLS: the certificate's key, kept a Pulumi secret. */
  tlsKey?: pulumi.Output<string>;
}

/**
 * A config error as a Pulumi program should fail with: a RunError, which the engine shows as its message
 * alone, the problems once (the ConfigError is its `cause`). The SDK still formats a RunError's stack (for
 * a trace event), which under the language host's source maps took about 20 s here (a program that only
 * throws: 24.9 s, 3.8 s without a stack); it is never shown, so it carries none.
 */
export function asRunError(error: ConfigError): pulumi.RunError {
  const runError = new pulumi.RunError(error.message);
  runError.stack = runError.message;
  Object.defineProperty(runError, "cause", { value: error });
  return runError;
}

/** Values that may wait: they do not decide which resources exist, and stand in as "" until known. */
const deferrable = (path: string) => path === "tlsKey" || path === "secretEnv" || path.startsWith("secretEnv.") || path.startsWith("app.env.");

/** `value` with every UNKNOWN replaced: deferrable ones by a stand-in, the rest left out. */
function withStandIns(value: unknown, at = ""): unknown {
  if (value === UNKNOWN) return at === "secretEnv" ? {} : deferrable(at) ? "" : undefined;
  if (Array.isArray(value)) return value.map((v, i) => withStandIns(v, `${at}[${i}]`));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withStandIns(v, at ? `${at}.${k}` : k)]));
  return value;
}

/**
 * Everything an environment needs before it declares a resource, done once: the Args waited for and
 * checked (every problem at once, the component's name included), the TLS key checked against its
 * certificate, the source fetched and staged, the secrets digested, the whole environment planned. Any
 * problem is a {@link ConfigError}, thrown before anything exists.
 */
export async function resolveEnvironment(name: string, args: EnvironmentArgs, context: EnvironmentContext): Promise<ResolvedEnvironment> {
  const subject = `arguments of Environment ${JSON.stringify(name)}`;
  const problems: Problem[] = [];
  const nameProblem = environmentNameProblem(name);
  if (nameProblem) problems.push(problem("name", nameProblem));
  const settled = await settleArgs(args);
  for (const path of settled.unknown.filter((p) => !deferrable(p))) {
    problems.push(problem(path, "must be known when the environment is declared: it decides which resources exist or what the balancer's config says (got the output of a resource that is not created yet)"));
  }
  for (const path of settled.secret.filter((p) => p.startsWith("app.env."))) {
    problems.push(problem(path, (key) => `is a secret: put it in ${key("secretEnv")}, which keeps it one (app.env values are shown in diffs and hashed into node names)`));
  }
  const raw = withStandIns(settled.value) as RawWsenvConfig;
  let spec;
  try {
    spec = parseWsenvConfig(raw);
    if (spec.balancer.tls && typeof raw.tlsKey === "string" && !settled.unknown.includes("tlsKey")) checkTlsKey(spec.balancer.tls.certificate, raw.tlsKey);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  if (problems.length > 0 || !spec) throw new ConfigError(problems, subject);

  const prefix = environmentPrefix(name, context.stack);
  let build;
  try {
    build = await prepareAppBuild(spec.app, { projectDir: context.projectDir, prefix });
  } catch (err) {
    throw err instanceof ConfigError ? new ConfigError(err.problems, subject) : err;
  }
  // Only a digest of the secrets reaches the plan (see secretEnvDigest): nothing it names is secret.
  const plan = planEnvironment({ prefix, stack: context.stack }, spec, build, secretEnvDigest(context.stack, spec.secretEnv));
  const deferred = settled.unknown.filter(deferrable);
  const hasSecrets = Object.keys(spec.secretEnv).length > 0 || deferred.some((p) => p.startsWith("secretEnv"));
  return {
    plan,
    pending: deferred.length > 0 ? pulumi.output(args).apply(() => true) : undefined,
    secretEnv: hasSecrets ? pulumi.secret(pulumi.output(args.secretEnv ?? {})) as pulumi.Output<Record<string, string>> : undefined,
    tlsKey: spec.balancer.tls && args.tlsKey !== undefined ? pulumi.secret(pulumi.output(args.tlsKey)) : undefined,
  };
}
