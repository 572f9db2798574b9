import { createHash, X509Certificate } from "crypto";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { chromium } from "playwright-core";
import { LOCAL_IMAGES, PROJECT_DIR, describeWithEngine, eventually, freePort, httpGet, httpsGet, leftovers } from "../support/e2e";
import { EngineStack, Run, changes } from "../../harness/engine";
import { LiveTraffic } from "../support/load";

// HTTPS and wss:// on the balancer with the test CA's certificates (test/fixtures/tls): the chat in a
// real browser, a certificate rotation under 200 live sockets, and a key of another certificate.
const STACK = "e2e-tls";
const SOCKETS = 200;
const pem = (name: string) => fs.readFileSync(path.join(PROJECT_DIR, "test/fixtures/tls", name), "utf8");
const CA = pem("ca.crt");
const fingerprint = (cert: string) => new X509Certificate(cert).fingerprint256;
/** Chromium trusts exactly these server keys (the base64 SHA-256 of each certificate's public key). */
const spki = (cert: string) => createHash("sha256").update(new X509Certificate(cert).publicKey.export({ type: "spki", format: "der" })).digest("base64");

describeWithEngine("TLS on the balancer", () => {
  jest.setTimeout(300_000);
  let httpPort: number;
  let httpsPort: number;
  let tls: Record<string, unknown>;
  let key: string;
  let first: Run;
  let stack: EngineStack;

  // The key is set as a secret (`pulumi config set --secret`): ciphertext in the stack file.
  const write = () =>
    stack.configure(
      {
        "wsenv:balancer": { port: httpPort, listenAddress: "127.0.0.1", image: LOCAL_IMAGES.nginx, workerConnections: 8192, tls: { port: httpsPort, ...tls } },
        "wsenv:app": { stack: "apache-php", image: LOCAL_IMAGES.php, nodes: 2, wsCommand: "php server.php", source: "./apps/chat-php", env: { CHAT_PING_INTERVAL: "600" } },
      },
      { "wsenv:tlsKey": key },
    );
  const httpsUrl = () => `https://127.0.0.1:${httpsPort}/`;

  beforeAll(async () => {
    [httpPort, httpsPort] = [await freePort(), await freePort()];
    tls = { certificate: pem("a.crt") };
    key = pem("a.key");
    stack = await EngineStack.open(STACK);
    await write();
    first = EngineStack.ok(await stack.up());
  });

  afterAll(async () => {
    await stack?.remove();
  });

  test("the outputs give the https and wss URLs and the certificate's expiry", () => {
    expect(first.outputs.tls).toEqual({
      url: `https://localhost:${httpsPort}/`,
      wsUrl: `wss://localhost:${httpsPort}/ws/`,
      certificateExpiry: new Date(new X509Certificate(pem("a.crt")).validTo).toISOString(),
    });
  });

  test("HTTPS answers with the configured certificate, trusted through the test CA; plain HTTP redirects to it", async () => {
    const page = await eventually(() => httpsGet(httpsUrl(), CA), 30_000);
    expect(page.status).toBe(200);
    expect(page.certificateFingerprint).toBe(fingerprint(pem("a.crt")));
    const plain = await httpGet(`http://127.0.0.1:${httpPort}/some/page?x=1`);
    expect(plain.status).toBe(308);
    expect(plain.headers.location).toBe(`https://127.0.0.1:${httpsPort}/some/page?x=1`);
  });

  test("a preview then expects no change", async () => {
    EngineStack.ok(await stack.preview({ expectNoChanges: true }));
  });

  test("the key is in no container input, environment, log, stack file or state in plain text, and only root can read it in the balancer", async () => {
    const keyLine = key.split("\n")[1];
    const inspect = spawnSync("docker", ["inspect", `wsenv-${STACK}-balancer`], { encoding: "utf8" }).stdout;
    expect(inspect).not.toContain(keyLine);
    expect(first.messages).not.toContain(keyLine);
    expect(fs.readFileSync(path.join(PROJECT_DIR, `Pulumi.${STACK}.yaml`), "utf8")).not.toContain(keyLine);
    // The key travels to the balancer base64-encoded on the command's stdin: neither form is stored in clear.
    const stored = stack.storedState();
    expect(stored).not.toContain(keyLine);
    expect(stored).not.toContain(Buffer.from(key).toString("base64").slice(0, 64));
    expect(JSON.stringify(await stack.exportState())).toContain(Buffer.from(key).toString("base64").slice(0, 64)); // what the check would find
    const listing = spawnSync("docker", ["exec", `wsenv-${STACK}-balancer`, "sh", "-c", "stat -c '%a %U %n' /etc/nginx/wsenv-tls /etc/nginx/wsenv-tls/*.key"], { encoding: "utf8" }).stdout.trim().split("\n");
    expect(listing).toEqual([expect.stringMatching(/^700 root /), expect.stringMatching(/^600 root .*\.key$/)]);
  });

  test("the chat in a real browser over https:// and wss://, trusting only the test certificates", async () => {
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", `--ignore-certificate-errors-spki-list=${spki(pem("a.crt"))},${spki(pem("b.crt"))}`],
    });
    try {
      const context = await browser.newContext();
      const [one, two] = [await context.newPage(), await context.newPage()];
      for (const page of [one, two]) {
        await page.goto(httpsUrl());
        await page.waitForSelector("#status:text('connected')", { timeout: 20_000 });
        expect(page.url()).toMatch(/^https:\/\//);
      }
      await one.fill("#name", "tab-one");
      await one.fill("#text", "over wss");
      await one.click("#send");
      await two.waitForSelector("#messages li:has-text('over wss')", { timeout: 10_000 });
    } finally {
      await browser.close();
    }
  });

  test("a certificate rotation is a reload: 200 live wss sockets stay, the new certificate serves", async () => {
    const traffic = new LiveTraffic(`http://127.0.0.1:${httpPort}/_wsenv/health`, `wss://127.0.0.1:${httpsPort}/ws/`, CA);
    await traffic.start(SOCKETS);
    tls = { certificate: pem("b.crt") };
    key = pem("b.key");
    await write();
    const up = await stack.up();
    await new Promise((r) => setTimeout(r, 1500));
    const report = await traffic.stop();
    expect(changes(EngineStack.ok(up))).toEqual([
      "update command:local:Command wsenv-balancer-tls",
      "update command:local:Command wsenv-balancer-config",
    ]);
    expect([report.closes, report.httpFailed]).toEqual([{}, 0]);
    expect((await httpsGet(httpsUrl(), CA)).certificateFingerprint).toBe(fingerprint(pem("b.crt")));
  });

  test("a key of another certificate fails the up before anything changes; the serving certificate stays", async () => {
    tls = { certificate: pem("a.crt") };
    key = pem("b.key");
    await write();
    const up = await stack.up();
    expect(up.ok).toBe(false);
    expect(changes(up)).toEqual([]);
    expect(up.messages).toContain("wsenv:tlsKey: is not the key of wsenv:balancer.tls.certificate");
    expect(up.messages).not.toContain(pem("b.key").split("\n")[1]);
    expect((await httpsGet(httpsUrl(), CA)).certificateFingerprint).toBe(fingerprint(pem("b.crt")));
  });

  test("destroy leaves nothing of the stack", async () => {
    EngineStack.ok(await stack.destroy());
    expect(leftovers(`wsenv-${STACK}-`)).toEqual([]);
  });
});
