// Pulumi.yaml and Pulumi.<stack>.yaml, read the way the Pulumi CLI hands them to a Node program.
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";
import { Obj } from "./util";

export interface Project {
  dir: string;
  name: string;
  /** the program's entry module (absolute) */
  main: string;
  /** Pulumi.yaml `options.refresh: always`: every up refreshes the state first */
  refreshAlways: boolean;
}

/** Keys always passed as secret (the CLI would mark encrypted values secret; here these by convention). */
export const SECRET_CONFIG_KEYS = ["wsenv:secretEnv", "wsenv:tlsKey"];

export function loadProject(projectDir: string): Project {
  const f = path.join(projectDir, "Pulumi.yaml");
  if (!fs.existsSync(f)) throw new Error(`${f} not found (run from the Pulumi project directory)`);
  const doc = (YAML.parse(fs.readFileSync(f, "utf8")) ?? {}) as Obj;
  if (typeof doc.name !== "string" || !doc.name) throw new Error(`${f}: no project name`);
  const runtime = typeof doc.runtime === "string" ? doc.runtime : (doc.runtime as Obj | undefined)?.name;
  if (runtime !== "nodejs") throw new Error(`${f}: runtime ${String(runtime)} is not supported (nodejs only)`);
  const refreshAlways = (doc.options as Obj | undefined)?.refresh === "always";
  return { dir: projectDir, name: doc.name, main: resolveMain(projectDir, doc.main as string | undefined), refreshAlways };
}

/** Like the nodejs language host: Pulumi.yaml `main`, else the directory's package.json "main", else index.{ts,js}. */
function resolveMain(projectDir: string, main: string | undefined): string {
  const base = path.resolve(projectDir, main ?? ".");
  if (fs.existsSync(base) && fs.statSync(base).isFile()) return base;
  const pkg = path.join(base, "package.json");
  if (fs.existsSync(pkg)) {
    const m = (JSON.parse(fs.readFileSync(pkg, "utf8")) as Obj).main as string | undefined;
    if (m) return path.resolve(base, m);
  }
  for (const c of ["index.ts", "index.js"]) if (fs.existsSync(path.join(base, c))) return path.join(base, c);
  throw new Error(`no program entry point found in ${base}`);
}

function findSecure(v: unknown, at: string): string | undefined {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const r = findSecure(v[i], `${at}[${i}]`);
      if (r) return r;
    }
  } else if (v && typeof v === "object") {
    const o = v as Obj;
    if (Object.keys(o).length === 1 && "secure" in o) return at;
    for (const [k, x] of Object.entries(o)) {
      const r = findSecure(x, `${at}.${k}`);
      if (r) return r;
    }
  }
  return undefined;
}

/** Config as the CLI passes it: "ns:key" -> string; objects and arrays as JSON (structured config). */
export function loadStackConfig(project: Project, stack: string): { config: Record<string, string>; secretKeys: string[] } {
  const f = path.join(project.dir, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(f)) throw new Error(`${f} not found (stack ${stack})`);
  const doc = (YAML.parse(fs.readFileSync(f, "utf8")) ?? {}) as Obj;
  if (doc.environment) throw new Error(`${f}: ESC environments (environment:) cannot be resolved by the e2e runner`);
  const values: Obj = {};
  // Project-level defaults from Pulumi.yaml `config:` (key: {default: v} or key: v).
  const projDoc = (YAML.parse(fs.readFileSync(path.join(project.dir, "Pulumi.yaml"), "utf8")) ?? {}) as Obj;
  for (const [k, spec] of Object.entries((projDoc.config as Obj | undefined) ?? {})) {
    const key = k.includes(":") ? k : `${project.name}:${k}`;
    const v = spec && typeof spec === "object" && !Array.isArray(spec) ? ((spec as Obj).default ?? (spec as Obj).value) : spec;
    if (v !== undefined) values[key] = v;
  }
  for (const [k, v] of Object.entries((doc.config as Obj | undefined) ?? {})) {
    values[k.includes(":") ? k : `${project.name}:${k}`] = v;
  }
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) {
    const secure = findSecure(v, k);
    if (secure) {
      throw new Error(`config ${secure} in ${path.basename(f)} is a secure (encrypted) value; the e2e runner cannot decrypt it. Use a plaintext value in a test stack.`);
    }
    if (v === null || v === undefined) continue;
    config[k] = typeof v === "object" ? JSON.stringify(v) : String(v);
  }
  return { config, secretKeys: SECRET_CONFIG_KEYS.filter((k) => k in config) };
}
