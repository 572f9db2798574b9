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

  test("without the CLI it stops with one paragraph saying why and what to do, not a stack trace", async () => {
    const code = await runPulumi(["up"], () => Promise.reject(new Error("fetch failed")));
    expect(code).toBe(1);
    expect(stderr).toContain("the Pulumi CLI 3.265.0 is not available, so nothing was deployed");
    expect(stderr).toContain("(fetch failed)");
    expect(stderr).toContain("npm run render -- --stack dev");
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  test("with the CLI it selects or creates the stack on the local file backend, then runs the command", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-fake-pulumi-"));
    const log = path.join(dir, "calls.log");
    const fake = path.join(dir, "pulumi");
    fs.writeFileSync(fake, `#!/bin/sh\necho "$PULUMI_BACKEND_URL|$PULUMI_CONFIG_PASSPHRASE|$*" >> ${log}\n`, { mode: 0o755 });
    const saved = process.env.PULUMI_CONFIG_PASSPHRASE;
    delete process.env.PULUMI_CONFIG_PASSPHRASE;
    try {
      const code = await runPulumi(["up", "--stack", "e2e", "--skip-preview"], () => Promise.resolve(fake));
      expect(code).toBe(0);
    } finally {
      if (saved !== undefined) process.env.PULUMI_CONFIG_PASSPHRASE = saved;
    }
    const backend = `file://${path.resolve(__dirname, "../../.pulumi-state")}`;
    const confirm = process.stdout.isTTY ? "" : " --yes";
    expect(fs.readFileSync(log, "utf8").trim().split("\n")).toEqual([
      `${backend}||stack select e2e --create --non-interactive`,
      `${backend}||up --stack e2e${confirm} --skip-preview`,
    ]);
    expect(stderr).toContain("empty passphrase");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("an unknown command is a usage error", async () => {
    expect(await runPulumi(["deploy"], () => Promise.resolve("/bin/false"))).toBe(2);
  });
});
