// Small helpers shared by the e2e runner: canonical JSON, secrets, processes, tar.
import { spawn } from "child_process";
import * as crypto from "crypto";

/** The Pulumi Node SDK wraps secret values as {[sigKey]: secretSig, value}. */
export const SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Obj = Record<string, any>;

export function isSecretWrapper(v: unknown): v is { value: unknown } {
  return typeof v === "object" && v !== null && (v as Obj)[SIG_KEY] === SECRET_SIG;
}

export function wrapSecret(value: unknown): Obj {
  return { [SIG_KEY]: SECRET_SIG, value };
}

/**
 * Removes the SDK's secret wrappers (at any depth). Returns the plain value and the
 * top-level keys that were (or contained) secrets, so outputs can be marked secret again.
 */
export function unwrapSecrets(inputs: Obj): { plain: Obj; secretKeys: string[] } {
  const secretKeys: string[] = [];
  const plain: Obj = {};
  for (const [k, v] of Object.entries(inputs)) {
    let found = false;
    const un = (x: unknown): unknown => {
      if (isSecretWrapper(x)) {
        found = true;
        return un(x.value);
      }
      if (Array.isArray(x)) return x.map(un);
      if (typeof x === "object" && x !== null) {
        if ((x as Obj)[SIG_KEY] !== undefined) {
          throw new Error(`unsupported special value in input ${k} (resource reference, asset or archive): ${JSON.stringify(x)}`);
        }
        const o: Obj = {};
        for (const [kk, vv] of Object.entries(x as Obj)) o[kk] = un(vv);
        return o;
      }
      return x;
    };
    plain[k] = un(v);
    if (found) secretKeys.push(k);
  }
  return { plain, secretKeys };
}

/** Deep copy with object keys sorted; undefined and null object members dropped. */
export function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => (x === undefined ? null : canonical(x)));
  if (typeof v === "object" && v !== null) {
    const o: Obj = {};
    for (const k of Object.keys(v as Obj).sort()) {
      const x = (v as Obj)[k];
      if (x === undefined || x === null) continue;
      o[k] = canonical(x);
    }
    return o;
  }
  return v;
}

export function canonicalJson(v: unknown): string {
  return JSON.stringify(canonical(v)) ?? "null";
}

/** True when a value counts as "not set" (what the Terraform SDK's GetOk treats as unset). */
export function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === "" || v === false || v === 0) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === "object") return Object.keys(v as Obj).length === 0;
  return false;
}

/** Drops null/undefined members (the providers unmarshal with SkipNulls). */
export function dropNulls(o: Obj): Obj {
  const r: Obj = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null) r[k] = v;
  return r;
}

/** resource.NewUniqueHex-style random suffix. */
export function randomHex(n: number): string {
  return crypto.randomBytes(Math.ceil(n / 2)).toString("hex").slice(0, n);
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved in arrival order */
  combined: string;
}

export interface RunOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
}

/** Runs a program without a shell and collects its output. Never throws for a non-zero exit. */
export function run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input !== undefined ? "pipe" : "ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const all: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    child.stdout!.on("data", (d: Buffer) => (out.push(d), all.push(d)));
    child.stderr!.on("data", (d: Buffer) => (err.push(d), all.push(d)));
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        combined: Buffer.concat(all).toString("utf8"),
      });
    });
    if (opts.input !== undefined) {
      child.stdin!.on("error", () => undefined); // the program may exit without reading stdin
      child.stdin!.end(opts.input);
    }
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A one-at-a-time queue: the runner performs one resource step at a time. */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/**
 * A one-file ustar archive, like the Terraform docker provider builds for `upload`
 * (tar.Header{Name: file, Mode: mode, Size: len}) and extracts at "/".
 */
export function tarSingleFile(path: string, content: Buffer, mode: number): Buffer {
  let name = path.replace(/^\/+/, "");
  let prefix = "";
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf("/", 155);
    if (cut <= 0 || Buffer.byteLength(name.slice(cut + 1)) > 100) throw new Error(`upload path too long for a tar header: ${path}`);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
  }
  const h = Buffer.alloc(512, 0);
  const put = (s: string, off: number, len: number) => h.write(s, off, Math.min(len, Buffer.byteLength(s)), "utf8");
  const oct = (n: number, len: number) => n.toString(8).padStart(len - 1, "0") + "\0";
  put(name, 0, 100);
  put(oct(mode & 0o7777, 8), 100, 8);
  put(oct(0, 8), 108, 8);
  put(oct(0, 8), 116, 8);
  put(oct(content.length, 12), 124, 12);
  put(oct(Math.floor(Date.now() / 1000), 12), 136, 12);
  put("        ", 148, 8);
  put("0", 156, 1);
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  put("root", 265, 32);
  put("root", 297, 32);
  put(prefix, 345, 155);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512, 0);
  return Buffer.concat([h, content, pad, Buffer.alloc(1024, 0)]);
}

/** Last n lines of a text. */
export function tail(text: string, n: number): string {
  const lines = text.replace(/\s+$/, "").split("\n");
  return lines.slice(-n).join("\n");
}
