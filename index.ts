import * as pulumi from "@pulumi/pulumi";
import { Environment } from "./components";
import { STACK_CONFIG_KEYS } from "./lib/schema";
import { NAMESPACE, PROGRAM_ENVIRONMENT, specFromConfigMap } from "./lib/stackConfig";

// The engine tells the SDK which config keys hold an encrypted value; the SDK's reader of that list is
// exported but not in its typings.
const { isConfigSecret } = pulumi.runtime as unknown as { isConfigSecret(key: string): boolean };

// The wsenv program: the stack config, checked with the config's own key names (every error at once,
// before any resource), becomes the Args of one Environment; its outputs are the stack outputs.
const config = new pulumi.Config(NAMESPACE);
const all = pulumi.runtime.allConfig();
// Structured keys are JSON; the TLS key is a PEM string.
const read = (name: string) => (name === "tlsKey" ? config.get(name) : config.getObject(name));
const values = Object.fromEntries(Object.keys(all).map((key) => [key, key.startsWith(`${NAMESPACE}:`) ? read(key.slice(NAMESPACE.length + 1)) : all[key]]));
const spec = specFromConfigMap(values, Object.keys(all).filter((key) => isConfigSecret(key)));

const env = new Environment(PROGRAM_ENVIRONMENT, {
  app: config.requireObject("app"),
  balancer: config.getObject("balancer"),
  secretEnv: config.getSecretObject("secretEnv"),
  tlsKey: config.getSecret("tlsKey"),
}, { configKeys: STACK_CONFIG_KEYS });

export = {
  url: env.url,
  wsUrl: env.wsUrl,
  nodes: env.nodes,
  balancer: env.balancer,
  deployed: env.deployed,
  // Only with TLS: the https:// and wss:// URLs and the certificate's expiry.
  ...(spec.balancer.tls ? { tls: env.tls } : {}),
};
