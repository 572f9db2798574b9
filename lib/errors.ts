import { withoutCredentials } from "./credentials";

/**
 * Configuration problems: every one found, reported at once, each naming its key, what was expected and
 * what was given. Keys are named as the Args spell them (`app.nodes`); a program that reads the Args from
 * somewhere else shows the same problems under its own prefix with {@link ConfigError.under} (the wsenv
 * program: `wsenv:app.nodes` of the stack config).
 */

/** One problem's line, given the prefix the keys live under. */
export type Problem = (prefix: string) => string;

/** A problem with the value at `key` (a path like `app.nodes`); `message` may name other keys with `key(...)`. */
export function problem(key: string, message: string | ((key: (path: string) => string) => string)): Problem {
  return (prefix) => `${prefix}${key}: ${typeof message === "string" ? message : message((path) => `${prefix}${path}`)}`;
}

export class ConfigError extends Error {
  constructor(
    readonly problems: readonly Problem[],
    /** What was invalid: "arguments of Environment \"chat\"", "stack config". */
    readonly subject = "arguments",
    /** Where the keys live: none for Args, `wsenv:` in the stack config. */
    readonly prefix = "",
  ) {
    super(`invalid ${subject} (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n  ${problems.map((p) => p(prefix)).join("\n  ")}`);
    this.name = "ConfigError";
  }

  /** The problems, one line each, keys under `prefix` (default: where this error says they live). */
  lines(prefix = this.prefix): string[] {
    return this.problems.map((p) => p(prefix));
  }

  /** The same problems, keys named where they live for the caller (`under("wsenv:", "stack config")`). */
  under(prefix: string, subject: string): ConfigError {
    return new ConfigError(this.problems, subject, prefix);
  }
}

/** A problem with the application's source, found while fetching or staging it: it names `app.source`. */
export function sourceError(message: string | ((key: (path: string) => string) => string)): ConfigError {
  return new ConfigError([problem("app.source", message)]);
}

/**
 * A given value as a problem shows it: JSON, except that numbers JSON cannot hold (YAML's `.inf`, `.nan`)
 * show as themselves, and characters that print as nothing or as a line break (U+0085, U+2028, zero-width
 * and direction marks) show as escapes, so a value that looks valid on screen is seen for what it is.
 * Credentials in URLs are left out, and long values cut.
 */
export function showValue(value: unknown): string {
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  const text = JSON.stringify(value)?.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}]/gu, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, "0")}`);
  if (text === undefined) return String(value);
  // User info in a URL is a credential; it goes before the cut, so a cut can never leave part of it.
  const shown = withoutCredentials(text);
  return shown.length > 80 ? `${shown.slice(0, 77)}...` : shown;
}
