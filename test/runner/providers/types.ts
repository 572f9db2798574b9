import { ResourceState } from "../state";
import { Obj } from "../util";

export interface StepContext {
  projectDir: string;
  project: string;
  stack: string;
  urn: string;
  type: string;
  /** logical (Pulumi) name */
  name: string;
  /** a note on stderr (stdout is reserved for the step lines and the outputs JSON) */
  note(msg: string): void;
}

export interface CheckResult {
  inputs: Obj;
  /** the provider filled `name` itself (tfbridge AutoName) */
  autonamed?: boolean;
}

export interface CreateResult {
  id: string;
  outputs: Obj;
  extra?: Obj;
}

export interface ProviderImpl {
  readonly type: string;
  /**
   * The provider's Check: reject inputs the runner cannot honour, apply the provider's defaults
   * and auto-names. `old` is the previous state when the engine diffs against it (undefined for a
   * create or a replacement, where the engine checks again without old inputs).
   */
  check(ctx: StepContext, news: Obj, old: ResourceState | undefined): CheckResult;
  create(ctx: StepContext, inputs: Obj): Promise<CreateResult>;
  update(ctx: StepContext, old: ResourceState, inputs: Obj, changed: string[]): Promise<{ outputs: Obj; extra?: Obj }>;
  delete(ctx: StepContext, old: ResourceState): Promise<void>;
  /** provider-specific delete-before-replace (engine option deleteBeforeReplace is handled by the runner) */
  deleteBeforeReplace(old: ResourceState, autonamedNew: boolean): boolean;
  /**
   * The provider's Read, for refresh: the object's current outputs, or null when it no longer exists
   * (the engine then drops it from the state, and the program's next registration creates it again).
   * Types without it are taken as they are in the state.
   */
  read?(ctx: StepContext, old: ResourceState): Promise<Obj | null>;
  /** `down` only: clean-up the provider itself does not do (built images) */
  downCleanup?(ctx: StepContext, old: ResourceState): Promise<void>;
}

/** A create that failed after the object came into existence: the engine keeps it in state with init errors. */
export class PartialCreateError extends Error {
  constructor(
    message: string,
    readonly id: string,
    readonly outputs: Obj,
  ) {
    super(message);
  }
}

/** Fails loudly for every set input the runner does not implement. */
export function rejectUnsupported(type: string, name: string, inputs: Obj, supported: readonly string[], isSet: (v: unknown) => boolean): void {
  const bad = Object.keys(inputs)
    .filter((k) => !supported.includes(k) && isSet(inputs[k]))
    .sort();
  if (bad.length > 0) {
    throw new Error(`${type} ${name}: input ${bad.join(", ")} is set but the e2e runner does not implement it (it would be ignored; extend test/runner/providers or drop the input)`);
  }
}
