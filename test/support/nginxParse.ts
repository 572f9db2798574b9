/**
 * A small nginx config parser for tests: directives with their arguments and blocks, comments dropped,
 * quotes resolved. It reads what nginx would read, so a test can assert on directives rather than text.
 */
export interface Directive {
  name: string;
  args: string[];
  block?: Directive[];
}

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === "#") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (ch === ";" || ch === "{" || ch === "}") {
      tokens.push(ch);
      i++;
    } else if (ch === '"' || ch === "'") {
      let value = "";
      i++;
      while (i < text.length && text[i] !== ch) {
        if (text[i] === "\\" && i + 1 < text.length) {
          // nginx's own escapes inside quotes: \n \r \t, and any other character stands for itself.
          const escaped = text[i + 1];
          value += ({ n: "\n", r: "\r", t: "\t" } as Record<string, string>)[escaped] ?? escaped;
          i += 2;
          continue;
        }
        value += text[i++];
      }
      if (i >= text.length) throw new Error("unterminated quote");
      i++;
      tokens.push(`\u0000${value}`); // marks a quoted word, so ";" inside quotes stays a word
    } else {
      let value = "";
      while (i < text.length && !/[\s;{}]/.test(text[i])) value += text[i++];
      tokens.push(value);
    }
  }
  return tokens;
}

export function parseNginx(text: string): Directive[] {
  const tokens = tokenize(text);
  let pos = 0;
  const word = (t: string) => (t.startsWith("\u0000") ? t.slice(1) : t);
  const parseBlock = (closing: boolean): Directive[] => {
    const out: Directive[] = [];
    while (pos < tokens.length) {
      if (tokens[pos] === "}") {
        if (!closing) throw new Error("unexpected }");
        pos++;
        return out;
      }
      const parts: string[] = [];
      while (pos < tokens.length && tokens[pos] !== ";" && tokens[pos] !== "{" && tokens[pos] !== "}") parts.push(word(tokens[pos++]));
      if (parts.length === 0) throw new Error(`unexpected ${tokens[pos]}`);
      const [name, ...args] = parts;
      if (tokens[pos] === ";") {
        pos++;
        out.push({ name, args });
      } else if (tokens[pos] === "{") {
        pos++;
        out.push({ name, args, block: parseBlock(true) });
      } else {
        throw new Error(`directive ${name} is not terminated`);
      }
    }
    if (closing) throw new Error("missing }");
    return out;
  };
  return parseBlock(false);
}

/** Every directive named `name`, at any depth. */
export function findAll(tree: Directive[], name: string): Directive[] {
  return tree.flatMap((d) => [...(d.name === name ? [d] : []), ...findAll(d.block ?? [], name)]);
}

/** The directive tree's shape: names, argument counts and nesting, without argument values. */
export function shape(tree: Directive[]): unknown[] {
  return tree.map((d) => [d.name, d.args.length, d.block ? shape(d.block) : null]);
}
