/**
 * `text` with the user info of every URL in it left out (`https://user:token@host/x` shows as
 * `https://host/x`): a source URL may carry credentials, and messages and outputs are read by others.
 * scp-like `git@host:path` has no password and stays as it is.
 */
export function withoutCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#"]*@/gi, "$1");
}
