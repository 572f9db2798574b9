import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import * as path from "path";

/** One registration the program made, as the engine would see it. */
export interface Registration {
  type: string;
  name: string;
  custom: boolean;
  inputs: Record<string, unknown>;
  /** Logical name of the parent resource (the stack itself for top-level resources). */
  parent?: string;
  /** Input keys the program passed as Pulumi secrets (mocks see their values unwrapped). */
  secretInputs?: string[];
  /** The `aliases` resource option, when set. */
  aliases?: unknown[];
}

export interface ProgramRun {
  registrations: Registration[];
  outputs: Record<string, unknown>;
  /** What the program threw, if it failed (the registrations then show what it declared before). */
  error?: Error;
}

export const PROJECT_DIR = path.resolve(__dirname, "../..");

/** The address the mock engine gives a container: distinct for distinct names, stable across runs. */
export function fakeAddress(resourceName: string): string {
  const digest = createHash("sha256").update(resourceName).digest();
  return `10.9.${digest[0]}.${(digest[1] % 250) + 2}`;
}

/** Plausible provider outputs for the resources the program declares, so dependents see real shapes. */
function fakeState(args: pulumi.runtime.MockResourceArgs): Record<string, unknown> {
  switch (args.type) {
    case "docker:index/container:Container":
      return { ...args.inputs, networkDatas: [{ networkName: "net", ipAddress: fakeAddress(args.name) }] };
    case "docker:index/remoteImage:RemoteImage":
      // Another image is another id, as on the engine.
      return { ...args.inputs, imageId: `sha256:${createHash("sha256").update(String(args.inputs.name)).digest("hex")}`, repoDigest: `${args.inputs.name}@sha256:${"cd".repeat(32)}` };
    case "docker:index/image:Image":
      return { ...args.inputs, repoDigest: `${args.inputs.imageName}@sha256:${"ef".repeat(32)}` };
    case "command:local:Command":
      return { ...args.inputs, stdout: "applied", stderr: "" };
    default:
      return args.inputs;
  }
}

/**
 * Runs the unchanged program (index.ts, or `opts.program`: a module whose named exports are the stack
 * outputs) with `config` as the stack config, under pulumi.runtime.setMocks, in a fresh module registry,
 * and returns every registration and the resolved stack outputs. `secretKeys` are the config keys the
 * engine would mark secret (a key is secret when any value under it is).
 */
export async function runProgram(config: Record<string, unknown>, stack = "dev", secretKeys: string[] = [], opts: { program?: string } = {}): Promise<ProgramRun> {
  const programPath = opts.program ?? path.join(PROJECT_DIR, "index");
  const registrations: Registration[] = [];
  const parents = new Map<string, string>();
  const names = new WeakMap<pulumi.Resource, string>();
  const secrets = new Map<string, string[]>();
  const aliases = new Map<string, unknown[]>();
  const secretChecks: Promise<unknown>[] = [];
  let outputs: unknown;
  let failure: unknown;
  // One registry for the SDK and the program, as the language host gives each run.
  await jest.isolateModulesAsync(async () => {
    const sdk: typeof pulumi = require("@pulumi/pulumi");
    await sdk.runtime.setMocks(
      {
        newResource: (args) => {
          registrations.push({ type: args.type, name: args.name, custom: args.custom ?? true, inputs: args.inputs, parent: parents.get(args.name) });
          return { id: `${args.name}-id`, state: fakeState(args) };
        },
        call: (args) => args.inputs,
      },
      "wsenv",
      stack,
      false,
    );
    sdk.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])), secretKeys);
    // As the Pulumi language host does: a root Stack resource, then the program inside it.
    const program = async () => {
      sdk.runtime.registerStackTransformation((args) => {
        // Parents are declared before their children, so each parent's name is known by then.
        names.set(args.resource, args.name);
        parents.set(args.name, (args.opts.parent && names.get(args.opts.parent)) ?? "");
        if (args.opts.aliases?.length) aliases.set(args.name, args.opts.aliases);
        for (const [key, value] of Object.entries(args.props)) {
          if (sdk.Output.isInstance(value)) {
            secretChecks.push(
              sdk.isSecret(value).then((secret) => {
                if (secret) secrets.set(args.name, [...(secrets.get(args.name) ?? []), key]);
              }),
            );
          }
        }
        return undefined;
      });
      // Loaded inside the stack, as the language host does: the named exports, or what an exported (async)
      // function returns, are the stack outputs. What it throws is the run's failure.
      try {
        const exported = require(programPath) as Record<string, unknown> | (() => Promise<Record<string, unknown>>);
        return { ...(typeof exported === "function" ? await exported() : exported) } as Record<string, unknown>;
      } catch (err) {
        failure = err;
        return {};
      }
    };
    try {
      // The stack outputs, resolved; rejected when the program throws or an output fails (a staging error).
      outputs = await sdk.runtime.runInPulumiStack(program);
    } catch (err) {
      // The language host would print this and fail the update; the test wants it as a rejection.
      failure ??= err;
    }
    await Promise.all(secretChecks);
    await sdk.runtime.disconnect();
  });
  return {
    registrations: registrations
      .filter((r) => r.type !== "pulumi:pulumi:Stack")
      .map((r) => (secrets.get(r.name)?.length ? { ...r, secretInputs: [...secrets.get(r.name)!].sort() } : r))
      .map((r) => (aliases.has(r.name) ? { ...r, aliases: aliases.get(r.name) } : r)),
    outputs: outputs as Record<string, unknown>,
    error: failure as Error | undefined,
  };
}
