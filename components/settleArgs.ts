import * as pulumi from "@pulumi/pulumi";

/** Stands for a value that is not known yet: in a preview, the output of a resource not created yet. */
export const UNKNOWN: unique symbol = Symbol("wsenv:unknown");

/** Args as they are now: plain values (UNKNOWN where not known yet), and where the unknowns and secrets are. */
export interface SettledArgs {
  value: unknown;
  /** Key paths (`app.nodes`, `secretEnv.DB_PASSWORD`) whose value is not known yet. */
  unknown: string[];
  /** Key paths whose value is a Pulumi secret. */
  secret: string[];
}

const isSecretValue = (v: unknown): v is { value: unknown } =>
  !!v && typeof v === "object" && (v as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig;

/**
 * Waits for every Input in `args`, however deep, and gives the plain values. It goes through the SDK's
 * own serialization, the one resource inputs take, which marks the values that are not known yet and the
 * secrets, so neither has to be guessed.
 */
export async function settleArgs(args: unknown): Promise<SettledArgs> {
  const serialized = await pulumi.runtime.serializeProperty("args", args, new Set());
  const unknown: string[] = [];
  const secret: string[] = [];
  const walk = (value: unknown, at: string): unknown => {
    if (value === pulumi.runtime.unknownValue) {
      unknown.push(at);
      return UNKNOWN;
    }
    if (isSecretValue(value)) {
      secret.push(at);
      return walk(value.value, at);
    }
    if (Array.isArray(value)) return value.map((v, i) => walk(v, `${at}[${i}]`));
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, at ? `${at}.${k}` : k)]));
    return value;
  };
  return { value: walk(serialized, ""), unknown, secret };
}
