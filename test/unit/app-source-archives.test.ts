import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tar from "tar";
import * as zlib from "zlib";
import { prepareAppBuild } from "../../lib/appSource";
import { ConfigError } from "../../lib/errors";
import { parseWsenvConfig } from "../../lib/schema";
import { STACK_CONFIG } from "../../lib/stackConfig";

// Hostile archives, built byte by byte here (no archiver would write most of them). Each test stages into
// its own project folder beside a folder "outside" that nothing may ever touch.
let project: string;
let outside: string;

beforeEach(() => {
  project = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-archive-test-"));
  outside = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-outside-"));
});
afterEach(() => {
  fs.rmSync(project, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

/** One archive member: a file (data), a folder (dir), a symbolic link (link) or, in tar, a hard link (hardlink). */
interface Member {
  name: string;
  data?: string;
  dir?: boolean;
  link?: string;
  hardlink?: string;
  /** A size to claim instead of the data's, as a zip bomb or a forged tar header does. */
  claimedSize?: number;
}

const u16 = (n: number) => Buffer.from([n & 0xff, (n >>> 8) & 0xff]);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};

/** A zip as a Unix zip writes it (modes in the external attributes), deflated, with zip64 records past 65535 entries. */
function zipBytes(members: Member[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const m of members) {
    const name = Buffer.from(m.name);
    const raw = Buffer.from(m.link ?? m.data ?? "");
    const body = zlib.deflateRawSync(raw);
    const mode = m.link !== undefined ? 0o120777 : m.dir ? 0o40755 : 0o100644;
    const sizes = [u32(zlib.crc32(raw)), u32(body.length), u32(m.claimedSize ?? raw.length)];
    const common = [u16(20), u16(0x0800), u16(8), u16(0), u16(0x21), ...sizes, u16(name.length), u16(0)];
    const local = Buffer.concat([u32(0x04034b50), ...common, name, body]);
    centrals.push(Buffer.concat([u32(0x02014b50), u16((3 << 8) | 20), ...common, u16(0), u16(0), u16(0), u32(mode << 16), u32(offset), name]));
    locals.push(local);
    offset += local.length;
  }
  const directory = Buffer.concat(centrals);
  const count = members.length;
  const zip64 =
    count > 0xffff
      ? [
          Buffer.concat([u32(0x06064b50), u64(44), u16(45), u16(45), u32(0), u32(0), u64(count), u64(count), u64(directory.length), u64(offset)]),
          Buffer.concat([u32(0x07064b50), u32(0), u64(offset + directory.length), u32(1)]),
        ]
      : [];
  const end = Buffer.concat([u32(0x06054b50), u16(0), u16(0), u16(Math.min(count, 0xffff)), u16(Math.min(count, 0xffff)), u32(directory.length), u32(offset), u16(0)]);
  return Buffer.concat([...locals, directory, ...zip64, end]);
}

/** A gzipped ustar archive; its headers are node-tar's own encoder, so only the member list is hostile. */
function tarGzBytes(members: Member[]): Buffer {
  const blocks = members.flatMap((m) => {
    const data = Buffer.from(m.data ?? "");
    const type = m.link !== undefined ? "SymbolicLink" : m.hardlink !== undefined ? "Link" : m.dir ? "Directory" : "File";
    const header = new tar.Header({ path: m.name, type, linkpath: m.link ?? m.hardlink, mode: m.dir ? 0o755 : 0o644, size: m.claimedSize ?? data.length, mtime: new Date(0) });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    return [block, data, Buffer.alloc((512 - (data.length % 512)) % 512)];
  });
  return zlib.gzipSync(Buffer.concat([...blocks, Buffer.alloc(1024)]));
}

const FORMATS = [
  { format: "zip", file: "app.zip", bytes: zipBytes },
  { format: "tar.gz", file: "app.tar.gz", bytes: tarGzBytes },
] as const;

const appDir = () => path.join(project, ".wsenv/build/wsenv-t/app");
/** Every symbolic link under the project folder, with its target. */
const links = () =>
  execFileSync("find", [".", "-type", "l", "-printf", "%p -> %l\\n"], { cwd: project, encoding: "utf8" }).trim().split("\n").filter(Boolean);

describe.each(FORMATS)("a $format source", ({ file, bytes }) => {
  const stageArchive = (members: Member[]) => {
    fs.writeFileSync(path.join(project, file), bytes(members));
    return prepareAppBuild(parseWsenvConfig({ app: { source: `./${file}` } }).app, { projectDir: project, prefix: "wsenv-t" }).catch((err) => {
      throw err instanceof ConfigError ? err.under(STACK_CONFIG.prefix, STACK_CONFIG.subject) : err;
    });
  };
  const refusal = async (members: Member[]): Promise<string> => {
    const err = await stageArchive(members).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  };

  test("a link to an absolute path outside, then a file of the same name: nothing is written outside", async () => {
    const victim = path.join(outside, "victim.txt");
    const message = await refusal([{ name: "x", link: victim }, { name: "x", data: "pwned" }]);
    expect(message).toContain(`wsenv:app.source: ./${file}: entry "x" is a link that points outside the app (to "${victim}")`);
    expect(fs.existsSync(victim)).toBe(false);
    expect(links()).toEqual([]);
  });

  test("a link to ../../somewhere, then a file under it: nothing is written outside", async () => {
    const climb = path.relative(appDir(), outside);
    expect(climb.startsWith("../../")).toBe(true);
    const message = await refusal([{ name: "l", link: climb }, { name: "l/x", data: "pwned" }]);
    expect(message).toMatch(/wsenv:app\.source: .*: entry "l" is a link that points outside the app/);
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(links()).toEqual([]);
  });

  test("a link inside the app stays, but nothing is written through it", async () => {
    const message = await refusal([
      { name: "releases/v1/index.php", data: "v1" },
      { name: "current", link: "releases/v1" },
      { name: "current/index.php", data: "pwned" },
    ]);
    expect(message).toMatch(/wsenv:app\.source: .*: entry "current\/index\.php" is under the link "current", and nothing is written through a link/);
    expect(fs.existsSync(appDir())).toBe(false);
  });

  test("a link inside the app is deployed as a link", async () => {
    await stageArchive([
      { name: "releases/v1/index.php", data: "v1" },
      { name: "current", link: "releases/v1" },
    ]);
    expect(fs.readlinkSync(path.join(appDir(), "current"))).toBe("releases/v1");
  });

  test("links that each stay inside but lead outside together are refused", async () => {
    // d -> sub, sub/up -> .. (the app): d/up/.. is then the app's parent, though it reads as d.
    const message = await refusal([
      { name: "sub/", dir: true },
      { name: "d", link: "sub" },
      { name: "sub/up", link: ".." },
      { name: "escape", link: "d/up/.." },
    ]);
    expect(message).toMatch(/entry "escape" is a link that points outside the app \(to "d\/up\/\.\."\)/);
  });

  test("a link that leaves the single top-level folder it is unwrapped from is refused", async () => {
    const message = await refusal([
      { name: "top/index.php", data: "hi" },
      { name: "top/up", link: "../index.php" },
    ]);
    expect(message).toMatch(/entry "top\/up" is a link that points outside the app \(to "\.\.\/index\.php"\)/);
    expect(links()).toEqual([]);
  });

  test("a name twice is refused, however it is spelled", async () => {
    expect(await refusal([{ name: "index.php", data: "a" }, { name: "index.php", data: "b" }])).toMatch(
      /wsenv:app\.source: .*: entry "index\.php" appears twice/,
    );
    expect(await refusal([{ name: "css/", dir: true }, { name: "./css", dir: true }])).toMatch(/entry "\.\/css" appears twice/);
  });

  test("an absolute name is refused and written nowhere", async () => {
    const target = path.join(outside, "abs.txt");
    expect(await refusal([{ name: target, data: "pwned" }])).toMatch(new RegExp(`wsenv:app\\.source: .*(absolute path: ${target}|"${target}" has an absolute name)`));
    expect(fs.existsSync(target)).toBe(false);
    expect(fs.existsSync(path.join(appDir(), target))).toBe(false);
  });

  test("a name with .. is refused and written nowhere", async () => {
    expect(await refusal([{ name: "a/../../escaped.txt", data: "pwned" }])).toMatch(/wsenv:app\.source: .*a\/\.\.\/\.\.\/escaped\.txt/);
    expect(fs.existsSync(path.join(project, ".wsenv/build/wsenv-t/escaped.txt"))).toBe(false);
  });

  test("more than 1 GiB unpacked is refused before it is written", async () => {
    expect(await refusal([{ name: "bomb", data: "0", claimedSize: 2 * 1024 ** 3 }])).toMatch(/wsenv:app\.source: .*: unpacks to more than 1 GiB/);
    expect(fs.existsSync(path.join(appDir(), "bomb"))).toBe(false);
  });

  test("more than 100000 entries are refused", async () => {
    const members = Array.from({ length: 100_001 }, (_, i) => ({ name: `f${i}`, data: "" }));
    expect(await refusal(members)).toMatch(/wsenv:app\.source: .*: has more than 100000 entries/);
  }, 60_000);
});

test("a tar hard link to a file of the archive is deployed as a copy; one to anything else is refused", async () => {
  const stageTar = (members: Member[]) => {
    fs.writeFileSync(path.join(project, "app.tar.gz"), tarGzBytes(members));
    return prepareAppBuild(parseWsenvConfig({ app: { source: "./app.tar.gz" } }).app, { projectDir: project, prefix: "wsenv-t" }).catch((err) => {
      throw err instanceof ConfigError ? err.under(STACK_CONFIG.prefix, STACK_CONFIG.subject) : err;
    });
  };
  await stageTar([{ name: "a.php", data: "a" }, { name: "b.php", hardlink: "a.php" }]);
  expect(fs.readFileSync(path.join(appDir(), "b.php"), "utf8")).toBe("a");
  expect(fs.lstatSync(path.join(appDir(), "b.php")).isFile()).toBe(true);

  fs.writeFileSync(path.join(outside, "secret"), "secret");
  await expect(stageTar([{ name: "b.php", hardlink: path.join(outside, "secret") }])).rejects.toThrow(
    /wsenv:app\.source: .*: entry "b\.php" is a hard link to something that is not a file of the archive/,
  );
  expect(fs.existsSync(path.join(appDir(), "b.php"))).toBe(false);
});
