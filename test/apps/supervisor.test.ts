import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { SUPERVISOR_SCRIPT } from "../../lib/appImage";
import { eventually } from "../support/e2e";

// The node's main process, run with dash (the /bin/sh of the Debian-based official images).
let dir: string;
let script: string;
const read = (file: string) => (fs.existsSync(path.join(dir, file)) ? fs.readFileSync(path.join(dir, file), "utf8") : "");

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-supervise-"));
  script = path.join(dir, "wsenv-supervise");
  fs.writeFileSync(script, SUPERVISOR_SCRIPT, { mode: 0o755 });
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A fake server: records its start and the signal that stopped it, then exits with `code` (by itself after 10 s). */
const fakeServer = (name: string, code = 0) =>
  `trap 'echo "$0 got TERM" >> ${dir}/${name}; exit ${code}' TERM; trap 'echo "$0 got WINCH" >> ${dir}/${name}; exit ${code}' WINCH; echo start >> ${dir}/${name}; for i in $(seq 100); do sleep 0.1; done`;

function supervise(wsCommand: string, server: string, env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn("/bin/sh", [script, "sh", "-c", server, "server"], {
    env: { ...process.env, WSENV_WS_COMMAND: wsCommand, WSENV_CONTEXT_DIR: dir, ...env },
    // stderr to a file: a pipe would keep jest waiting on any straggler that inherited it.
    stdio: ["ignore", "ignore", fs.openSync(path.join(dir, "stderr"), "w")],
  });
}
const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));

describe("wsenv-supervise", () => {
  jest.setTimeout(20_000);

  test("runs the socket server in the context folder beside the stack's server", async () => {
    const child = supervise(`pwd > ${dir}/ws-cwd; ${fakeServer("ws")}`, fakeServer("http"));
    await eventually(async () => read("ws").includes("start") && read("http").includes("start"), 5000, 50);
    expect(read("ws-cwd").trim()).toBe(fs.realpathSync(dir));
    child.kill("SIGTERM");
    await exited(child);
  });

  test("restarts the socket server whenever it exits, and logs why", async () => {
    const child = supervise(`echo start >> ${dir}/ws; exit 3`, fakeServer("http"));
    await eventually(async () => read("ws").split("start").length > 3, 8000, 100);
    expect(read("stderr")).toContain("socket server exited with status 3; restarting in 1 s");
    child.kill("SIGTERM");
    await exited(child);
  });

  test("a stop signal reaches both servers: the socket server can say goodbye (1001) before the node stops", async () => {
    const child = supervise(fakeServer("ws"), fakeServer("http", 7));
    await eventually(async () => read("ws").includes("start") && read("http").includes("start"), 5000, 50);
    child.kill("SIGWINCH"); // php:apache's STOPSIGNAL, forwarded as is to Apache
    expect(await exited(child)).toBe(7);
    expect(read("http")).toContain("got WINCH");
    expect(read("ws")).toContain("got TERM");
  });

  test("when the stack's server dies the node exits with its status, so the restart policy takes over", async () => {
    // The server dies once the socket server runs (before, there would be nothing to stop).
    const child = supervise(fakeServer("ws"), `while ! grep -q start ${dir}/ws 2>/dev/null; do sleep 0.05; done; exit 5`);
    expect(await exited(child)).toBe(5);
    expect(read("ws")).toContain("got TERM");
  });

  test("without a wsCommand only the stack's server runs", async () => {
    const child = supervise("", fakeServer("http"));
    await eventually(async () => read("http").includes("start"), 5000, 50);
    child.kill("SIGTERM");
    expect(await exited(child)).toBe(0);
    expect(read("ws")).toBe("");
  });

  // As the node runs it: the supervisor as root, switching the socket server to the stack's user.
  (process.getuid?.() === 0 ? test : test.skip)("as root, the socket server runs as WSENV_WS_USER, the stack's server as root", async () => {
    fs.chmodSync(dir, 0o777);
    const child = supervise(`id -un > ${dir}/ws-user; ${fakeServer("ws")}`, `id -un > ${dir}/http-user; ${fakeServer("http")}`, { WSENV_WS_USER: "www-data" });
    await eventually(async () => read("ws").includes("start") && read("http").includes("start"), 5000, 50);
    expect([read("ws-user").trim(), read("http-user").trim()]).toEqual(["www-data", "root"]);
    child.kill("SIGTERM");
    expect(await exited(child)).toBe(0);
    expect(read("ws")).toContain("got TERM");
  });
});
