import { spawnSync } from "child_process";
import WebSocket from "ws";
import { currentToolchain } from "../../scripts/toolchainPlan";

/** Helpers for the end-to-end suite: what it needs on this machine, and clients for what it deploys. */

export { PROJECT_DIR, stageApp } from "../../harness/apps";
export { HttpAnswer, eventually, freePort, httpGet, httpsGet } from "../../harness/net";

/** The local stand-ins the e2e stacks run on (test/images; `npm run images` builds them). */
export const LOCAL_IMAGES = {
  nginx: "wsenv-test/nginx:bookworm",
  php: "wsenv-test/php:apache-bookworm",
  node: "wsenv-test/node:bookworm",
  tomcat: "wsenv-test/tomcat:bookworm",
};

export function engineAnswers(): boolean {
  return spawnSync("docker", ["info"], { stdio: "ignore", timeout: 20_000 }).status === 0;
}

/** Why the suite cannot run here (no engine, no images, no toolchain), or undefined when it can. */
function missingForE2e(images: string[]): string | undefined {
  if (!engineAnswers()) return "no Docker engine answers `docker info` (start one, see .ci/run)";
  const missing = images.filter((image) => spawnSync("docker", ["image", "inspect", image], { stdio: "ignore" }).status !== 0);
  if (missing.length > 0) return `missing images ${missing.join(", ")}: run \`npm run images -- nginx php node tomcat\``;
  const toolchain = currentToolchain();
  if (toolchain.missing.length > 0) return `the Pulumi toolchain lacks ${toolchain.missing.map((p) => p.binary).join(", ")}: run \`npm run toolchain\``;
  return undefined;
}

/**
 * `describe` when the real engine can run here: a Docker engine, the local base images and the Pulumi
 * toolchain. Otherwise a loud skip, or a failure on CI (CI=true), where .ci/run must have provided them.
 */
export function describeWithEngine(name: string, body: () => void): void {
  const missing = missingForE2e(Object.values(LOCAL_IMAGES));
  if (!missing) return describe(name, body);
  if (process.env.CI === "true") {
    describe(name, () => test("the real engine can run (CI must provide it)", () => expect(missing).toBe("")));
    return;
  }
  console.warn(`\n*** SKIPPED e2e "${name}": ${missing}. ***\n`);
  describe.skip(name, body);
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

/** Names of the stack's containers, networks and images still on the engine. */
export function leftovers(prefix: string): string[] {
  const list = (...args: string[]) => spawnSync("docker", args, { encoding: "utf8" }).stdout.split("\n");
  const containers = list("ps", "-a", "--format", "{{.Names}}");
  const networks = list("network", "ls", "--format", "{{.Name}}");
  const images = list("images", "--format", "{{.Repository}}:{{.Tag}}");
  return [...containers, ...networks, ...images].filter((n) => n.startsWith(prefix));
}
