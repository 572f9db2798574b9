/** What `app.source` names: a folder, an archive (file or URL) or a git repository. */
export type AppSource =
  | { kind: "folder"; path: string }
  | { kind: "archive"; location: string; format: "zip" | "tar.gz" }
  | { kind: "git"; url: string; ref?: string };

const ARCHIVE = /\.(zip|tar\.gz|tgz)$/i;

/** Tells a folder, an archive and a git repository apart, by the rules the README lists; a string says why not. */
export function classifySource(source: string, ref: string | undefined): AppSource | string {
  const withoutQuery = source.replace(/[?#].*$/, "");
  const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(source);
  if (source.startsWith("git+")) return { kind: "git", url: source.slice(4), ref };
  if (/^git@[^:]+:/.test(source) || /^(git|ssh):\/\//.test(source) || /\.git\/?$/.test(withoutQuery)) {
    return { kind: "git", url: source, ref };
  }
  const archive = ARCHIVE.exec(withoutQuery);
  if (archive) {
    if (isUrl && !/^https?:\/\//i.test(source)) return "an archive URL must be http:// or https://";
    return { kind: "archive", location: source, format: archive[1].toLowerCase() === "zip" ? "zip" : "tar.gz" };
  }
  if (isUrl) return "a URL must end in .zip, .tar.gz or .tgz (an archive) or .git (a repository); prefix git+ for other git URLs";
  return { kind: "folder", path: source };
}
