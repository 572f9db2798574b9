/**
 * Texts as the balancer's steps read them on stdin: each base64 on a line of its own (`read -r` each).
 * Files travel on stdin, never in environment values, whose size the kernel caps.
 */
export function base64Lines(...texts: string[]): string {
  return texts.map((text) => `${Buffer.from(text, "utf8").toString("base64")}\n`).join("");
}
