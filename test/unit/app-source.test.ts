import { execFileSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import * as tar from "tar";
import { SUPERVISOR_SCRIPT } from "../../lib/appImage";
import { hashTree, prepareAppBuild } from "../../lib/appSource";
import { ConfigError } from "../../lib/errors";
import { parseWsenvConfig } from "../../lib/schema";
import { STACK_CONFIG } from "../../lib/stackConfig";

// Each test stages into its own project folder, so nothing here touches the repository's .wsenv/.
let project: string;
let server: http.Server;
let baseUrl: string;
const served = new Map<string, Buffer>();
/** Handlers for paths whose answer is not a plain body: oversized, endless, or checking credentials. */
const routes = new Map<string, http.RequestListener>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const route = routes.get(req.url ?? "");
    if (route) return route(req, res);
    const body = served.get(req.url ?? "");
    res.writeHead(body ? 200 : 404).end(body ?? "not found");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});

let outside: string;
beforeEach(() => {
  project = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-source-"));
  outside = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-outside-"));
  fs.writeFileSync(path.join(outside, "id_rsa"), "secret");
  fs.mkdirSync(path.join(project, "site/css"), { recursive: true });
  fs.writeFileSync(path.join(project, "site/index.php"), "<?php echo 'hi';");
  fs.writeFileSync(path.join(project, "site/css/app.css"), "body{}");
});
afterEach(() => {
  fs.rmSync(project, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

const appSpec = (app: Record<string, unknown>) => parseWsenvConfig({ app }).app;
// Problems shown as the stack config names them, as the program and `npm run render` show them.
const asStackConfig = (err: unknown) => {
  throw err instanceof ConfigError ? err.under(STACK_CONFIG.prefix, STACK_CONFIG.subject) : err;
};
const stage = (app: Record<string, unknown>) => prepareAppBuild(appSpec(app), { projectDir: project, prefix: "wsenv-t" }).catch(asStackConfig);
const listed = (dir: string) => execFileSync("find", [".", "-type", "f"], { cwd: dir, encoding: "utf8" }).trim().split("\n").sort();
const appDir = (contextDir: string) => path.join(project, contextDir, "app");

function git(args: string[], cwd: string): string {
  return execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd, encoding: "utf8" }).trim();
}

/** A bare repository holding index.php ("v1"), at `at`. */
function bareRepo(at: string): string {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-work-"));
  git(["init", "-q", "-b", "main"], work);
  fs.writeFileSync(path.join(work, "index.php"), "v1");
  git(["add", "."], work);
  git(["commit", "-qm", "v1"], work);
  execFileSync("git", ["clone", "-q", "--bare", work, at]);
  fs.rmSync(work, { recursive: true, force: true });
  return at;
}

async function tarGzOfSite(): Promise<Buffer> {
  const archive = path.join(project, "site.tar.gz");
  await tar.c({ gzip: true, file: archive, cwd: path.join(project, "site") }, ["."]);
  return fs.readFileSync(archive);
}

describe("the project folder itself as the source", () => {
  test.each([".", "./", "site/.."])("%s is refused with a message naming the key, not a copy error", async (source) => {
    await expect(stage({ source })).rejects.toThrow(/wsenv:app\.source: must be a folder inside the project or beside it, not the project folder or one that holds it \(got "[^"]+"\); put the app in a subfolder/);
  });
});

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

  test("the context's modes are 0755 and 0644 whatever the source's, so another umask is the same build", async () => {
    const first = await stage({ source: "./site" });
    const modes = () => execFileSync("find", [".", "-mindepth", "1", "-printf", "%m %p\\n"], { cwd: path.join(project, first.contextDir), encoding: "utf8" }).trim().split("\n").sort();
    const before = modes();
    expect(before.filter((m) => !m.startsWith("644 ") && !m.startsWith("755 "))).toEqual([]);
    expect(before).toEqual(expect.arrayContaining(["644 ./Dockerfile", "755 ./wsenv-supervise", "644 ./app/index.php", "755 ./app/css"]));
    fs.chmodSync(path.join(project, "site/index.php"), 0o664);
    fs.chmodSync(path.join(project, "site/css/app.css"), 0o600);
    fs.chmodSync(path.join(project, "site/css"), 0o775);
    // Another user's umask: what wsenv writes itself (the Dockerfile, the supervisor) is the same too.
    const umask = process.umask(0o077);
    let again;
    try {
      again = await stage({ source: "./site" });
    } finally {
      process.umask(umask);
    }
    expect(modes()).toEqual(before);
    expect(again.contentHash).toBe(first.contentHash);
  });

  test("from a .tar.gz served over HTTP, unwrapping a single top-level folder", async () => {
    fs.renameSync(path.join(project, "site"), path.join(project, "chat-1.0"));
    const archive = path.join(project, "chat.tar.gz");
    await tar.c({ gzip: true, file: archive, cwd: project }, ["chat-1.0"]);
    served.set("/chat.tar.gz", fs.readFileSync(archive));
    const build = await stage({ source: `${baseUrl}/chat.tar.gz`, allowPrivateNetwork: true });
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
    await expect(stage({ source: `${baseUrl}/missing.tar.gz`, allowPrivateNetwork: true })).rejects.toThrow(/wsenv:app\.source: downloading .*missing\.tar\.gz failed: HTTP 404/);
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

    const head = await stage({ source: url, allowLocalGit: true });
    expect(fs.readFileSync(path.join(appDir(head.contextDir), "index.php"), "utf8")).toBe("v2");
    expect(head.deployed).toBe(`${url}@${v2}`);
    expect(fs.existsSync(path.join(appDir(head.contextDir), ".git"))).toBe(false);

    const tag = await stage({ source: url, ref: "v1", allowLocalGit: true });
    expect(fs.readFileSync(path.join(appDir(tag.contextDir), "index.php"), "utf8")).toBe("v1");
    const commit = await stage({ source: url, ref: v1, allowLocalGit: true });
    expect(commit.deployed).toBe(`${url}@${v1}`);
    expect(commit.contentHash).toBe(tag.contentHash);
  });

  test("a git ref that does not exist names the key and what git said", async () => {
    await expect(stage({ source: `file://${project}/none.git`, ref: "main", allowLocalGit: true })).rejects.toThrow(/wsenv:app\.source: git could not fetch .*none\.git at main/);
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

describe("what a source may read", () => {
  test("a folder outside the project is refused, by relative or absolute path", async () => {
    for (const source of [path.relative(project, outside), outside]) {
      await expect(stage({ source })).rejects.toThrow(
        `wsenv:app.source: folder ${source} is outside the project folder ${project} (it is ${outside}); the app must be inside it, or set wsenv:app.sourceRoot to a folder that holds both (such as ..)`,
      );
    }
  });

  describe("a monorepo: the Pulumi project in infra/, the app beside it in app/", () => {
    let repo: string;
    let infra: string;
    beforeEach(() => {
      repo = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-monorepo-"));
      infra = path.join(repo, "infra");
      fs.mkdirSync(infra);
      fs.cpSync(path.join(project, "site"), path.join(repo, "app"), { recursive: true });
    });
    afterEach(() => fs.rmSync(repo, { recursive: true, force: true }));
    const stageIn = (app: Record<string, unknown>) => prepareAppBuild(appSpec(app), { projectDir: infra, prefix: "wsenv-t" }).catch(asStackConfig);

    test("../app is refused unless asked for, saying how to ask", async () => {
      await expect(stageIn({ source: "../app" })).rejects.toThrow(`wsenv:app.source: folder ../app is outside the project folder ${infra}`);
      await expect(stageIn({ source: "../app" })).rejects.toThrow("set wsenv:app.sourceRoot to a folder that holds both (such as ..)");
    });

    test("with sourceRoot .., ../app deploys", async () => {
      const build = await stageIn({ source: "../app", sourceRoot: ".." });
      expect(listed(path.join(infra, build.contextDir, "app"))).toEqual(["./css/app.css", "./index.php"]);
      expect(build.deployed).toBe("../app");
    });

    test("with sourceRoot .., what lies outside the repository is still refused: a path, an archive, a link", async () => {
      await expect(stageIn({ source: outside, sourceRoot: ".." })).rejects.toThrow(`wsenv:app.source: folder ${outside} is outside wsenv:app.sourceRoot ${repo} (it is ${outside}); the app must be inside it`);
      await expect(stageIn({ source: "/etc", sourceRoot: ".." })).rejects.toThrow("is outside wsenv:app.sourceRoot");
      fs.writeFileSync(path.join(outside, "app.tar.gz"), await tarGzOfSite());
      await expect(stageIn({ source: path.join(outside, "app.tar.gz"), sourceRoot: ".." })).rejects.toThrow(/archive .* is outside wsenv:app\.sourceRoot/);
      fs.symlinkSync(outside, path.join(repo, "keys"));
      await expect(stageIn({ source: "../keys", sourceRoot: ".." })).rejects.toThrow(/folder \.\.\/keys is outside wsenv:app\.sourceRoot .* \(it is .*wsenv-outside-/);
    });

    test("the repository root itself, which holds the project, is refused: it would copy its own staging", async () => {
      await expect(stageIn({ source: "..", sourceRoot: ".." })).rejects.toThrow("not the project folder or one that holds it");
    });

    test("a sourceRoot that is not a folder is an error naming it", async () => {
      await expect(stageIn({ source: "../app", sourceRoot: "../nowhere" })).rejects.toThrow(`wsenv:app.sourceRoot: must be a folder (looked at ${path.join(repo, "nowhere")}`);
    });
  });

  test("a link in the project to a folder outside is refused", async () => {
    fs.symlinkSync(outside, path.join(project, "keys"));
    await expect(stage({ source: "./keys" })).rejects.toThrow(/wsenv:app\.source: folder \.\/keys is outside the project folder .* \(it is .*wsenv-outside-/);
  });

  test("an archive outside the project is refused, also through a link", async () => {
    fs.writeFileSync(path.join(outside, "app.tar.gz"), await tarGzOfSite());
    await expect(stage({ source: path.join(outside, "app.tar.gz") })).rejects.toThrow(/wsenv:app\.source: archive \/.*app\.tar\.gz is outside the project folder/);
    fs.symlinkSync(path.join(outside, "app.tar.gz"), path.join(project, "linked.tar.gz"));
    await expect(stage({ source: "./linked.tar.gz" })).rejects.toThrow(/wsenv:app\.source: archive \.\/linked\.tar\.gz is outside the project folder/);
  });

  test("a git repository on this machine needs allowLocalGit, however it is spelled", async () => {
    const repo = bareRepo(path.join(outside, "keys.git"));
    for (const source of [repo, `file://${repo}`, `git+${repo}`, `git+file://${repo}`]) {
      await expect(stage({ source })).rejects.toThrow(
        `wsenv:app.source: ${source.replace(/^git\+/, "")} is a git repository on this machine; set wsenv:app.allowLocalGit: true to deploy from one (expected an https:// or ssh git URL)`,
      );
    }
    const allowed = await stage({ source: `file://${repo}`, allowLocalGit: true });
    expect(fs.readFileSync(path.join(appDir(allowed.contextDir), "index.php"), "utf8")).toBe("v1");
  });

  test("git speaks https and ssh only: ext::, git:// and http:// are refused before git runs", async () => {
    const marker = path.join(outside, "ran");
    for (const source of [`git+ext::sh -c touch% ${marker}`, "git://127.0.0.1:9/chat.git", "http://127.0.0.1:9/chat.git"]) {
      await expect(stage({ source, allowLocalGit: true })).rejects.toThrow(
        `wsenv:app.source: git URL ${source.replace(/^git\+/, "")} must be https:// or ssh (ssh://host/path or user@host:path)`,
      );
    }
    expect(fs.existsSync(marker)).toBe(false);
  });

  test("git refuses to read this machine even when the user's git config rewrites an https URL to it", async () => {
    const repo = bareRepo(path.join(outside, "keys.git"));
    // Git reads GIT_CONFIG_COUNT/KEY/VALUE as config given on its command line.
    const rewrite = { GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: `url.file://${repo}.insteadOf`, GIT_CONFIG_VALUE_0: "https://wsenv.invalid/keys.git" };
    Object.assign(process.env, rewrite);
    try {
      await expect(stage({ source: "https://wsenv.invalid/keys.git" })).rejects.toThrow(/wsenv:app\.source: git could not fetch https:\/\/wsenv\.invalid\/keys\.git: .*transport 'file' not allowed/);
    } finally {
      for (const key of Object.keys(rewrite)) delete process.env[key];
    }
  });

  test("an archive URL on a loopback or private address needs allowPrivateNetwork", async () => {
    served.set("/site.tar.gz", await tarGzOfSite());
    const port = (server.address() as AddressInfo).port;
    await expect(stage({ source: `${baseUrl}/site.tar.gz` })).rejects.toThrow(
      `wsenv:app.source: ${baseUrl}/site.tar.gz is on a loopback, link-local or private address (127.0.0.1); set wsenv:app.allowPrivateNetwork: true to download from one`,
    );
    await expect(stage({ source: `http://localhost:${port}/site.tar.gz` })).rejects.toThrow(/is on a loopback, link-local or private address \((127\.0\.0\.1|::1)\)/);
    await expect(stage({ source: "http://[::ffff:10.0.0.1]:9/site.tar.gz" })).rejects.toThrow(/is on a loopback, link-local or private address/);
    await expect(stage({ source: "http://169.254.169.254/latest/app.tar.gz" })).rejects.toThrow(/is on a loopback, link-local or private address \(169\.254\.169\.254\)/);
  });

  test("a download that says it is larger than 512 MiB is refused without reading its body", async () => {
    routes.set("/huge.tar.gz", (_req, res) => res.writeHead(200, { "content-length": String(600 * 1024 * 1024) }).flushHeaders());
    await expect(stage({ source: `${baseUrl}/huge.tar.gz`, allowPrivateNetwork: true })).rejects.toThrow(
      `wsenv:app.source: archive ${baseUrl}/huge.tar.gz is larger than 512 MiB`,
    );
  }, 10_000);

  test("a download without a length is cut off as soon as it passes 512 MiB", async () => {
    const chunk = Buffer.alloc(1024 * 1024);
    let sent = 0;
    routes.set("/endless.tar.gz", (_req, res) => {
      res.writeHead(200);
      const pump = () => {
        while (sent < 640 * chunk.length && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        res.end();
      };
      pump();
    });
    await expect(stage({ source: `${baseUrl}/endless.tar.gz`, allowPrivateNetwork: true })).rejects.toThrow(
      `wsenv:app.source: archive ${baseUrl}/endless.tar.gz is larger than 512 MiB`,
    );
    expect(sent).toBeLessThan(600 * chunk.length);
  }, 60_000);
});

describe("credentials in a source URL are never shown", () => {
  test("an unreachable archive or git URL with a token: the error leaves the token out", async () => {
    const archive = stage({ source: "https://deploy:s3cret-token@127.0.0.1:1/chat.tar.gz", allowPrivateNetwork: true });
    await expect(archive).rejects.toThrow(/wsenv:app\.source: downloading https:\/\/127\.0\.0\.1:1\/chat\.tar\.gz failed: /);
    await expect(archive).rejects.not.toThrow(/s3cret|deploy/);
    const refused = stage({ source: "https://deploy:s3cret-token@127.0.0.1:1/chat.tar.gz" });
    await expect(refused).rejects.toThrow(/wsenv:app\.source: https:\/\/127\.0\.0\.1:1\/chat\.tar\.gz is on a loopback/);
    await expect(refused).rejects.not.toThrow(/s3cret|deploy/);
    const repo = stage({ source: "https://deploy:s3cret-token@127.0.0.1:1/chat.git" });
    await expect(repo).rejects.toThrow(/wsenv:app\.source: git could not fetch https:\/\/127\.0\.0\.1:1\/chat\.git: /);
    await expect(repo).rejects.not.toThrow(/s3cret|deploy/);
  });

  test("a served archive with user:pass in its URL: deployed leaves them out, the server gets them", async () => {
    const archive = await tarGzOfSite();
    let authorization: string | undefined;
    routes.set("/private.tar.gz", (req, res) => {
      authorization = req.headers.authorization;
      res.writeHead(200).end(archive);
    });
    const build = await stage({ source: baseUrl.replace("http://", "http://deploy:s3cret@") + "/private.tar.gz", allowPrivateNetwork: true });
    expect(build.deployed).toBe(`${baseUrl}/private.tar.gz`);
    expect(authorization).toBe(`Basic ${Buffer.from("deploy:s3cret").toString("base64")}`);
  });

  test("a config error about app.source shows the URL without its user info", () => {
    const problems = (app: Record<string, unknown>) => {
      try {
        parseWsenvConfig({ app });
      } catch (err) {
        return (err as ConfigError).lines("wsenv:").join("\n");
      }
      throw new Error("parsed");
    };
    expect(problems({ source: "https://deploy:s3cret@example.com/app" })).toContain('(got "https://example.com/app")');
    expect(problems({ source: `ssh://deploy:s3cret@example.com/${"a".repeat(2048)}` })).toMatch(/wsenv:app\.source: must be at most 2048 characters \(got "ssh:\/\/example\.com\/aaa/);
    expect(problems({ source: "https://ghp_token@example.com/x.git\nmore" })).toContain('(got "https://example.com/x.git\\nmore")');
    expect(problems({ source: `git@example.com:org/${"a".repeat(2048)}` })).toContain('(got "git@example.com:org/aaa');
  });
});
