import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runPulumi } from "../../scripts/pulumi";

describe("npm run up / preview / destroy", () => {
  let stderr: string;
  let spy: jest.SpyInstance;
  beforeEach(() => {
    stderr = "";
    spy = jest.spyOn(process.stderr, "write").mockImplementation((chunk) => {
      stderr += String(chunk);
      return true;
    });
  });
  afterEach(() => spy.mockRestore());

  const noToolchain = (): string => {
    throw new Error("the toolchain in /cache lacks pulumi-language-nodejs");
  };

  test("without either CLI it stops with one paragraph naming both ways and why each failed, not a stack trace", async () => {
    const code = await runPulumi(["up"], () => Promise.reject(new Error("fetch failed")), noToolchain);
    expect(code).toBe(1);
    expect(stderr).toContain("no Pulumi CLI with its Node.js language host is available, so nothing was deployed");
    expect(stderr).toContain("`pulumi` npm package (3.265.0, pinned in package.json)");
    expect(stderr).toContain("(fetch failed)");
    expect(stderr).toContain("`npm run toolchain` builds");
    expect(stderr).toContain("here the toolchain in /cache lacks pulumi-language-nodejs");
    expect(stderr).toContain("npm run render -- --stack dev");
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  /** A stand-in CLI that logs its environment and arguments; returns its path and the log's lines. */
  function fakeCli(): { cli: string; calls: () => string[]; cleanup: () => void } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-fake-pulumi-"));
    const log = path.join(dir, "calls.log");
    const cli = path.join(dir, "pulumi");
    const line = "$PULUMI_BACKEND_URL|$PULUMI_CONFIG_PASSPHRASE|$PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION|$*";
    fs.writeFileSync(cli, `#!/bin/sh\necho "${line}" >> ${log}\n`, { mode: 0o755 });
    return { cli, calls: () => fs.readFileSync(log, "utf8").trim().split("\n"), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
  }

  async function withoutPassphrase<T>(body: () => Promise<T>): Promise<T> {
    const saved = process.env.PULUMI_CONFIG_PASSPHRASE;
    delete process.env.PULUMI_CONFIG_PASSPHRASE;
    try {
      return await body();
    } finally {
      if (saved !== undefined) process.env.PULUMI_CONFIG_PASSPHRASE = saved;
    }
  }

  const backend = `file://${path.resolve(__dirname, "../../.pulumi-state")}`;
  const confirm = process.stdout.isTTY ? "" : " --yes";

  test("with the npm package's CLI it selects or creates the stack on the local file backend, then runs the command", async () => {
    const fake = fakeCli();
    const code = await withoutPassphrase(() => runPulumi(["up", "--stack", "e2e", "--skip-preview"], () => Promise.resolve(fake.cli), noToolchain));
    expect(code).toBe(0);
    expect(fake.calls()).toEqual([
      `${backend}|||stack select e2e --create --non-interactive`,
      `${backend}|||up --stack e2e${confirm} --skip-preview`,
    ]);
    expect(stderr).toContain("empty passphrase");
    fake.cleanup();
  });

  test("when the npm package cannot fetch its CLI, the toolchain's CLI runs, with plugin downloads off", async () => {
    const fake = fakeCli();
    const code = await withoutPassphrase(() => runPulumi(["preview"], () => Promise.reject(new Error("fetch failed")), () => fake.cli));
    expect(code).toBe(0);
    expect(fake.calls()).toEqual([`${backend}||true|stack select dev --create --non-interactive`, `${backend}||true|preview --stack dev`]);
    fake.cleanup();
  });

  test("an unknown command is a usage error", async () => {
    expect(await runPulumi(["deploy"], () => Promise.resolve("/bin/false"))).toBe(2);
  });
});
