import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { applyStdin, renderApplyScript } from "../../lib/balancerApply";
import { NGINX_IMAGE_LAYOUT } from "../../lib/presets";
import { tempDir } from "../support/nginxBinary";

// The config step's script, run by /bin/sh as the command provider runs it, against a stand-in `docker`
// that executes "in the container" on this host, and a stand-in `nginx -t` that rejects a config
// containing the word `reject_me`. The layout points the live files into a temp folder.
function setup() {
  const dir = tempDir("wsenv-apply-");
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  const layout = { ...NGINX_IMAGE_LAYOUT, confFile: path.join(dir, "nginx.conf"), snippetFile: path.join(dir, "snippet.conf") };
  fs.writeFileSync(path.join(dir, "nginx.conf"), "old conf\n");
  fs.writeFileSync(path.join(dir, "snippet.conf"), "old snippet\n");
  const docker = `#!/bin/sh
case "$1" in
  exec) shift; [ "$1" = -i ] && shift; shift
        case "$*" in *dev/tcp*) echo "HTTP/1.0 200 OK"; echo; echo "ok wsenv-config=$WSENV_REVISION"; exit 0;; esac
        exec "$@";;
  kill) echo "$*" >> "${dir}/kills";;
  logs) echo "no logs";;
esac
`;
  fs.writeFileSync(path.join(bin, "docker"), docker, { mode: 0o755 });
  fs.writeFileSync(path.join(bin, "nginx"), `#!/bin/sh\nif grep -q reject_me ${layout.confFile} ${layout.snippetFile}; then echo 'nginx: [emerg] unknown directive "reject_me"'; exit 1; fi\n`, { mode: 0o755 });
  const apply = (files: { nginxConf: string; snippet: string }) =>
    spawnSync("/bin/sh", ["-c", renderApplyScript(layout)], {
      input: applyStdin(files),
      encoding: "utf8",
      env: { PATH: `${bin}:${process.env.PATH}`, WSENV_BALANCER: "b", WSENV_REVISION: "r1", WSENV_HEALTH_PATH: "/_wsenv/health", WSENV_UPSTREAM_ADDRESSES: "10.0.0.2 10.0.0.3" },
    });
  const live = () => [fs.readFileSync(layout.confFile, "utf8"), fs.readFileSync(layout.snippetFile, "utf8")];
  return { dir, apply, live };
}

describe("the balancer config step", () => {
  test("files far larger than an environment value may be, arrive byte for byte, then one graceful reload", () => {
    const t = setup();
    // 300 KB of multi-byte text: an environment value of this size fails exec with "Argument list too long".
    const nginxConf = `# ${"é€ upstream x;\n".repeat(20000)}`;
    const snippet = "add_header X-A \"ü\";\n";
    const result = t.apply({ nginxConf, snippet });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("serves config r1 for the nodes at 10.0.0.2 10.0.0.3");
    expect(t.live()).toEqual([nginxConf, snippet]);
    expect(fs.readFileSync(path.join(t.dir, "kills"), "utf8")).toBe("kill --signal HUP b\n");
    fs.rmSync(t.dir, { recursive: true, force: true });
  });

  test("a config nginx rejects puts the previous files back, never reloads, and fails with nginx's message", () => {
    const t = setup();
    const result = t.apply({ nginxConf: "new conf\n", snippet: "reject_me;\n" });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('unknown directive "reject_me"');
    expect(result.stderr).toContain("keeps serving the previous one");
    expect(t.live()).toEqual(["old conf\n", "old snippet\n"]);
    expect(fs.existsSync(path.join(t.dir, "kills"))).toBe(false);
    fs.rmSync(t.dir, { recursive: true, force: true });
  });
});
