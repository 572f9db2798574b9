// command:local:Command (and the command:local:run invoke), following pulumi/pulumi-command
// provider/pkg/provider/local (commandController.go, commandOutputs.go).
import { ResourceState } from "../state";
import { Obj, isEmpty, randomHex, run } from "../util";
import { ProviderImpl, rejectUnsupported } from "./types";

const TYPE = "command:local:Command";
const INPUTS = ["create", "update", "delete", "environment", "dir", "interpreter", "stdin", "triggers", "addPreviousOutputInEnv", "logging"];

/** The runner's own process variables are not part of the provider process's environment. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("PULUMI_CONFIG") || k.startsWith("PULUMI_NODEJS_")) continue;
    env[k] = v;
  }
  return env;
}

/**
 * commandOutputs.go run(): interpreter (default /bin/sh -c) + command, dir (default: the
 * provider's working directory = project dir), os.Environ() + environment, PULUMI_COMMAND_STDOUT/
 * STDERR from the previous run when addPreviousOutputInEnv (default true), stdin when non-empty.
 * Failure: "<exit status>: running <command>:\n<stdout+stderr>". Outputs lose one trailing "\n".
 */
export async function runLocal(projectDir: string, command: string, i: Obj, previous?: { stdout?: string; stderr?: string }): Promise<{ stdout: string; stderr: string }> {
  const interp = Array.isArray(i.interpreter) && i.interpreter.length > 0 ? (i.interpreter as string[]) : ["/bin/sh", "-c"];
  const env = baseEnv();
  for (const [k, v] of Object.entries((i.environment as Obj | undefined) ?? {})) env[k] = String(v);
  if (i.addPreviousOutputInEnv !== false && previous) {
    if (previous.stdout) env.PULUMI_COMMAND_STDOUT = previous.stdout;
    if (previous.stderr) env.PULUMI_COMMAND_STDERR = previous.stderr;
  }
  const cwd = isEmpty(i.dir) ? projectDir : String(i.dir);
  const r = await run(interp[0], [...interp.slice(1), command], { cwd, env, input: isEmpty(i.stdin) ? undefined : String(i.stdin) });
  if (r.code !== 0) throw new Error(`exit status ${r.code}: running ${JSON.stringify(command)}:\n${r.combined}`);
  return { stdout: r.stdout.replace(/\n$/, ""), stderr: r.stderr.replace(/\n$/, "") };
}

function prevOutputs(old: ResourceState): { stdout?: string; stderr?: string } {
  return { stdout: old.outputs.stdout as string | undefined, stderr: old.outputs.stderr as string | undefined };
}

export const commandProvider: ProviderImpl = {
  type: TYPE,

  check(ctx, news) {
    rejectUnsupported(TYPE, ctx.name, news, INPUTS, (v) => !isEmpty(v));
    // infer SetDefault(&AddPreviousOutputInEnv, true)
    return { inputs: { addPreviousOutputInEnv: true, ...news } };
  },

  async create(ctx, i) {
    // Create: id = resource.NewUniqueHex(name, 8, 0); runs `create` when set.
    const id = `${ctx.name}${randomHex(8)}`;
    let out = { stdout: "", stderr: "" };
    if (!isEmpty(i.create)) out = await runLocal(ctx.projectDir, String(i.create), i);
    return { id, outputs: { ...i, ...out } };
  },

  async update(ctx, old, i) {
    // Update: `update` if set, else `create`; the previous stdout/stderr are kept if neither is set.
    const cmd = !isEmpty(i.update) ? String(i.update) : !isEmpty(i.create) ? String(i.create) : undefined;
    let out = { stdout: String(old.outputs.stdout ?? ""), stderr: String(old.outputs.stderr ?? "") };
    if (cmd !== undefined) out = await runLocal(ctx.projectDir, cmd, i, prevOutputs(old));
    return { outputs: { ...i, ...out } };
  },

  async delete(ctx, old) {
    // Delete: runs the *old* `delete` with the old inputs, when set.
    if (isEmpty(old.inputs.delete)) return;
    await runLocal(ctx.projectDir, String(old.inputs.delete), old.inputs, prevOutputs(old));
  },

  deleteBeforeReplace: () => false,
};

/** The command:local:run invoke. */
export async function invokeLocalRun(projectDir: string, args: Obj): Promise<Obj> {
  for (const k of ["assetPaths", "archivePaths"]) if (!isEmpty(args[k])) throw new Error(`command:local:run: ${k} is not implemented by the e2e runner`);
  const out = await runLocal(projectDir, String(args.command), args);
  return { ...args, ...out };
}
