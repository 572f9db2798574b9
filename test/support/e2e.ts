import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as net from "net";
import * as path from "path";
import WebSocket from "ws";
import { stringify } from "yaml";

/** Helpers for the end-to-end suite: stacks applied to the real engine through the e2e runner. */

export const PROJECT_DIR = path.resolve(__dirname, "../..");
/** The local stand-ins the e2e stacks run on (test/images; `npm run images` builds them). */
export const LOCAL_IMAGES = {
  nginx: "wsenv-test/nginx:bookworm",
  php: "wsenv-test/php:apache-bookworm",
  node: "wsenv-test/node:bookworm",
};

export function engineAnswers(): boolean {
  return spawnSync("docker", ["info"], { stdio: "ignore", timeout: 20_000 }).status === 0;
}

/**
 * `describe` when a Docker engine answers; otherwise a loud skip, or a failure on CI (CI=true), where
 * .ci/run must have started one. Missing local images fail with what to run.
 */
export function describeWithEngine(name: string, body: () => void): void {
  if (!engineAnswers()) {
    if (process.env.CI === "true") {
      describe(name, () => test("a Docker engine answers (CI must start one)", () => expect("no Docker engine answers `docker info`").toBe("")));
      return;
    }
    console.warn(`\n*** SKIPPED e2e "${name}": no Docker engine answers \`docker info\`. Start one (see .ci/run) to run it. ***\n`);
    describe.skip(name, body);
    return;
  }
  const missing = Object.values(LOCAL_IMAGES).filter((image) => spawnSync("docker", ["image", "inspect", image], { stdio: "ignore" }).status !== 0);
  if (missing.length > 0) {
    describe(name, () => test("the local base images exist", () => expect(`missing ${missing.join(", ")}: run \`npm run images -- nginx php node\``).toBe("")));
    return;
  }
  describe(name, body);
}

/** The Tomcat stand-in: built by `npm run images` (all four), left out of CI's image builds for time. */
export const TOMCAT_IMAGE = "wsenv-test/tomcat:bookworm";

/**
 * Like {@link describeWithEngine}, for a suite that also needs an image CI does not build: without it the
 * suite is skipped, loudly, saying how to build it.
 */
export function describeWithEngineAndImage(name: string, image: string, body: () => void): void {
  if (engineAnswers() && spawnSync("docker", ["image", "inspect", image], { stdio: "ignore" }).status !== 0) {
    console.warn(`\n*** SKIPPED e2e "${name}": no image ${image}. Build it with \`npm run images -- ${image.replace(/^.*\/(\w+):.*$/, "$1")}\` to run it. ***\n`);
    describe.skip(name, body);
    return;
  }
  describeWithEngine(name, body);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A copy of an app of test/e2e/fixtures inside the project (in its ignored .wsenv/), as a folder source
 * must be; with `withWs`, the project's `ws` copied into its node_modules (containers here cannot install
 * from the registry). The caller removes it.
 */
export function stageFixtureApp(fixture: string, opts: { withWs?: boolean } = {}): string {
  fs.mkdirSync(path.join(PROJECT_DIR, ".wsenv"), { recursive: true });
  const app = fs.mkdtempSync(path.join(PROJECT_DIR, ".wsenv", `${fixture}-`));
  fs.cpSync(path.join(PROJECT_DIR, "test/e2e/fixtures", fixture), app, { recursive: true });
  if (opts.withWs) fs.cpSync(path.join(PROJECT_DIR, "node_modules/ws"), path.join(app, "node_modules/ws"), { recursive: true });
  return app;
}

/** Writes `Pulumi.<stack>.yaml` (gitignored pattern `Pulumi.e2e-*.yaml`) for a test stack. */
export function writeStack(stack: string, config: Record<string, unknown>): void {
  fs.writeFileSync(path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`), stringify({ config }));
}

export function removeStackFile(stack: string): void {
  fs.rmSync(path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`), { force: true });
}

export interface RunnerResult {
  code: number;
  /** `create|update|replace|delete|same TYPE NAME ...` lines. */
  lines: string[];
  outputs: Record<string, unknown>;
  stdout: string;
  stderr: string;
}

/**
 * Runs `tsx test/runner/cli.ts <verb> --stack <stack>`, as `npm run e2e:up|e2e:down` does, in this
 * project or in `projectDir` (another Pulumi project, such as one that installed the packed library).
 * `onStart` gets the process's pid (the bench samples its memory).
 */
export function runner(
  verb: "up" | "down",
  stack: string,
  timeoutMs = 240_000,
  env: NodeJS.ProcessEnv = {},
  projectDir = PROJECT_DIR,
  onStart?: (pid: number) => void,
): Promise<RunnerResult> {
  return new Promise((resolve) => {
    const child = spawn(path.join(PROJECT_DIR, "node_modules/.bin/tsx"), [path.join(PROJECT_DIR, "test/runner/cli.ts"), verb, "--stack", stack], {
      cwd: projectDir,
      env: { ...process.env, ...env },
    });
    if (child.pid && onStart) onStart(child.pid);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      const all = stdout.trim().split("\n").filter(Boolean);
      let outputs: Record<string, unknown> = {};
      if (verb === "up" && code === 0) outputs = JSON.parse(all[all.length - 1]);
      const lines = all.filter((l) => /^(create|update|replace|delete|same) /.test(l));
      resolve({ code: code ?? -1, lines, outputs, stdout, stderr });
    });
  });
}

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** GET over HTTPS trusting `ca` only; also says which certificate the server presented. */
export function httpsGet(url: string, ca: string, timeoutMs = 10_000): Promise<HttpAnswer & { certificateFingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, agent: false, timeout: timeoutMs }, (res) => {
      const certificateFingerprint = (res.socket as import("tls").TLSSocket).getPeerCertificate().fingerprint256;
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, certificateFingerprint }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
  });
}

export function httpGet(url: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
  });
}

/** Polls until `check` resolves truthy, or fails after `timeoutMs` with the last error. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 30_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`not reached within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ""}`);
}

/** A chat client: every JSON message it received, and a way to wait for one. */
export class ChatClient {
  readonly messages: Record<string, unknown>[] = [];
  closeCode: number | null = null;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      this.messages.push(JSON.parse(String(data)));
      this.waiters.splice(0).forEach((w) => w());
    });
    socket.on("close", (code) => {
      this.closeCode = code;
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  /** `ca`: for wss://, the CA to trust (the test CA), instead of the system's. */
  static open(url: string, headers: Record<string, string> = {}, timeoutMs = 10_000, ca?: string): Promise<ChatClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers, handshakeTimeout: timeoutMs, ...(ca ? { ca } : {}) });
      const client = new ChatClient(socket);
      socket.once("open", () => resolve(client));
      socket.once("error", reject);
    });
  }

  get welcomeNode(): string | undefined {
    return this.messages.find((m) => m.type === "welcome")?.node as string | undefined;
  }

  send(name: string, text: string): void {
    this.socket.send(JSON.stringify({ type: "message", name, text }));
  }

  waitFor(predicate: (m: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching message within ${timeoutMs} ms (got ${JSON.stringify(this.messages).slice(0, 300)})`)), timeoutMs);
      const check = () => {
        const found = this.messages.find(predicate);
        if (found) {
          clearTimeout(timer);
          resolve(found);
        } else if (this.closeCode !== null) {
          clearTimeout(timer);
          reject(new Error(`socket closed with ${this.closeCode}`));
        } else {
          this.waiters.push(check);
        }
      };
      check();
    });
  }

  close(): void {
    this.socket.terminate();
  }
}

/** Every process of a running container as the host's ps sees it: numeric uid and command line. */
export function containerProcesses(container: string): { uid: number; args: string }[] {
  // Docker needs the pid column to map host processes to the container.
  const lines = spawnSync("docker", ["top", container, "-eo", "pid,uid,args"], { encoding: "utf8" }).stdout.trim().split("\n").slice(1);
  return lines.map((line) => {
    const [, uid, args] = /^\s*\d+\s+(\d+)\s+(.*)$/.exec(line) ?? ["", "-1", line];
    return { uid: Number(uid), args };
  });
}

/** Names of the stack's containers and networks still on the engine. */
export function leftovers(prefix: string): string[] {
  const containers = spawnSync("docker", ["ps", "-a", "--format", "{{.Names}}"], { encoding: "utf8" }).stdout.split("\n");
  const networks = spawnSync("docker", ["network", "ls", "--format", "{{.Name}}"], { encoding: "utf8" }).stdout.split("\n");
  return [...containers, ...networks].filter((n) => n.startsWith(prefix));
}
