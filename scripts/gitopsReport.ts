/**
 * What the GitOps workflows show a reviewer, as plain functions: which stacks a change touches, and the
 * pull-request comment (the rendered nginx.conf of the base beside the head's, each stack's preview). The
 * scripts around them do the git and process work; the workflows only call the scripts.
 */

/** Files that are the program: a change to one may change what every stack deploys. */
const PROGRAM_FILES = [/^index\.ts$/, /^components\//, /^lib\//, /^policy\//, /^apps\//, /^package(-lock)?\.json$/, /^Pulumi\.yaml$/, /^tsconfig\.json$/];
const STACK_FILE = /^Pulumi\.(.+)\.ya?ml$/;

/**
 * The stacks a change touches: every stack when a program file changed, else those whose
 * `Pulumi.<stack>.yaml` changed (and still exists, or was deleted: a deleted stack file is reported).
 */
export function touchedStacks(changedFiles: string[], stacks: string[]): string[] {
  if (changedFiles.some((f) => PROGRAM_FILES.some((p) => p.test(f)))) return [...stacks].sort();
  const named = changedFiles.map((f) => STACK_FILE.exec(f)?.[1]).filter((s): s is string => !!s);
  return [...new Set(named)].sort();
}

/** One rendering of a stack: the nginx.conf, the config's problems, or no stack file at that commit. */
/** `snippet` is undefined when rendered by a base from before the snippet could be printed. */
export type Rendered = { kind: "conf"; nginxConf: string; snippet?: string } | { kind: "invalid"; problems: string[] } | { kind: "absent" };

export interface StackReport {
  stack: string;
  base: Rendered;
  head: Rendered;
  /** Unified diff of the base's balancer files (nginx.conf, the snippet file) to the head's; empty when equal. */
  diff: string;
  /** `pulumi preview` of the head, as the workflow captured it; absent where it did not run. */
  preview?: string;
}

/** The hidden line by which the workflow finds its own comment, to update it instead of adding another. */
export const COMMENT_MARKER = "<!-- wsenv:pull-request-report -->";

const fence = (lang: string, text: string) => {
  // A fence longer than any backtick run inside, so no content can close it early.
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = "`".repeat(longest + 1);
  return `${ticks}${lang}\n${text.replace(/\n$/, "")}\n${ticks}`;
};

/** A comment holds at most 65536 characters; long sections are cut with a note, never the marker. */
const SECTION_LIMIT = 20_000;
const cut = (text: string) => (text.length > SECTION_LIMIT ? `${text.slice(0, SECTION_LIMIT)}\n... (${text.length - SECTION_LIMIT} more characters; run the command locally for all of it)` : text);

function stackSection(r: StackReport): string {
  const lines = [`### Stack \`${r.stack}\``, ""];
  if (r.head.kind === "invalid") {
    lines.push("**Invalid config**: nothing of this pull request can be deployed to this stack.", "", fence("text", r.head.problems.join("\n")), "");
    return lines.join("\n");
  }
  if (r.head.kind === "absent") {
    lines.push(`The stack file \`Pulumi.${r.stack}.yaml\` is deleted by this pull request; its resources stay until \`pulumi destroy\`.`, "");
    return lines.join("\n");
  }
  const from = r.base.kind === "absent" ? " (a new stack)" : r.base.kind === "invalid" ? " (the base's config was invalid)" : "";
  lines.push(
    r.diff === ""
      ? `The balancer's files (the generated \`nginx.conf\`, the snippet) are unchanged${from}.`
      : `The balancer's files, base to head${from} (\`npm run render:diff -- --base <base> --stack ${r.stack}\`):`,
    "",
  );
  if (r.diff !== "") lines.push(fence("diff", cut(r.diff)), "");
  if (r.preview !== undefined) lines.push("<details><summary>pulumi preview</summary>", "", fence("text", cut(r.preview)), "", "</details>", "");
  return lines.join("\n");
}

/** The job summary of an up: the stack's url and wsUrl (and the https ones with TLS), from `pulumi stack output --json`. */
export function upSummary(stack: string, outputs: Record<string, unknown>): string {
  const tls = outputs.tls as { url?: string; wsUrl?: string; certificateExpiry?: string } | undefined;
  const rows: [string, unknown][] = [["url", outputs.url], ["wsUrl", outputs.wsUrl], ["tls.url", tls?.url], ["tls.wsUrl", tls?.wsUrl], ["tls.certificateExpiry", tls?.certificateExpiry]];
  return [`### Stack \`${stack}\` is up`, "", ...rows.filter(([, v]) => typeof v === "string").map(([k, v]) => `- ${k}: ${v}`), ""].join("\n");
}

/** The whole comment: the marker, a line per stack, then a section each. */
export function commentBody(reports: StackReport[], context: { base: string; head: string }): string {
  const invalid = reports.filter((r) => r.head.kind === "invalid").map((r) => r.stack);
  const summary =
    reports.length === 0
      ? "This pull request touches no stack."
      : `${reports.length} stack${reports.length === 1 ? "" : "s"} touched (${reports.map((r) => `\`${r.stack}\``).join(", ")})${invalid.length ? `; **invalid config in ${invalid.map((s) => `\`${s}\``).join(", ")}**` : ""}.`;
  return [COMMENT_MARKER, `## wsenv: what this pull request does to the balancer`, "", `Base \`${context.base}\`, head \`${context.head}\`. ${summary}`, "", ...reports.map(stackSection)].join("\n").replace(/\n+$/, "\n");
}
