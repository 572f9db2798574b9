import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { ConfigError, RawWsenvConfig, WsenvSpec, parseWsenvConfig } from "./schema";

/**
 * Getting the stack config to the schema, from either place it lives: the Pulumi engine (the program) or
 * `Pulumi.<stack>.yaml` (offline render, which needs no CLI). Both go through {@link specFromConfigMap}.
 */

export const NAMESPACE = "wsenv";
export const CONFIG_KEYS = ["balancer", "app", "secretEnv"] as const;

/**
 * Builds the spec from a map of full keys (`wsenv:app`) to values. Unknown `wsenv:` keys are errors, so
 * a typo such as `wsenv:balancr` is reported instead of silently leaving every default in place.
 */
export function specFromConfigMap(config: Record<string, unknown>): WsenvSpec {
  const unknown = Object.keys(config)
    .filter((key) => key.startsWith(`${NAMESPACE}:`) && !(CONFIG_KEYS as readonly string[]).includes(key.slice(NAMESPACE.length + 1)))
    .sort()
    .map((key) => `${key}: is not a known key; wsenv reads ${CONFIG_KEYS.map((k) => `${NAMESPACE}:${k}`).join(", ")}`);
  const raw: RawWsenvConfig = {
    balancer: config[`${NAMESPACE}:balancer`],
    app: config[`${NAMESPACE}:app`],
    secretEnv: config[`${NAMESPACE}:secretEnv`],
  };
  const problems = [...unknown];
  let spec: WsenvSpec | undefined;
  try {
    spec = parseWsenvConfig(raw);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  if (problems.length > 0 || !spec) throw new ConfigError(problems);
  return spec;
}

/** Replaces every `{secure: …}` leaf (ciphertext only the CLI can open) with a placeholder string. */
function maskSecure(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecure);
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1 && entries[0][0] === "secure") return "[secret]";
    return Object.fromEntries(entries.map(([k, v]) => [k, maskSecure(v)]));
  }
  return value;
}

/** Reads `Pulumi.<stack>.yaml` the way the CLI hands it to the program: its `config:` map. */
export function readStackConfigFile(projectDir: string, stack: string): Record<string, unknown> {
  const file = path.join(projectDir, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file)) throw new Error(`no stack file ${file} (stacks here: ${listStacks(projectDir).join(", ") || "none"})`);
  const doc = (parseYaml(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  return maskSecure(doc.config ?? {}) as Record<string, unknown>;
}

export function listStacks(projectDir: string): string[] {
  return fs
    .readdirSync(projectDir)
    .map((f) => /^Pulumi\.(.+)\.ya?ml$/.exec(f)?.[1])
    .filter((s): s is string => !!s)
    .sort();
}
