// Behaviour shared by the Terraform-bridged docker resources (pulumi-terraform-bridge tfbridge).
import { ResourceState } from "../state";
import { Obj, isEmpty, randomHex } from "../util";
import { StepContext } from "./types";

/**
 * pulumi/pulumi-docker provider/resources.go calls prov.SetAutonaming(255, "-"): a resource whose
 * `name` is not given gets "<logical name>-<7 random hex>". On a diff the bridge's Check keeps the
 * old auto-name; on a replacement the engine checks again without old inputs, so a fresh name.
 */
export function autoname(ctx: StepContext, news: Obj, old: ResourceState | undefined): { name: string; autonamed: boolean } {
  if (!isEmpty(news.name)) return { name: String(news.name), autonamed: false };
  if (old?.autonamed && typeof old.inputs.name === "string") return { name: old.inputs.name, autonamed: true };
  return { name: `${ctx.name}-${randomHex(7)}`, autonamed: true };
}

/**
 * pulumi-terraform-bridge nameRequiresDeleteBeforeReplace: when the program set an auto-nameable
 * `name` itself, old and new would collide on that name, so the replacement deletes first.
 */
export function nameRequiresDeleteBeforeReplace(autonamedNew: boolean): boolean {
  return !autonamedNew;
}

/** Terraform treats "" / false / 0 / empty collections as unset (GetOk); so does the runner. */
export function isSetTf(v: unknown): boolean {
  return !isEmpty(v);
}

export function labelsToMap(labels: unknown): Record<string, string> {
  const r: Record<string, string> = {};
  for (const l of (labels as Obj[] | undefined) ?? []) r[String(l.label)] = String(l.value);
  return r;
}
