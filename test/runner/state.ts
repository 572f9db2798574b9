// Per-stack state: .wsenv/e2e-state/<stack>.json under the project dir (gitignored).
import * as fs from "fs";
import * as path from "path";
import { Obj } from "./util";

export interface ResourceState {
  /** Pulumi URN, built like the engine does: urn:pulumi:STACK::PROJECT::parentQualifiedType$type::name */
  urn: string;
  type: string;
  name: string;
  /** false for component resources (recorded, no work) */
  custom: boolean;
  parent?: string;
  /** provider id (undefined for components) */
  id?: string;
  /** inputs after the provider's Check (defaults and auto-names applied), secrets unwrapped */
  inputs: Obj;
  outputs: Obj;
  /** creation sequence number; deletes run in reverse order */
  seq: number;
  /** URNs this resource depends on (parent, dependsOn, inputs) */
  dependencies: string[];
  /** input property -> URNs it depends on */
  propertyDependencies: Record<string, string[]>;
  /** top-level input/output keys that were secret */
  secretKeys?: string[];
  /** the provider auto-named the `name` input (tfbridge AutoName) */
  autonamed?: boolean;
  deleteBeforeReplace?: boolean;
  protect?: boolean;
  retainOnDelete?: boolean;
  deletedWith?: string;
  replacementTrigger?: string;
  /** the create returned an error but the object exists (the engine records such resources too) */
  initErrors?: string[];
  /** provider-specific bookkeeping (e.g. image ids built earlier) */
  extra?: Obj;
}

export interface StackState {
  version: 1;
  project: string;
  stack: string;
  nextSeq: number;
  /** live resources, keyed by URN */
  resources: Record<string, ResourceState>;
  /** replaced originals (create-before-delete) that still have to be deleted */
  pendingDeletes: ResourceState[];
  /** the last successful stack outputs */
  outputs?: Obj;
}

export function stateFile(projectDir: string, stack: string): string {
  return path.join(projectDir, ".wsenv", "e2e-state", `${stack}.json`);
}

export function loadState(projectDir: string, project: string, stack: string): StackState {
  const f = stateFile(projectDir, stack);
  if (!fs.existsSync(f)) return { version: 1, project, stack, nextSeq: 1, resources: {}, pendingDeletes: [] };
  const s = JSON.parse(fs.readFileSync(f, "utf8")) as StackState;
  if (s.version !== 1) throw new Error(`${f}: unknown state version ${String(s.version)}`);
  if (s.project !== project) throw new Error(`${f} belongs to project ${s.project}, not ${project}`);
  return s;
}

/** Written after every physical change (write to a temp file, then rename). */
export function saveState(projectDir: string, s: StackState): void {
  const f = stateFile(projectDir, s.stack);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  const tmp = `${f}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(s, null, 2) + "\n");
  fs.renameSync(tmp, f);
}

export function removeState(projectDir: string, stack: string): void {
  fs.rmSync(stateFile(projectDir, stack), { force: true });
}

/** Every resource the state knows about, live and pending deletion. */
export function allEntries(s: StackState): ResourceState[] {
  return [...Object.values(s.resources), ...s.pendingDeletes];
}
