// Runs an unchanged Pulumi program under pulumi.runtime.setMocks; the mocks do the real work on the
// local Docker engine, following the engine's step rules and the providers' behaviour.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Project, loadProject, loadStackConfig } from "./config";
import { commandProvider, invokeLocalRun } from "./providers/command";
import { containerProvider } from "./providers/container";
import { imageProvider } from "./providers/image";
import { networkProvider, volumeProvider } from "./providers/network";
import { remoteImageProvider } from "./providers/remoteImage";
import { PartialCreateError, ProviderImpl, StepContext } from "./providers/types";
import { Rules } from "./rules";
import { ResourceState, StackState, allEntries, loadState, removeState, saveState, stateFile } from "./state";
import { Obj, Serial, canonicalJson, dropNulls, isEmpty, unwrapSecrets, wrapSecret } from "./util";

export const PROVIDERS: Record<string, ProviderImpl> = Object.fromEntries(
  [containerProvider, networkProvider, volumeProvider, imageProvider, remoteImageProvider, commandProvider].map((p) => [p.type, p]),
);

/** Resources served by the Terraform bridge (pulumi-terraform-bridge semantics for names and empty values). */
const TF_BRIDGED = new Set(["docker:index/container:Container", "docker:index/network:Network", "docker:index/volume:Volume", "docker:index/remoteImage:RemoteImage"]);

export interface RunnerOptions {
  /** step lines and the final outputs JSON (default: stdout) */
  out?: (line: string) => void;
  /** notes and progress (default: stderr) */
  err?: (line: string) => void;
  rules?: Rules;
}

export interface UpResult {
  lines: string[];
  outputs: Obj;
}

export class RunnerError extends Error {
  constructor(
    message: string,
    readonly lines: string[],
  ) {
    super(message);
  }
}

type StepKind = "create" | "update" | "replace" | "delete" | "same";

function stepLine(kind: StepKind, type: string, name: string, changed?: string[]): string {
  return `${kind} ${type} ${name}${changed && changed.length > 0 ? ` (changed: ${changed.join(",")})` : ""}`;
}

/** The engine's URN: the parent's full qualified type chain, "$", the type (no prefix under the stack root). */
function engineUrn(stack: string, project: string, parentUrn: string | undefined, type: string, name: string): string {
  const qualified = parentUrn ? `${parentUrn.split("::")[2]}$${type}` : type;
  return `urn:pulumi:${stack}::${project}::${qualified}::${name}`;
}

/** The URN MockMonitor.newUrn computes (it keeps only the parent's last type segment). */
function mockUrn(stack: string, project: string, parentMockUrn: string, type: string, name: string): string {
  const qualified = parentMockUrn ? `${parentMockUrn.split("::")[2].split("$").pop()}$${type}` : type;
  return `urn:pulumi:${stack}::${project}::${qualified}::${name}`;
}

/** replaceOnChanges paths like "triggers[*]", "envs", "build.args", "*": matched on the top-level key. */
function matchesReplaceOnChanges(key: string, paths: string[]): boolean {
  return paths.some((p) => p === "*" || p.split(/[.[]/)[0] === key);
}

interface RequestInfo {
  parentMock: string;
  dependencies: string[];
  propertyDependencies: Record<string, string[]>;
  deleteBeforeReplace?: boolean;
  ignoreChanges: string[];
  replaceOnChanges: string[];
  protect: boolean;
  retainOnDelete: boolean;
  deletedWith: string;
  additionalSecretOutputs: string[];
  replacementTrigger?: string;
  unsupported: string[];
}

/** Resource options from the RegisterResourceRequest (MockMonitor does not pass them to newResource). */
function requestInfo(req: any): RequestInfo {
  const info: RequestInfo = {
    parentMock: "",
    dependencies: [],
    propertyDependencies: {},
    ignoreChanges: [],
    replaceOnChanges: [],
    protect: false,
    retainOnDelete: false,
    deletedWith: "",
    additionalSecretOutputs: [],
    unsupported: [],
  };
  if (!req) return info;
  info.parentMock = req.getParent?.() ?? "";
  info.dependencies = req.getDependenciesList?.() ?? [];
  const pd = req.getPropertydependenciesMap?.();
  pd?.forEach((v: any, k: string) => (info.propertyDependencies[k] = v.getUrnsList()));
  if (req.getDeletebeforereplacedefined?.()) info.deleteBeforeReplace = !!req.getDeletebeforereplace();
  info.ignoreChanges = req.getIgnorechangesList?.() ?? [];
  info.replaceOnChanges = req.getReplaceonchangesList?.() ?? [];
  info.protect = !!req.getProtect?.();
  info.retainOnDelete = !!req.getRetainondelete?.();
  info.deletedWith = req.getDeletedwith?.() ?? "";
  info.additionalSecretOutputs = req.getAdditionalsecretoutputsList?.() ?? [];
  const trig = req.getReplacementTrigger?.();
  if (trig) info.replacementTrigger = canonicalJson(trig.toJavaScript());
  if ((req.getReplaceWithList?.() ?? []).length > 0) info.unsupported.push("replaceWith");
  const hooks = req.getHooks?.();
  if (hooks) {
    const lists = Object.keys(hooks.toObject?.() ?? {}).filter((k) => (hooks.toObject()[k] ?? []).length > 0);
    if (lists.length > 0) info.unsupported.push("hooks");
  }
  if (req.getImportid?.()) info.unsupported.push("import");
  return info;
}

class Deployment {
  readonly lines: string[] = [];
  readonly failures: string[] = [];
  readonly programErrors: string[] = [];
  private readonly registered = new Set<string>();
  private readonly mockToUrn = new Map<string, string>();
  /** dependents deleted ahead of a delete-before-replace; their next registration is a replacement */
  private readonly cascaded = new Map<string, ResourceState>();
  private readonly serial = new Serial();
  pendingReq: any;

  constructor(
    readonly project: Project,
    readonly stack: string,
    readonly state: StackState,
    readonly rules: Rules,
    private readonly out: (l: string) => void,
    private readonly err: (l: string) => void,
  ) {}

  /**
   * The engine's refresh: each resource whose provider can read it is read; one that is gone leaves the
   * state (so the program's registration creates it again), the others get their current outputs.
   */
  async refresh(): Promise<void> {
    for (const [urn, res] of Object.entries(this.state.resources)) {
      const provider = PROVIDERS[res.type];
      if (!res.custom || !provider?.read || res.id === undefined) continue;
      const current = await provider.read(this.ctx(res.type, res.name, urn), res);
      if (current === null) {
        this.err(`  · ${res.name}: refresh found it gone; the program's registration will create it again`);
        delete this.state.resources[urn];
      } else {
        res.outputs = { ...res.outputs, ...current };
      }
    }
    this.save();
  }

  emit(kind: StepKind, type: string, name: string, changed?: string[]): void {
    const l = stepLine(kind, type, name, changed);
    this.lines.push(l);
    this.out(l);
  }

  save(): void {
    saveState(this.project.dir, this.state);
  }

  ctx(type: string, name: string, urn: string): StepContext {
    return {
      projectDir: this.project.dir,
      project: this.project.name,
      stack: this.stack,
      urn,
      type,
      name,
      note: (m) => this.err(`  · ${name}: ${m}`),
    };
  }

  provider(type: string, name: string): ProviderImpl {
    const p = PROVIDERS[type];
    if (!p) throw new Error(`unsupported resource type ${type} (resource ${name}); the e2e runner supports: ${Object.keys(PROVIDERS).join(", ")}`);
    return p;
  }

  // ---- deletes -------------------------------------------------------------------------------

  /** Deletes one state entry (custom: through its provider). Removes it from the state on success. */
  async deleteEntry(r: ResourceState, deletingNow: Set<string>, opts: { down?: boolean; quiet?: boolean; quietReason?: string } = {}): Promise<void> {
    const drop = () => {
      if (this.state.resources[r.urn] === r) delete this.state.resources[r.urn];
      this.state.pendingDeletes = this.state.pendingDeletes.filter((x) => x !== r);
      this.save();
    };
    if (!r.custom) {
      drop();
      return;
    }
    if (r.protect) throw new Error(`resource ${r.urn} is protected; it cannot be deleted (remove protect first)`);
    const p = this.provider(r.type, r.name);
    const ctx = this.ctx(r.type, r.name, r.urn);
    if (r.retainOnDelete) ctx.note("retainOnDelete: removed from the state only");
    else if (r.deletedWith && deletingNow.has(r.deletedWith)) ctx.note(`deletedWith ${r.deletedWith}: not deleted on its own`);
    else await p.delete(ctx, r);
    if (opts.down && p.downCleanup) await p.downCleanup(ctx, r);
    if (opts.quiet) ctx.note(`deleted ${opts.quietReason ?? "original"} (${r.id ?? r.urn})`);
    else this.emit("delete", r.type, r.name);
    drop();
  }

  /** Reverse creation order: dependents (created later) go first. */
  async deleteAll(entries: ResourceState[], opts: { down?: boolean } = {}): Promise<void> {
    const sorted = [...entries].sort((a, b) => b.seq - a.seq);
    const deleting = new Set(sorted.map((r) => r.urn));
    for (const r of sorted) {
      // A replaced original: its resource already printed its "replace" line (one line per resource).
      const original = !opts.down && this.state.pendingDeletes.includes(r);
      await this.deleteEntry(r, deleting, { ...opts, quiet: original, quietReason: "replaced original" });
    }
  }

  // ---- registrations --------------------------------------------------------------------------

  /** Mocks.newResource. Reads the request captured by the patched monitor, then queues the step. */
  newResource(args: pulumi.runtime.MockResourceArgs): Promise<pulumi.runtime.MockResourceResult> {
    const req = this.pendingReq;
    this.pendingReq = undefined;
    const info = requestInfo(req);
    const parent = info.parentMock ? (this.mockToUrn.get(info.parentMock) ?? info.parentMock) : undefined;
    const urn = engineUrn(this.stack, this.project.name, parent, args.type, args.name);
    this.mockToUrn.set(mockUrn(this.stack, this.project.name, info.parentMock, args.type, args.name), urn);
    const mapUrns = (l: string[]) => [...new Set(l.map((u) => this.mockToUrn.get(u) ?? u))].sort();
    info.dependencies = mapUrns([...info.dependencies, ...(parent ? [parent] : [])]);
    for (const k of Object.keys(info.propertyDependencies)) info.propertyDependencies[k] = mapUrns(info.propertyDependencies[k]);
    if (info.deletedWith) info.deletedWith = this.mockToUrn.get(info.deletedWith) ?? info.deletedWith;
    return this.serial.run(async () => {
      if (this.failures.length > 0) {
        // The engine starts no new steps after a failed one.
        throw new Error(`not attempted: an earlier step failed (${args.type} ${args.name})`);
      }
      try {
        return await this.step(args, urn, parent, info);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        this.failures.push(`${args.type} ${args.name}: ${msg}`);
        this.save();
        throw e;
      }
    });
  }

  private async step(args: pulumi.runtime.MockResourceArgs, urn: string, parent: string | undefined, info: RequestInfo): Promise<pulumi.runtime.MockResourceResult> {
    const { type, name } = args;
    if (this.registered.has(urn)) throw new Error(`Duplicate resource URN '${urn}'; try giving it a unique name`);
    this.registered.add(urn);
    if (info.unsupported.length > 0) throw new Error(`resource option(s) ${info.unsupported.join(", ")} are not implemented by the e2e runner`);
    const { plain, secretKeys } = unwrapSecrets(args.inputs ?? {});
    const old = this.state.resources[urn];

    const bookkeeping = (r: ResourceState) => {
      r.parent = parent;
      r.dependencies = info.dependencies;
      r.propertyDependencies = info.propertyDependencies;
      r.protect = info.protect || undefined;
      r.retainOnDelete = info.retainOnDelete || undefined;
      r.deletedWith = info.deletedWith || undefined;
      r.secretKeys = [...new Set([...secretKeys, ...info.additionalSecretOutputs])].sort();
      if (r.secretKeys.length === 0) delete r.secretKeys;
    };
    const result = (r: ResourceState): pulumi.runtime.MockResourceResult => {
      const st: Obj = { ...r.outputs };
      delete st.id;
      for (const k of r.secretKeys ?? []) if (k in st) st[k] = wrapSecret(st[k]);
      return { id: r.id, state: st };
    };

    if (args.custom === false) {
      // Component: recorded, no work, no line.
      const r: ResourceState = old && !old.custom ? old : { urn, type, name, custom: false, inputs: {}, outputs: {}, seq: this.state.nextSeq++, dependencies: [], propertyDependencies: {} };
      r.inputs = plain;
      r.outputs = plain;
      bookkeeping(r);
      this.state.resources[urn] = r;
      return { id: undefined, state: args.inputs ?? {} };
    }

    if (type.startsWith("pulumi:providers:")) {
      const extra = Object.keys(dropNulls(plain)).filter((k) => !["version", "pluginDownloadURL"].includes(k) && !isEmpty(plain[k]));
      if (extra.length > 0) throw new Error(`explicit provider ${type} ${name} with settings (${extra.join(", ")}) is not supported by the e2e runner; it always talks to the local engine`);
      const r: ResourceState = old ?? { urn, type, name, custom: true, id: `${name}-provider`, inputs: plain, outputs: plain, seq: this.state.nextSeq++, dependencies: [], propertyDependencies: {} };
      bookkeeping(r);
      this.state.resources[urn] = r;
      return result(r);
    }

    const p = this.provider(type, name);
    const ctx = this.ctx(type, name, urn);
    const news = dropNulls(plain);
    for (const k of info.ignoreChanges) {
      if (/[.[]/.test(k)) throw new Error(`ignoreChanges path ${k}: only top-level properties are implemented by the e2e runner`);
      if (old) {
        if (old.inputs[k] === undefined) delete news[k];
        else news[k] = old.inputs[k];
      }
    }

    const cascadedOld = this.cascaded.get(urn);
    if (!old) {
      const checked = p.check(ctx, news, undefined);
      const r = await this.createNew(p, ctx, urn, checked.inputs, checked.autonamed, bookkeeping, info);
      if (cascadedOld) this.emit("replace", type, name, this.changedKeys(type, cascadedOld.inputs, checked.inputs));
      else this.emit("create", type, name);
      return result(r);
    }

    const checked = p.check(ctx, news, old);
    const changed = this.changedKeys(type, old.inputs, checked.inputs);
    const triggerChanged = (info.replacementTrigger ?? "") !== (old.replacementTrigger ?? "") && old.replacementTrigger !== undefined;
    if (changed.length === 0 && !triggerChanged && !(old.initErrors && old.initErrors.length > 0)) {
      bookkeeping(old);
      old.replacementTrigger = info.replacementTrigger;
      this.emit("same", type, name);
      return result(old);
    }
    const replaceKeys = changed.filter((k) => this.rules.get(type, k).effect === "replace" || matchesReplaceOnChanges(k, info.replaceOnChanges));
    if (replaceKeys.length === 0 && !triggerChanged) {
      const u = await p.update(ctx, old, checked.inputs, changed);
      old.inputs = checked.inputs;
      old.outputs = u.outputs;
      if (u.extra) old.extra = { ...(old.extra ?? {}), ...u.extra };
      old.autonamed = checked.autonamed || undefined;
      delete old.initErrors;
      old.replacementTrigger = info.replacementTrigger;
      bookkeeping(old);
      this.save();
      this.emit("update", type, name, changed);
      return result(old);
    }

    // Replacement: the engine checks again without old inputs (fresh auto-names).
    if (old.protect || info.protect) throw new Error(`unable to replace ${urn}: it is protected (changed: ${replaceKeys.join(",")})`);
    const fresh = p.check(ctx, news, undefined);
    const dbr = info.deleteBeforeReplace ?? p.deleteBeforeReplace(old, !!fresh.autonamed);
    if (dbr) {
      await this.deleteDependentsFirst(urn);
      if (old.retainOnDelete) ctx.note("retainOnDelete: the replaced original is left in place");
      else await p.delete(ctx, old);
      delete this.state.resources[urn];
      this.save();
      const r = await this.createNew(p, ctx, urn, fresh.inputs, fresh.autonamed, bookkeeping, info);
      this.emit("replace", type, name, changed);
      return result(r);
    }
    // Create the replacement first; the original is deleted at the end of the run (engine default).
    // If the create fails outright, the original simply stays the live resource.
    let r: ResourceState;
    try {
      r = await this.createNew(p, ctx, urn, fresh.inputs, fresh.autonamed, bookkeeping, info);
    } catch (e) {
      if (e instanceof PartialCreateError) {
        this.state.pendingDeletes.push(old);
        this.save();
      }
      throw e;
    }
    this.state.pendingDeletes.push(old);
    this.save();
    this.emit("replace", type, name, changed);
    return result(r);
  }

  private async createNew(
    p: ProviderImpl,
    ctx: StepContext,
    urn: string,
    inputs: Obj,
    autonamed: boolean | undefined,
    bookkeeping: (r: ResourceState) => void,
    info: RequestInfo,
  ): Promise<ResourceState> {
    const base: ResourceState = {
      urn,
      type: ctx.type,
      name: ctx.name,
      custom: true,
      inputs,
      outputs: {},
      seq: 0,
      dependencies: [],
      propertyDependencies: {},
      autonamed: autonamed || undefined,
      replacementTrigger: info.replacementTrigger,
    };
    bookkeeping(base);
    try {
      const c = await p.create(ctx, inputs);
      base.id = c.id;
      base.outputs = c.outputs;
      if (c.extra) base.extra = c.extra;
    } catch (e) {
      if (e instanceof PartialCreateError) {
        // The object exists: record it (with init errors) so nothing half-done is forgotten.
        base.id = e.id;
        base.outputs = e.outputs;
        base.initErrors = [e.message];
        base.seq = this.state.nextSeq++;
        this.state.resources[urn] = base;
        this.save();
      }
      throw e;
    }
    base.seq = this.state.nextSeq++;
    this.state.resources[urn] = base;
    this.cascaded.delete(urn);
    this.save();
    return base;
  }

  /** Changed top-level input keys, compared as canonical JSON (sets: element order ignored). */
  changedKeys(type: string, olds: Obj, news: Obj): string[] {
    // Terraform-bridged types treat false/0/""/empty as unset (GetOk); native ones only null/empty.
    const tf = TF_BRIDGED.has(type);
    const norm = (k: string, v: unknown) => {
      if (isEmpty(v) && (tf || (v !== false && v !== 0))) return undefined;
      if (Array.isArray(v) && this.rules.isSet(type, k)) return [...v].map(canonicalJson).sort();
      return v;
    };
    const keys = new Set([...Object.keys(olds), ...Object.keys(news)]);
    return [...keys].filter((k) => canonicalJson(norm(k, olds[k])) !== canonicalJson(norm(k, news[k]))).sort();
  }

  /**
   * Delete-before-replace: dependents whose inputs come from the replaced resource through a
   * property that forces replacement are deleted first (what the engine does so the old object can
   * go); they are created again when the program registers them.
   */
  private async deleteDependentsFirst(urn: string): Promise<void> {
    const doomed = new Set<string>([urn]);
    let grew = true;
    while (grew) {
      grew = false;
      for (const r of Object.values(this.state.resources)) {
        if (doomed.has(r.urn) || this.registered.has(r.urn) || !r.custom) continue;
        const viaReplaceKey = Object.entries(r.propertyDependencies).some(
          ([k, urns]) => urns.some((u) => doomed.has(u)) && this.rules.find(r.type, k)?.effect === "replace",
        );
        if (viaReplaceKey) {
          doomed.add(r.urn);
          grew = true;
        }
      }
    }
    doomed.delete(urn);
    const dependents = [...doomed].map((u) => this.state.resources[u]).sort((a, b) => b.seq - a.seq);
    for (const d of dependents) {
      this.cascaded.set(d.urn, d);
      await this.deleteEntry(d, new Set(), { quiet: true, quietReason: "dependent, ahead of a delete-before-replace" });
    }
  }

  /** Dependents deleted ahead of a delete-before-replace that the program did not declare again. */
  reportCascadedLeftovers(): void {
    for (const r of this.cascaded.values()) this.emit("delete", r.type, r.name);
    this.cascaded.clear();
  }

  /** State entries the program did not register this run, plus replaced originals. */
  leftovers(): ResourceState[] {
    return [...this.state.pendingDeletes, ...Object.values(this.state.resources).filter((r) => !this.registered.has(r.urn))];
  }

  async call(args: pulumi.runtime.MockCallArgs): Promise<Obj> {
    if (args.token === "command:local:run") {
      const { plain } = unwrapSecrets(args.inputs ?? {});
      return this.serial.run(() => invokeLocalRun(this.project.dir, plain));
    }
    throw new Error(`invoke ${args.token} is not supported by the e2e runner`);
  }
}

/** Outputs, promises and plain values, resolved deeply; secrets unwrapped. */
async function resolveOutputs(sdk: typeof pulumi, exp: unknown): Promise<Obj> {
  if (exp === undefined || exp === null) return {};
  const o = sdk.output(exp as Obj) as any;
  const v = await o.promise();
  return (v ?? {}) as Obj;
}

function clearProgramFromRequireCache(projectDir: string): void {
  const root = path.resolve(projectDir) + path.sep;
  for (const k of Object.keys(require.cache)) {
    if (k.startsWith(root) && !k.includes(`${path.sep}node_modules${path.sep}`)) delete require.cache[k];
  }
}

/**
 * `pulumi up` on the local engine. Prints one line per custom resource and, last, the stack
 * outputs as one line of JSON. Rejects (RunnerError) when a step failed; the state file then lists
 * exactly what exists.
 */
export async function up(projectDir: string, stack: string, opts: RunnerOptions = {}): Promise<UpResult> {
  const out = opts.out ?? ((l: string) => process.stdout.write(l + "\n"));
  const err = opts.err ?? ((l: string) => process.stderr.write(l + "\n"));
  const project = loadProject(path.resolve(projectDir));
  const { config, secretKeys } = loadStackConfig(project, stack);
  const rules = opts.rules ?? Rules.load();
  const state = loadState(project.dir, project.name, stack);
  const d = new Deployment(project, stack, state, rules, out, err);
  // The SDK the program itself loads (the project's own node_modules), as the language host uses it:
  // the mocks must be set on that instance.
  const sdk: typeof pulumi = require(require.resolve("@pulumi/pulumi", { paths: [project.dir] }));

  const cwd = process.cwd();
  const onRejection = (e: unknown) => d.programErrors.push(e instanceof Error ? e.message : String(e));
  process.on("unhandledRejection", onRejection);
  process.chdir(project.dir);
  try {
    // Pending deletes of an earlier failed run go first (the engine's GeneratePendingDeletes).
    if (state.pendingDeletes.length > 0) await d.deleteAll(state.pendingDeletes);
    // `options: refresh: always` in Pulumi.yaml: like `pulumi up --refresh`, read every resource first.
    if (project.refreshAlways) await d.refresh();

    await sdk.runtime.setMocks(
      { newResource: (a) => d.newResource(a), call: (a) => d.call(a) },
      project.name,
      stack,
      false,
    );
    // MockMonitor hands newResource only type/name/inputs; the request (parent, options,
    // dependencies) is captured here. newResource runs synchronously inside registerResource.
    const settings = require(require.resolve("@pulumi/pulumi/runtime/settings", { paths: [project.dir] }));
    const monitor = settings.getMonitor();
    if (!monitor || typeof monitor.registerResource !== "function") throw new Error("could not reach the mock monitor of @pulumi/pulumi");
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, cb: any) => {
      d.pendingReq = req;
      return register(req, cb);
    };
    monitor.readResource = (_req: any, cb: any) => cb(new Error("reading existing resources (Resource.get) is not supported by the e2e runner"));
    sdk.runtime.setAllConfig(config, secretKeys);

    clearProgramFromRequireCache(project.dir);
    let exported: unknown;
    try {
        exported = require(project.main);
      if (typeof exported === "function") exported = await (exported as () => unknown)();
      else if (exported && typeof (exported as Obj).then === "function") exported = await exported;
    } catch (e) {
      d.programErrors.push(`the program failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
    // As the language host does: the stack outputs first (resources declared once other values are known
    // register meanwhile), then every registration still in flight (disconnect waits for them).
    let outputs: Obj = {};
    if (d.programErrors.length === 0) {
      try {
        outputs = await resolveOutputs(sdk, exported);
      } catch (e) {
        if (d.failures.length === 0) d.programErrors.push(`stack outputs: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    await sdk.runtime.disconnect();
    if (d.failures.length > 0 || d.programErrors.length > 0) {
      d.save();
      const msg = d.failures.length > 0 ? d.failures.join("\n") : [...new Set(d.programErrors)].join("\n");
      throw new RunnerError(`up failed; the state (${stateFile(project.dir, stack)}) lists what exists:\n${msg}`, d.lines);
    }
    // Resources the program no longer declares and replaced originals: last, reverse creation order.
    await d.deleteAll(d.leftovers());
    d.reportCascadedLeftovers();
    state.outputs = outputs;
    d.save();
    const json = JSON.stringify(outputs);
    d.lines.push(json);
    out(json);
    return { lines: d.lines, outputs };
  } catch (e) {
    if (e instanceof RunnerError) throw e;
    d.save();
    throw new RunnerError(e instanceof Error ? e.message : String(e), d.lines);
  } finally {
    process.chdir(cwd);
    process.off("unhandledRejection", onRejection);
  }
}

/** `pulumi destroy` plus removal of the images the stack built. Removes the state file at the end. */
export async function down(projectDir: string, stack: string, opts: RunnerOptions = {}): Promise<{ lines: string[] }> {
  const out = opts.out ?? ((l: string) => process.stdout.write(l + "\n"));
  const err = opts.err ?? ((l: string) => process.stderr.write(l + "\n"));
  const project = loadProject(path.resolve(projectDir));
  if (!fs.existsSync(stateFile(project.dir, stack))) {
    err(`no state for stack ${stack} (${stateFile(project.dir, stack)}); nothing to do`);
    return { lines: [] };
  }
  const state = loadState(project.dir, project.name, stack);
  const d = new Deployment(project, stack, state, opts.rules ?? Rules.load(), out, err);
  const cwd = process.cwd();
  process.chdir(project.dir);
  try {
    await d.deleteAll(allEntries(state), { down: true });
    removeState(project.dir, stack);
    return { lines: d.lines };
  } catch (e) {
    d.save();
    throw new RunnerError(`down failed; the state lists what still exists: ${e instanceof Error ? e.message : String(e)}`, d.lines);
  } finally {
    process.chdir(cwd);
  }
}
