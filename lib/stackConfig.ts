import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { ConfigError, Problem, problem } from "./errors";
import { RawWsenvConfig, WsenvSpec, parseWsenvConfig } from "./schema";
import { checkTlsKey } from "./tls";

/**
 * Getting the stack config to the schema, from either place it lives: the Pulumi engine (the program) or
 * `Pulumi.<stack>.yaml` (offline render, which needs no CLI). Keys are the `wsenv:` namespace's; the
 * schema names them as the Args do, so problems are shown under {@link STACK_CONFIG}.
 */

export const NAMESPACE = "wsenv";
/** Where the Args live in a stack config: under `wsenv:`. */
export const STACK_CONFIG = { prefix: `${NAMESPACE}:`, subject: "stack config" } as const;
/** The name of the program's one Environment: its Docker objects are `wsenv-<stack>-…`. */
export const PROGRAM_ENVIRONMENT = "wsenv";
export const CONFIG_KEYS = ["balancer", "app", "secretEnv", "tlsKey"] as const;

/** What an encrypted value of a stack file reads as offline: only the CLI can decrypt it. */
const MASKED = "[secret]";
const inNamespace = (key: string) => (key.startsWith(STACK_CONFIG.prefix) ? key.slice(STACK_CONFIG.prefix.length) : undefined);

/**
 * What only a stack config can get wrong, from a map of full keys (`wsenv:app`) to values: an unknown
 * `wsenv:` key is an error (a typo such as `wsenv:balancr` would otherwise leave every default in place),
 * and so is an encrypted value anywhere but `wsenv:secretEnv` and `wsenv:tlsKey`: an encrypted command,
 * snippet, image or source would hide from a reviewer what will run (the offline render can only show it
 * as `[secret]`), and an encrypted app.env value would be hashed into node names. `secretPaths` are the
 * config paths that were encrypted (`secure:`).
 */
export function stackConfigProblems(config: Record<string, unknown>, secretPaths: string[] = []): Problem[] {
  const unknown = Object.keys(config)
    .map(inNamespace)
    .filter((key): key is string => key !== undefined && !(CONFIG_KEYS as readonly string[]).includes(key))
    .sort()
    .map((key) => problem(key, (k) => `is not a known key; ${NAMESPACE} reads ${CONFIG_KEYS.map(k).join(", ")}`));
  const misplacedSecrets = secretPaths
    .map(inNamespace)
    .filter((p): p is string => p !== undefined && p !== "secretEnv" && !p.startsWith("secretEnv.") && p !== "tlsKey")
    .sort()
    .map((p) => problem(p, (k) => `must be plain text, not a secret (secure:); only ${k("secretEnv")} and ${k("tlsKey")} hold secrets, so that a review sees what will run`));
  // A private key in plain text would sit in the stack file, readable by everyone who reads the repository.
  const plainKey =
    config[`${STACK_CONFIG.prefix}tlsKey`] !== undefined && !secretPaths.includes(`${STACK_CONFIG.prefix}tlsKey`)
      ? [problem("tlsKey", (k) => `must be a secret: set it with \`pulumi config set --secret ${k("tlsKey")} < key.pem\` (got plain text)`)]
      : [];
  return [...unknown, ...misplacedSecrets, ...plainKey];
}

/** The Args in a map of full keys: `wsenv:app` is `app`. */
export function argsFromConfigMap(config: Record<string, unknown>): RawWsenvConfig {
  const value = (key: (typeof CONFIG_KEYS)[number]) => config[`${STACK_CONFIG.prefix}${key}`];
  return { balancer: value("balancer"), app: value("app"), secretEnv: value("secretEnv"), tlsKey: value("tlsKey") };
}

/**
 * The spec of a stack config read offline (`npm run render`, the pull-request report): the stack
 * config's own problems and the schema's, every one at once, keys under `wsenv:`. The TLS key is checked
 * against the certificate where it can be read (it is `[secret]` in a stack file read offline).
 */
export function specFromConfigMap(config: Record<string, unknown>, secretPaths: string[] = []): WsenvSpec {
  const problems = stackConfigProblems(config, secretPaths);
  const raw = argsFromConfigMap(config);
  let spec: WsenvSpec | undefined;
  try {
    spec = parseWsenvConfig(raw);
    if (spec.balancer.tls && typeof raw.tlsKey === "string" && raw.tlsKey !== MASKED) checkTlsKey(spec.balancer.tls.certificate, raw.tlsKey);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  if (problems.length > 0 || !spec) throw new ConfigError(problems, STACK_CONFIG.subject, STACK_CONFIG.prefix);
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
