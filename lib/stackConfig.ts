import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { ConfigError, RawWsenvConfig, STACK_CONFIG_KEYS, WsenvSpec, parseWsenvConfig } from "./schema";
import { checkTlsKey } from "./tls";

/**
 * Getting the stack config to the schema, from either place it lives: the Pulumi engine (the program) or
 * `Pulumi.<stack>.yaml` (offline render, which needs no CLI). Both go through {@link specFromConfigMap}.
 */

export const NAMESPACE = "wsenv";
/** The name of the program's one Environment: its Docker objects are `wsenv-<stack>-…`. */
export const PROGRAM_ENVIRONMENT = "wsenv";
export const CONFIG_KEYS = ["balancer", "app", "secretEnv", "tlsKey"] as const;

const SECRETS_KEY = `${NAMESPACE}:secretEnv`;
const TLS_KEY = `${NAMESPACE}:tlsKey`;
/** What an encrypted value of a stack file reads as offline: only the CLI can decrypt it. */
const MASKED = "[secret]";

/**
 * Builds the spec from a map of full keys (`wsenv:app`) to values. Unknown `wsenv:` keys are errors, so
 * a typo such as `wsenv:balancr` is reported instead of silently leaving every default in place.
 *
 * `secretPaths` are the config paths that were encrypted (`secure:`). Only `wsenv:secretEnv` may hold
 * secrets: an encrypted command, snippet, image or source would hide from a reviewer what will run (the
 * offline render can only show it as `[secret]`), and an encrypted app.env value would be hashed into
 * node names. Every other encrypted path is an error naming it.
 */
export function specFromConfigMap(config: Record<string, unknown>, secretPaths: string[] = []): WsenvSpec {
  const unknown = Object.keys(config)
    .filter((key) => key.startsWith(`${NAMESPACE}:`) && !(CONFIG_KEYS as readonly string[]).includes(key.slice(NAMESPACE.length + 1)))
    .sort()
    .map((key) => `${key}: is not a known key; wsenv reads ${CONFIG_KEYS.map((k) => `${NAMESPACE}:${k}`).join(", ")}`);
  const misplacedSecrets = secretPaths
    .filter((p) => p.startsWith(`${NAMESPACE}:`) && p !== SECRETS_KEY && !p.startsWith(`${SECRETS_KEY}.`) && p !== TLS_KEY)
    .sort()
    .map((p) => `${p}: must be plain text, not a secret (secure:); only ${SECRETS_KEY} and ${TLS_KEY} hold secrets, so that a review sees what will run`);
  // A private key in plain text would sit in the stack file, readable by everyone who reads the repository.
  if (config[TLS_KEY] !== undefined && !secretPaths.includes(TLS_KEY)) {
    misplacedSecrets.push(`${TLS_KEY}: must be a secret: set it with \`pulumi config set --secret ${TLS_KEY} < key.pem\` (got plain text)`);
  }
  const raw: RawWsenvConfig = {
    balancer: config[`${NAMESPACE}:balancer`],
    app: config[`${NAMESPACE}:app`],
    secretEnv: config[SECRETS_KEY],
    tlsKey: config[TLS_KEY],
  };
  const problems = [...unknown, ...misplacedSecrets];
  let spec: WsenvSpec | undefined;
  try {
    spec = parseWsenvConfig(raw);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  // The key is plain text here when the program runs (the engine decrypted it), masked in an offline render.
  const tlsKey = config[TLS_KEY];
  if (spec?.balancer.tls && typeof tlsKey === "string" && tlsKey !== MASKED) {
    try {
      checkTlsKey(spec.balancer.tls.certificate, tlsKey, STACK_CONFIG_KEYS);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  }
  if (problems.length > 0 || !spec) throw new ConfigError(problems);
  return spec;
}

/** A stack file's config: the values, each `{secure: …}` leaf (ciphertext only the CLI can open) masked. */
export interface StackConfigFile {
  config: Record<string, unknown>;
  /** Where the masked leaves were, as config paths: `wsenv:secretEnv.DB_PASSWORD`, `wsenv:app.env.X`. */
  secretPaths: string[];
}

function maskSecure(value: unknown, at: string, found: string[]): unknown {
  if (Array.isArray(value)) return value.map((v, i) => maskSecure(v, `${at}[${i}]`, found));
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1 && entries[0][0] === "secure") {
      found.push(at);
      return MASKED;
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, maskSecure(v, `${at}.${k}`, found)]));
  }
  return value;
}

/** Reads `Pulumi.<stack>.yaml` the way the CLI hands it to the program: its `config:` map. */
export function readStackConfigFile(projectDir: string, stack: string): StackConfigFile {
  const file = path.join(projectDir, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file)) throw new Error(`no stack file ${file} (stacks here: ${listStacks(projectDir).join(", ") || "none"})`);
  const doc = (parseYaml(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  const secretPaths: string[] = [];
  const config = Object.fromEntries(Object.entries(doc.config ?? {}).map(([key, value]) => [key, maskSecure(value, key, secretPaths)]));
  return { config, secretPaths };
}

export function listStacks(projectDir: string): string[] {
  return fs
    .readdirSync(projectDir)
    .map((f) => /^Pulumi\.(.+)\.ya?ml$/.exec(f)?.[1])
    .filter((s): s is string => !!s)
    .sort();
}
