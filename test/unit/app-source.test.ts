import { execFileSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import * as tar from "tar";
import { SUPERVISOR_SCRIPT } from "../../lib/appImage";
import { hashTree, prepareAppBuild } from "../../lib/appSource";
import { ConfigError, parseWsenvConfig } from "../../lib/schema";

// Each test stages into its own project folder, so nothing here touches the repository's .wsenv/.
let project: string;
let server: http.Server;
let baseUrl: string;
const served = new Map<string, Buffer>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const body = served.get(req.url ?? "");
    res.writeHead(body ? 200 : 404).end(body ?? "not found");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

beforeEach(() => {
  project = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-source-"));
  fs.mkdirSync(path.join(project, "site/css"), { recursive: true });
  fs.writeFileSync(path.join(project, "site/index.php"), "<?php echo 'hi';");
  fs.writeFileSync(path.join(project, "site/css/app.css"), "body{}");
});
afterEach(() => fs.rmSync(project, { recursive: true, force: true }));

const appSpec = (app: Record<string, unknown>) => parseWsenvConfig({ app }).app;
const stage = (app: Record<string, unknown>) => prepareAppBuild(appSpec(app), { projectDir: project, stack: "t" });
const listed = (dir: string) => execFileSync("find", [".", "-type", "f"], { cwd: dir, encoding: "utf8" }).trim().split("\n").sort();
const appDir = (contextDir: string) => path.join(project, contextDir, "app");

function git(args: string[], cwd: string): string {
  return execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd, encoding: "utf8" }).trim();
}

describe("deploying the application", () => {
  test("from a local folder: the build context holds the Dockerfile, the supervisor and the app", async () => {
    const build = await stage({ source: "./site" });
    expect(build.contextDir).toBe(path.join(".wsenv", "build", "wsenv-t"));
    expect(listed(path.join(project, build.contextDir))).toEqual(["./Dockerfile", "./app/css/app.css", "./app/index.php", "./wsenv-supervise"]);
    const supervisor = path.join(project, build.contextDir, "wsenv-supervise");
    expect(fs.readFileSync(supervisor, "utf8")).toBe(SUPERVISOR_SCRIPT);
    expect(fs.statSync(supervisor).mode & 0o777).toBe(0o755);
    const dockerfile = fs.readFileSync(path.join(project, build.contextDir, "Dockerfile"), "utf8");
    expect(dockerfile).toContain("FROM php:8.3-apache");
    expect(dockerfile).toContain("RUN docker-php-ext-install pcntl posix sockets");
    expect(dockerfile).toContain("COPY app/ /var/www/html/");
    expect(dockerfile).toContain('CMD ["wsenv-supervise","apache2-foreground"]');
    expect(build.deployed).toBe("./site");
  });

  test("into a named context", async () => {
    const build = await stage({ source: "./site", context: "chat" });
    expect(fs.readFileSync(path.join(project, build.contextDir, "Dockerfile"), "utf8")).toContain("COPY app/ /var/www/html/chat/");
  });

  test("the content hash is the same for the same app and changes with any byte or mode", async () => {
    const first = (await stage({ source: "./site" })).contentHash;
    expect((await stage({ source: "./site" })).contentHash).toBe(first);
    fs.writeFileSync(path.join(project, "site/css/app.css"), "body{color:red}");
    const edited = (await stage({ source: "./site" })).contentHash;
    expect(edited).not.toBe(first);
    fs.chmodSync(path.join(project, "site/index.php"), 0o755);
    expect((await stage({ source: "./site" })).contentHash).not.toBe(edited);
  });

  test("from a .tar.gz served over HTTP, unwrapping a single top-level folder", async () => {
    fs.renameSync(path.join(project, "site"), path.join(project, "chat-1.0"));
    const archive = path.join(project, "chat.tar.gz");
    await tar.c({ gzip: true, file: archive, cwd: project }, ["chat-1.0"]);
    served.set("/chat.tar.gz", fs.readFileSync(archive));
    const build = await stage({ source: `${baseUrl}/chat.tar.gz` });
    expect(listed(appDir(build.contextDir))).toEqual(["./css/app.css", "./index.php"]);
    expect(build.deployed).toBe(`${baseUrl}/chat.tar.gz`);
  });

  test("from a local .zip", async () => {
    execFileSync("python3", ["-c", "import shutil,sys; shutil.make_archive(sys.argv[1], 'zip', sys.argv[2])", path.join(project, "chat"), path.join(project, "site")]);
    const build = await stage({ source: "./chat.zip" });
    expect(listed(appDir(build.contextDir))).toEqual(["./css/app.css", "./index.php"]);
  });

  test("a zip entry that climbs out of the folder is refused", async () => {
    const evil = path.join(project, "evil.zip");
    execFileSync("python3", ["-c", "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],'w'); z.writestr('../../escaped.txt','x'); z.close()", evil]);
    await expect(stage({ source: "./evil.zip" })).rejects.toThrow(ConfigError);
    expect(fs.existsSync(path.join(project, ".wsenv/escaped.txt"))).toBe(false);
    expect(fs.existsSync(path.join(project, "escaped.txt"))).toBe(false);
  });

  test("an archive URL that answers 404 names the key and the status", async () => {
    await expect(stage({ source: `${baseUrl}/missing.tar.gz` })).rejects.toThrow(/wsenv:app\.source: downloading .*missing\.tar\.gz failed: HTTP 404/);
  });

  test("from a git repository at a branch, a tag or a commit; .git is not deployed", async () => {
    const work = path.join(project, "work");
    fs.mkdirSync(work);
    git(["init", "-q", "-b", "main"], work);
    fs.writeFileSync(path.join(work, "index.php"), "v1");
    git(["add", "."], work);
    git(["commit", "-qm", "v1"], work);
    git(["tag", "v1"], work);
    const v1 = git(["rev-parse", "HEAD"], work);
    fs.writeFileSync(path.join(work, "index.php"), "v2");
    git(["commit", "-qam", "v2"], work);
    const v2 = git(["rev-parse", "HEAD"], work);
    execFileSync("git", ["clone", "-q", "--bare", work, path.join(project, "chat.git")]);
    const url = `file://${path.join(project, "chat.git")}`;

    const head = await stage({ source: url });
    expect(fs.readFileSync(path.join(appDir(head.contextDir), "index.php"), "utf8")).toBe("v2");
    expect(head.deployed).toBe(`${url}@${v2}`);
    expect(fs.existsSync(path.join(appDir(head.contextDir), ".git"))).toBe(false);

    const tag = await stage({ source: url, ref: "v1" });
    expect(fs.readFileSync(path.join(appDir(tag.contextDir), "index.php"), "utf8")).toBe("v1");
    const commit = await stage({ source: url, ref: v1 });
    expect(commit.deployed).toBe(`${url}@${v1}`);
    expect(commit.contentHash).toBe(tag.contentHash);
  });

  test("a git ref that does not exist names the key and what git said", async () => {
    await expect(stage({ source: `file://${project}/none.git`, ref: "main" })).rejects.toThrow(/wsenv:app\.source: git could not fetch .*none\.git at main/);
  });

  test("hashTree sees symlinks by target", () => {
    const dir = path.join(project, "links");
    fs.mkdirSync(dir);
    fs.symlinkSync("a", path.join(dir, "l"));
    const before = hashTree(dir);
    fs.unlinkSync(path.join(dir, "l"));
    fs.symlinkSync("b", path.join(dir, "l"));
    expect(hashTree(dir)).not.toBe(before);
  });
});
