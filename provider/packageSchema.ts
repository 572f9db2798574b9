import { ARGS_JSON_SCHEMA, JsonSchema } from "../lib/argsJsonSchema";

/**
 * The Pulumi package schema of wsenv, a rendering of the Args' JSON Schema (lib/argsJsonSchema.ts), so
 * the package's inputs are exactly the component's: `wsenv:index:Environment`, its Args as object types,
 * its outputs as the component's. Pulumi YAML reads it to check a program; `pulumi package add` generates
 * an SDK from it for the other languages.
 */

const PACKAGE = "wsenv";
export const ENVIRONMENT_TYPE = `${PACKAGE}:index:Environment`;
const token = (name: string) => `${PACKAGE}:index:${name}`;
const ref = (name: string) => ({ $ref: `#/types/${token(name)}` });

type Property = Record<string, unknown>;

/** Object-valued keys become named types: `tls` is `TlsArgs`. */
const NESTED: Record<string, string> = { tls: "TlsArgs" };

function property(schema: JsonSchema, key: string): Property {
  const described = (p: Property) => (schema.description ? { ...p, description: schema.description } : p);
  if (schema.properties) return described(ref(NESTED[key]));
  if (schema.anyOf) return described({ oneOf: schema.anyOf.map((s) => property(s, key)) });
  if (schema.type === "array") return described({ type: "array", items: property(schema.items!, key) });
  if (schema.type === "object") return described({ type: "object", additionalProperties: property(schema.additionalProperties as JsonSchema, key) });
  // An enum or constant is its base type here; the component checks the value and names what it allows.
  return described({ type: schema.type ?? "string" });
}

function objectType(schema: JsonSchema, description: string) {
  return {
    type: "object",
    description,
    properties: Object.fromEntries(Object.entries(schema.properties ?? {}).map(([key, p]) => [key, property(p, key)])),
    ...(schema.required?.length ? { required: schema.required } : {}),
  };
}

const string = { type: "string" };

export function packageSchema(version: string): Record<string, unknown> {
  return {
    name: PACKAGE,
    version,
    description: "An NGINX balancer with WebSockets in front of app server nodes on your own Docker engine",
    resources: {
      [ENVIRONMENT_TYPE]: {
        isComponent: true,
        description: "A whole environment: a private Docker network, the image with the application, its app server nodes and the NGINX balancer in front of them, with its generated config.",
        inputProperties: {
          app: { ...ref("AppArgs"), description: "The app server nodes and the application. Required: at least `source`." },
          balancer: { ...ref("BalancerArgs"), description: "The balancer. Default: every key's own default." },
          secretEnv: { type: "object", additionalProperties: string, secret: true, description: "Secret environment for every node; kept a Pulumi secret." },
          tlsKey: { type: "string", secret: true, description: "The private key of balancer.tls.certificate, in PEM; required with TLS. Kept a Pulumi secret." },
        },
        requiredInputs: ["app"],
        properties: {
          url: { ...string, description: "The application's URL through the balancer (its context path included)." },
          wsUrl: { ...string, description: "The WebSocket URL of the first websocket path." },
          nodes: { type: "array", items: ref("NodeOutput"), description: "Each app node's container name and address on the environment's network." },
          balancer: { ...ref("BalancerOutput"), description: "The balancer's container name and published port." },
          deployed: { ...string, description: "What was deployed: folder, archive URL, or git URL at its commit." },
          tls: { ...ref("TlsOutput"), description: "With balancer.tls: the https:// and wss:// URLs and when the certificate expires." },
        },
        required: ["url", "wsUrl", "nodes", "balancer", "deployed"],
      },
    },
    types: {
      [token("AppArgs")]: objectType(ARGS_JSON_SCHEMA.app, "The app server nodes and the application deployed into them."),
      [token("BalancerArgs")]: objectType(ARGS_JSON_SCHEMA.balancer, "The NGINX balancer node in front of the app nodes, and its generated config."),
      [token("TlsArgs")]: objectType(ARGS_JSON_SCHEMA.tls, "HTTPS and wss:// on the balancer with your certificate; the key is the tlsKey input."),
      [token("NodeOutput")]: { type: "object", properties: { name: string, address: string }, required: ["name", "address"] },
      [token("BalancerOutput")]: { type: "object", properties: { containerName: string, port: { type: "integer" } }, required: ["containerName", "port"] },
      [token("TlsOutput")]: { type: "object", properties: { url: string, wsUrl: string, certificateExpiry: string }, required: ["url", "wsUrl", "certificateExpiry"] },
    },
  };
}
