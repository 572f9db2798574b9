import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CommandError, EngineEvent, LocalWorkspace, OpType, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { parse as parseYaml, stringify } from "yaml";
import { currentToolchain, toolchainEnv } from "../scripts/toolchainPlan";
import { PROJECT_DIR } from "./apps";

/**
 * Stacks on the real Pulumi engine, driven through the Automation API: the toolchain's CLI (`npm run
 * toolchain`), its language hosts and provider plugins, a file backend and a PULUMI_HOME of the stack's
 * own in a temp folder. Nothing here imitates the engine: what a test sees is what `pulumi up` did.
 */

export const TOOLCHAIN = currentToolchain();
export const PASSPHRASE = "wsenv-e2e";

/** One step the engine took, as its events report it. */
export interface Step {
  op: OpType;
  type: string;
  /** The resource's name (the last part of its URN). */
  name: string;
  /** The inputs whose change caused the step (updates and replacements). */
  diffs: string[];
}

/** What one `up`, `refresh` or `destroy` did. */
export interface Run {
  ok: boolean;
  /** Every resource step, in the order the engine began them. */
  steps: Step[];
  /** The stack outputs, secrets unwrapped (after a successful `up`). */
  outputs: Record<string, unknown>;
  /** The engine's diagnostics and the CLI's error output (a failure's messages are here). */
  messages: string;
  /** The engine's error and warning diagnostics alone, each as the engine reported it. */
  diagnostics: string[];
  /** What policy packs reported: `<level> <policy> <resource name>: <message>`. */
  policies: string[];
  ms: number;
}

/**
 * The steps that changed a Docker object or ran a command, as `op type name`: neither `same` nor the reads
 * of a refresh, and not the components (wsenv:index:*), the stack and the default providers.
 */
export const changes = (run: Pick<Run, "steps">): string[] =>
  run.steps
    .filter((s) => !["same", "refresh", "read"].includes(s.op) && !s.type.startsWith("wsenv:") && !s.type.startsWith("pulumi:"))
    .map((s) => `${s.op} ${s.type} ${s.name}`);

/** The stack file's config from plain values: objects as structured config, as a person would write it. */
function writeStackFile(dir: string, stack: string, config: Record<string, unknown>): void {
  const file = path.join(dir, `Pulumi.${stack}.yaml`);
  // Keep what the CLI wrote beside the config (the passphrase provider's salt).
  const previous = fs.existsSync(file) ? ((parseYaml(fs.readFileSync(file, "utf8")) ?? {}) as Record<string, unknown>) : {};
  fs.writeFileSync(file, stringify({ ...previous, config }));
}

export interface EngineStackOptions {
  /** The Pulumi project (a folder with Pulumi.yaml). Default: this repository. */
  projectDir?: string;
  /** Environment of the CLI, its language host and providers, beside the toolchain's (e.g. DOCKER_HOST). */
  env?: Record<string, string>;
}

/**
 * A stack of a project on the real engine. Its stack file `Pulumi.<stack>.yaml` is written into the project
 * (this repository ignores `Pulumi.e2e-*.yaml`) and removed by {@link EngineStack.remove}, with the state.
 */
export class EngineStack {
  private constructor(
    readonly name: string,
    readonly projectDir: string,
    readonly stack: Stack,
    private readonly home: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async open(name: string, opts: EngineStackOptions = {}): Promise<EngineStack> {
    if (TOOLCHAIN.missing.length > 0) throw new Error(`the toolchain lacks ${TOOLCHAIN.missing.map((p) => p.binary).join(", ")}: run \`npm run toolchain\``);
    const projectDir = opts.projectDir ?? PROJECT_DIR;
    const home = fs.mkdtempSync(path.join(os.tmpdir(), `wsenv-engine-${name}-`));
    fs.mkdirSync(path.join(home, "state"));
    // The stack's own PULUMI_HOME (the CLI keeps the selected stack there), sharing the toolchain's plugins.
    fs.mkdirSync(path.join(home, "pulumi"));
    fs.symlinkSync(path.join(TOOLCHAIN.dir, "home", "plugins"), path.join(home, "pulumi", "plugins"));
    const env = toolchainEnv(TOOLCHAIN.dir);
    const envVars: Record<string, string> = {
      PULUMI_HOME: path.join(home, "pulumi"),
      PULUMI_BACKEND_URL: `file://${path.join(home, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
      PULUMI_SKIP_UPDATE_CHECK: env.PULUMI_SKIP_UPDATE_CHECK!,
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: env.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION!,
      ...opts.env,
    };
    const pulumiCommand = await PulumiCommand.get({ root: TOOLCHAIN.dir });
    if (!fs.existsSync(path.join(projectDir, `Pulumi.${name}.yaml`))) writeStackFile(projectDir, name, {});
    const stack = await LocalWorkspace.createOrSelectStack({ stackName: name, workDir: projectDir }, { pulumiCommand, envVars });
    return new EngineStack(name, projectDir, stack, home, { ...process.env, ...env, ...envVars });
  }

  /** Replaces the stack's config; `secrets` are then set encrypted, as `pulumi config set --secret` does. */
  async configure(config: Record<string, unknown>, secrets: Record<string, string> = {}): Promise<void> {
    writeStackFile(this.projectDir, this.name, config);
    for (const [key, value] of Object.entries(secrets)) await this.stack.setConfig(key, { value, secret: true }, key.includes("."));
  }

  /**
   * `pulumi up`; a failure is returned (ok false, its messages), not thrown. `onStep` sees each step as the
   * engine begins it; `signal` sends the CLI SIGINT, as Ctrl-C does.
   */
  up(opts: { signal?: AbortSignal; onStep?: (step: Step) => void; policyPacks?: string[] } = {}): Promise<Run> {
    return this.run((onEvent) => this.stack.up({ onEvent, color: "never", signal: opts.signal, policyPacks: opts.policyPacks }), opts.onStep);
  }

  /** `pulumi preview`; with `expectNoChanges`, any change fails it; `policyPacks` are folders of packs. */
  preview(opts: { expectNoChanges?: boolean; policyPacks?: string[] } = {}): Promise<Run> {
    return this.run((onEvent) => this.stack.preview({ onEvent, color: "never", expectNoChanges: opts.expectNoChanges, policyPacks: opts.policyPacks }));
  }

  refresh(opts: { expectNoChanges?: boolean } = {}): Promise<Run> {
    return this.run((onEvent) => this.stack.refresh({ onEvent, color: "never", expectNoChanges: opts.expectNoChanges }));
  }

  destroy(): Promise<Run> {
    return this.run((onEvent) => this.stack.destroy({ onEvent, color: "never" }));
  }

  /**
   * The CLI itself on this stack, for what the Automation API does not offer (such as `--refresh=false`):
   * its exit status, output and time (no steps: the CLI prints them for a person).
   */
  cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
    const started = Date.now();
    const child = spawn(path.join(TOOLCHAIN.dir, "bin", "pulumi"), [...args, "--stack", this.name, "--non-interactive"], { cwd: this.projectDir, env: { ...this.env, ...env } });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    return new Promise((resolve) => child.on("close", (code) => resolve({ ok: code === 0, steps: [], outputs: {}, messages: output, diagnostics: [], policies: [], ms: Date.now() - started })));
  }

  /** Fails the test with the engine's messages unless the run succeeded. */
  static ok(run: Run): Run {
    if (!run.ok) throw new Error(`the engine failed:\n${run.messages}`);
    return run;
  }

  /** `pulumi stack export`: the checkpoint, pending operations included. */
  async exportState(): Promise<{ resources?: { urn: string; type: string }[]; pending_operations?: unknown[] }> {
    return (await this.stack.exportStack()).deployment as { resources?: { urn: string; type: string }[]; pending_operations?: unknown[] };
  }

  /**
   * The checkpoint as the backend stores it (secrets as ciphertext), unlike {@link exportState}, which the
   * Automation API exports with `--show-secrets`.
   */
  storedState(): string {
    const stacks = path.join(this.home, "state", ".pulumi", "stacks");
    const files = fs.readdirSync(stacks, { recursive: true, encoding: "utf8" }).filter((f) => path.basename(f) === `${this.name}.json`);
    if (files.length !== 1) throw new Error(`expected one checkpoint of ${this.name} under ${stacks}, found ${files.length}`);
    return fs.readFileSync(path.join(stacks, files[0]), "utf8");
  }

  /** Destroys what is left, removes the stack, its file and its temp folder. */
  async remove(): Promise<void> {
    try {
      await this.destroy();
      await this.stack.workspace.removeStack(this.name, { force: true });
    } finally {
      fs.rmSync(path.join(this.projectDir, `Pulumi.${this.name}.yaml`), { force: true });
      fs.rmSync(this.home, { recursive: true, force: true });
    }
  }

  private async run(
    operation: (onEvent: (event: EngineEvent) => void) => Promise<{ stderr: string; outputs?: Record<string, { value: unknown }> }>,
    onStep?: (step: Step) => void,
  ): Promise<Run> {
    const steps: Step[] = [];
    const diagnostics: string[] = [];
    const policies: string[] = [];
    const onEvent = (event: EngineEvent) => {
      const meta = event.resourcePreEvent?.metadata;
      if (meta) {
        const step = { op: meta.op, type: meta.type, name: meta.urn.split("::").pop()!, diffs: meta.diffs ?? [] };
        steps.push(step);
        onStep?.(step);
      }
      // A refresh knows what differs only when it is done (its outputs event, as an update, says so).
      const done = event.resOutputsEvent?.metadata;
      const begun = done && [...steps].reverse().find((s) => s.name === done.urn.split("::").pop());
      if (done?.diffs?.length && begun?.op === "refresh") begun.diffs = [...done.diffs].sort();
      if (event.diagnosticEvent && ["error", "warning"].includes(event.diagnosticEvent.severity)) diagnostics.push(event.diagnosticEvent.message);
      const policy = event.policyEvent;
      if (policy) policies.push(`${policy.enforcementLevel} ${policy.policyName} ${policy.resourceUrn?.split("::").pop() ?? "(stack)"}: ${policy.message.trim()}`);
    };
    const started = Date.now();
    try {
      const result = await operation(onEvent);
      const outputs = Object.fromEntries(Object.entries(result.outputs ?? {}).map(([key, output]) => [key, output.value]));
      return { ok: true, steps, outputs, messages: [...diagnostics, result.stderr].join("\n"), diagnostics, policies, ms: Date.now() - started };
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      return { ok: false, steps, outputs: {}, messages: [...diagnostics, err.message].join("\n"), diagnostics, policies, ms: Date.now() - started };
    }
  }
}

/** Opens the stack with this config (and secrets) and brings it up; an up that fails fails the caller. */
export async function deployStack(name: string, config: Record<string, unknown>, opts: EngineStackOptions & { secrets?: Record<string, string> } = {}): Promise<{ stack: EngineStack; first: Run }> {
  const stack = await EngineStack.open(name, opts);
  await stack.configure(config, opts.secrets);
  const first = await stack.up();
  if (!first.ok) {
    await stack.remove();
    throw new Error(`the first up of ${name} failed:\n${first.messages}`);
  }
  return { stack, first };
}
