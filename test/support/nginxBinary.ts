import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { NGINX_IMAGE_LAYOUT, NginxLayout } from "../../lib/presets";

/** The host's nginx (Debian nginx-light), or null. Tests that need it skip loudly without it, and fail on CI. */
export function findNginx(): string | null {
  for (const candidate of ["/usr/sbin/nginx", "/usr/bin/nginx"]) if (fs.existsSync(candidate)) return candidate;
  return null;
}

export function requireOrSkip(what: string, present: boolean): boolean {
  if (present) return true;
  if (process.env.CI === "true") throw new Error(`${what} is required on CI (.ci/run installs it)`);
  console.warn(`SKIPPED: ${what} is not installed here; install it (see .ci/run) to run these tests`);
  return false;
}

/** A layout in a fresh temp folder, with the host's worker user, for checking configs outside a container. */
export function hostLayout(dir: string): NginxLayout {
  return { ...NGINX_IMAGE_LAYOUT, snippetFile: path.join(dir, "wsenv-snippet.conf"), confFile: path.join(dir, "nginx.conf"), logDir: dir, user: "www-data", tlsDir: path.join(dir, "tls") };
}

/**
 * Runs `nginx -t` on a config written to `dir`. Container host names don't resolve on the host, so the
 * test copy points them at 127.0.0.1 (only here; the generated file itself is not changed).
 */
export function nginxTest(nginx: string, dir: string, conf: string, snippet: string, hosts: string[]): { ok: boolean; output: string } {
  let copy = conf;
  for (const host of hosts) copy = copy.split(`${host}:`).join("127.0.0.1:");
  fs.writeFileSync(path.join(dir, "nginx.conf"), copy);
  fs.writeFileSync(path.join(dir, "wsenv-snippet.conf"), snippet);
  const result = spawnSync(nginx, ["-t", "-c", path.join(dir, "nginx.conf"), "-g", `pid ${path.join(dir, "nginx.pid")};`], { encoding: "utf8" });
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function nginxVersion(nginx: string): string {
  return execFileSync(nginx, ["-v"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }) || "";
}
