// Loads replace-rules.json: for each (resource type, input key), does a change replace or update?
import * as fs from "fs";
import * as path from "path";

export interface Rule {
  type: string;
  key: string;
  effect: "replace" | "update";
  /** unordered set in the provider: element order is not a change */
  set?: boolean;
  /** containers: "docker update", "state only" or a lifecycle note */
  applies?: string;
  source: string;
}

export const RULES_FILE = path.join(__dirname, "replace-rules.json");

export class Rules {
  private readonly byKey = new Map<string, Rule>();

  constructor(rows: Rule[]) {
    for (const r of rows) {
      if (r.effect !== "replace" && r.effect !== "update") throw new Error(`replace-rules: bad effect for ${r.type}.${r.key}: ${String(r.effect)}`);
      if (!r.source) throw new Error(`replace-rules: ${r.type}.${r.key} has no source`);
      const k = `${r.type}.${r.key}`;
      if (this.byKey.has(k)) throw new Error(`replace-rules: duplicate row for ${k}`);
      this.byKey.set(k, r);
    }
  }

  static load(file = process.env.WSENV_RUNNER_RULES || RULES_FILE): Rules {
    const doc = JSON.parse(fs.readFileSync(file, "utf8")) as { rules: Rule[] };
    return new Rules(doc.rules);
  }

  find(type: string, key: string): Rule | undefined {
    return this.byKey.get(`${type}.${key}`);
  }

  /** The rule for a changed key; a change without a rule is an error, never a guess. */
  get(type: string, key: string): Rule {
    const r = this.find(type, key);
    if (!r) throw new Error(`no replace rule for ${type}.${key} (add a row with its source to test/runner/replace-rules.json)`);
    return r;
  }

  isSet(type: string, key: string): boolean {
    return this.find(type, key)?.set === true;
  }
}
