import * as pulumi from "@pulumi/pulumi";
import { Environment } from "./components";
import { prepareAppBuild } from "./lib/appSource";
import { planEnvironment } from "./lib/plan";
import { NAMESPACE, specFromConfigMap } from "./lib/stackConfig";

// The engine tells the SDK which config keys hold an encrypted value; the SDK's reader of that list is
// exported but not in its typings.
const { isConfigSecret } = pulumi.runtime as unknown as { isConfigSecret(key: string): boolean };

// The wsenv program: stack config -> spec (every error at once, before any resource) -> staged app ->
// plan -> one Environment. Pulumi calls the exported function and takes its result as the stack outputs.
export = async () => {
  const config = new pulumi.Config(NAMESPACE);
  const all = pulumi.runtime.allConfig();
  const spec = specFromConfigMap(
    Object.fromEntries(Object.keys(all).map((key) => [key, key.startsWith(`${NAMESPACE}:`) ? config.getObject(key.slice(NAMESPACE.length + 1)) : all[key]])),
    Object.keys(all).filter((key) => isConfigSecret(key)),
  );
  const stack = pulumi.getStack();
  const build = await prepareAppBuild(spec.app, { projectDir: __dirname, stack });
  // Secret only when there is one: a secret env list hides every node's whole environment from diffs.
  const secretEnv = Object.keys(spec.secretEnv).length > 0 ? pulumi.secret(spec.secretEnv) : {};
  const env = new Environment("wsenv", { plan: planEnvironment(stack, spec, build), secretEnv });
  return { url: env.url, wsUrl: env.wsUrl, nodes: env.nodes, balancer: env.balancer, deployed: env.deployed };
};
