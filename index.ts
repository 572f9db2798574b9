import * as pulumi from "@pulumi/pulumi";
import { Environment } from "./components";
import { prepareAppBuild } from "./lib/appSource";
import { planEnvironment } from "./lib/plan";
import { NAMESPACE, specFromConfigMap } from "./lib/stackConfig";

// The wsenv program: stack config -> spec (every error at once, before any resource) -> staged app ->
// plan -> one Environment. Pulumi calls the exported function and takes its result as the stack outputs.
export = async () => {
  const config = new pulumi.Config(NAMESPACE);
  const all = pulumi.runtime.allConfig();
  const spec = specFromConfigMap(
    Object.fromEntries(Object.keys(all).map((key) => [key, key.startsWith(`${NAMESPACE}:`) ? config.getObject(key.slice(NAMESPACE.length + 1)) : all[key]])),
  );
  const stack = pulumi.getStack();
  const build = await prepareAppBuild(spec.app, { projectDir: __dirname, stack });
  const env = new Environment("wsenv", { plan: planEnvironment(stack, spec, build), secretEnv: pulumi.secret(spec.secretEnv) });
  return { url: env.url, wsUrl: env.wsUrl, nodes: env.nodes, balancer: env.balancer, deployed: env.deployed };
};
