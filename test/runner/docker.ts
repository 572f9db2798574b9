// The docker CLI, called without a shell. The legacy builder is forced for builds (BuildKit is unavailable here).
import { run, RunResult, RunOptions, Obj } from "./util";

export class DockerError extends Error {
  constructor(
    readonly args: string[],
    readonly result: RunResult,
  ) {
    super(`docker ${args.join(" ")} failed (exit ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`);
  }
}

export async function docker(args: string[], opts: RunOptions = {}): Promise<string> {
  const r = await dockerRaw(args, opts);
  if (r.code !== 0) throw new DockerError(args, r);
  return r.stdout.trim();
}

export function dockerRaw(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const env = { ...(opts.env ?? process.env), DOCKER_BUILDKIT: "0" };
  return run("docker", args, { ...opts, env });
}

/** docker inspect for one object, or undefined when it does not exist. */
export async function inspect(kind: "container" | "network" | "volume" | "image", ref: string): Promise<Obj | undefined> {
  const r = await dockerRaw([kind, "inspect", ref]);
  if (r.code !== 0) {
    if (/no such|not found/i.test(r.stderr)) return undefined;
    throw new DockerError([kind, "inspect", ref], r);
  }
  const arr = JSON.parse(r.stdout) as Obj[];
  return arr[0];
}

export function isNotFound(e: unknown): boolean {
  return e instanceof DockerError && /no such|not found/i.test(e.result.stderr);
}

export async function engineAnswers(): Promise<boolean> {
  try {
    const r = await run("docker", ["version", "--format", "{{.Server.Version}}"], { timeoutMs: 15000 });
    return r.code === 0 && r.stdout.trim() !== "";
  } catch {
    return false;
  }
}
