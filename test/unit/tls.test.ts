import * as fs from "fs";
import * as path from "path";
import { renderBalancerFiles } from "../../lib/nginx";
import { ConfigError } from "../../lib/errors";
import { parseWsenvConfig } from "../../lib/schema";
import { specFromConfigMap } from "../../lib/stackConfig";
import { certificateExpiry, checkTlsKey, tlsFileName } from "../../lib/tls";
import { runProgram } from "../support/programUnderMocks";

const tlsFile = (name: string) => fs.readFileSync(path.join(__dirname, "../fixtures/tls", name), "utf8");
const [certA, keyA, certB, keyB] = [tlsFile("a.crt"), tlsFile("a.key"), tlsFile("b.crt"), tlsFile("b.key")];
const app = { source: "./apps/chat-php", wsCommand: "php server.php" };
const problems = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.lines("wsenv:");
    throw err;
  }
  return [];
};

describe("the certificate and its key", () => {
  test("a key that belongs to the certificate passes; another, or no key at all, is refused without showing it", () => {
    expect(() => checkTlsKey(certA, keyA)).not.toThrow();
    const mismatch = problems(() => checkTlsKey(certA, keyB));
    expect(mismatch).toEqual(["wsenv:tlsKey: is not the key of wsenv:balancer.tls.certificate (got a secret that belongs to another certificate)"]);
    expect(problems(() => checkTlsKey(certA, "not a key"))).toEqual([expect.stringMatching(/^wsenv:tlsKey: must be a PEM private key/)]);
    expect(JSON.stringify(mismatch)).not.toContain("PRIVATE KEY");
  });

  test("files are named by the certificate, and its expiry is read from it", () => {
    expect(tlsFileName(certA)).toMatch(/^wsenv-[0-9a-f]{16}$/);
    expect(tlsFileName(certA)).toBe(tlsFileName(certA));
    expect(tlsFileName(certB)).not.toBe(tlsFileName(certA));
    expect(certificateExpiry(certA)).toMatch(/^2126-/);
  });

  test("the schema wants a PEM certificate, a key with it (and none without it) and two different ports", () => {
    expect(problems(() => parseWsenvConfig({ app, balancer: { tls: { certificate: "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n" } }, tlsKey: "k" }))).toEqual([
      expect.stringMatching(/^wsenv:balancer\.tls\.certificate: must be a PEM certificate/),
    ]);
    expect(problems(() => parseWsenvConfig({ app, balancer: { tls: { certificate: certA } } }))).toEqual([expect.stringMatching(/^wsenv:tlsKey: is required when wsenv:balancer\.tls is set/)]);
    expect(problems(() => parseWsenvConfig({ app, tlsKey: keyA }))).toEqual([expect.stringMatching(/^wsenv:tlsKey: applies only with wsenv:balancer\.tls/)]);
    expect(problems(() => parseWsenvConfig({ app, balancer: { port: 8443, tls: { certificate: certA } }, tlsKey: keyA }))).toEqual([expect.stringMatching(/^wsenv:balancer\.tls\.port: must differ/)]);
  });

  test("in the stack config the key must be a secret, and is the one secret besides secretEnv", () => {
    const config = { "wsenv:app": app, "wsenv:balancer": { tls: { certificate: certA } }, "wsenv:tlsKey": keyA };
    expect(problems(() => specFromConfigMap(config))).toEqual([expect.stringMatching(/^wsenv:tlsKey: must be a secret: set it with `pulumi config set --secret wsenv:tlsKey < key.pem`/)]);
    expect(problems(() => specFromConfigMap(config, ["wsenv:tlsKey"]))).toEqual([]);
  });
});

describe("the TLS config nginx gets", () => {
  const spec = (tls: Record<string, unknown>) => parseWsenvConfig({ app, balancer: { tls: { certificate: certA, ...tls } }, tlsKey: keyA });
  const render = (tls: Record<string, unknown>) => {
    const s = spec(tls);
    return renderBalancerFiles({ stackName: "dev", balancer: s.balancer, httpPort: 80, wsPort: 8000, nodeHosts: ["n0"], tlsFileName: tlsFileName(certA) }).nginxConf;
  };

  test("HTTPS on 443 with HTTP/2, TLS 1.2 and 1.3 only, the certificate's files; plain HTTP redirects, health excepted", () => {
    const conf = render({});
    expect(conf).toContain("listen 443 ssl http2 default_server;");
    expect(conf).toContain(`ssl_certificate /etc/nginx/wsenv-tls/${tlsFileName(certA)}.crt;`);
    expect(conf).toContain(`ssl_certificate_key /etc/nginx/wsenv-tls/${tlsFileName(certA)}.key;`);
    expect(conf).toContain("ssl_protocols TLSv1.2 TLSv1.3;");
    expect(conf).toContain("return 308 https://$host:8443$request_uri;");
    const plain = conf.slice(0, conf.indexOf("listen 443"));
    expect(plain).toContain("location = /_wsenv/health {");
    expect(plain).not.toContain("proxy_pass");
    expect(conf).not.toContain("Strict-Transport-Security");
  });

  test("redirectHttp: false serves both; hsts adds the header in every location, which add_header would drop", () => {
    const both = render({ redirectHttp: false, hsts: true });
    expect(both).not.toContain("return 308");
    expect(both.match(/proxy_pass http:\/\/wsenv_http;/g)).toHaveLength(2);
    const headers = both.match(/add_header Strict-Transport-Security \$wsenv_hsts always;/g) ?? [];
    // The HTTPS server block, and the websocket location and location / of both servers.
    expect(headers).toHaveLength(5);
    // Sent over HTTPS only: the value is empty on plain HTTP.
    expect(both).toContain('map $scheme $wsenv_hsts {\n        https "max-age=31536000";\n        default "";\n    }');
  });
});

describe("TLS in the program under mocks", () => {
  jest.setTimeout(60_000);
  const config = { "wsenv:app": app, "wsenv:balancer": { port: 8080, tls: { certificate: certA } }, "wsenv:tlsKey": keyA };

  test("the key goes to the TLS step on stdin as a secret, never into a container input or environment value", async () => {
    const { registrations, outputs, error } = await runProgram(config, "dev", ["wsenv:tlsKey"]);
    expect(error).toBeUndefined();
    const tlsStep = registrations.find((r) => r.name === "wsenv-balancer-tls")!;
    expect(tlsStep.secretInputs).toEqual(["stdin"]);
    expect(Buffer.from(String(JSON.stringify(tlsStep.inputs.stdin)).split("\\n")[2] ?? "", "base64").toString()).toContain("PRIVATE KEY");
    const keyBody = keyA.split("\n")[1];
    for (const r of registrations.filter((reg) => reg !== tlsStep)) expect(JSON.stringify(r.inputs)).not.toContain(keyBody);
    const balancer = registrations.find((r) => r.name === "wsenv-balancer-container")!;
    expect(balancer.inputs.ports).toEqual([
      { internal: 80, external: 8080, ip: "0.0.0.0" },
      { internal: 443, external: 8443, ip: "0.0.0.0" },
    ]);
    expect(outputs.tls).toEqual({ url: "https://localhost:8443/", wsUrl: "wss://localhost:8443/ws/", certificateExpiry: certificateExpiry(certA) });
  });

  test("a key of another certificate stops the program before any resource, naming the key, not showing it", async () => {
    const run = await runProgram({ ...config, "wsenv:tlsKey": keyB }, "dev", ["wsenv:tlsKey"]);
    expect(run.error?.message).toContain("wsenv:tlsKey: is not the key of wsenv:balancer.tls.certificate");
    expect(run.registrations.filter((r) => r.custom)).toEqual([]);
  });
});
