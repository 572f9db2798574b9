/**
 * The application stacks a node can run, as data. The schema reads it for defaults and allowed keys, the
 * Dockerfile renderer for where the app goes, the components for ports and privileges. Adding a stack is
 * adding a row here, not a branch in code.
 */
export interface StackPreset {
  /** Official image the node is built FROM when `app.image` is not set. */
  image: string;
  /** Port the stack's HTTP server listens on inside the node. */
  httpPort: number;
  /** Directory of the `ROOT` context (the web root). */
  rootContextDir: string;
  /**
   * Directory of a named context; `{name}` is replaced by the context name. Stacks that serve one
   * application per node (Node.js) map every context to the same directory and only the URL path changes.
   */
  namedContextDir: string;
  /** The image's own foreground server command; the node's supervisor runs it as its main child. */
  serverCommand: string[];
  /**
   * Port of the app's own socket server when `app.wsCommand` starts one. Stacks whose server speaks
   * WebSocket itself (Node.js, Tomcat) default `app.wsPort` to `httpPort` instead.
   */
  wsCommandPort: number;
  /** Extensions installed into every node, and the image's command that installs more; null if none. */
  extensions: { install: string; defaults: string[] } | null;
  /** Dockerfile steps run after the app is copied (e.g. installing its dependencies). */
  postCopySteps: string[];
  /**
   * Linux capabilities the node keeps after dropping all (least privilege that still works: the servers
   * start as root to bind and then switch to an unprivileged user). Spelled as Docker reports them back
   * (`CAP_` prefix): the provider compares what it reads on every refresh, and `KILL` read back as
   * `CAP_KILL` is a difference that replaces the container.
   */
  capabilities: string[];
  /**
   * The image's unprivileged user every process of the node runs as (the Dockerfile's USER), or null when
   * the stack's server must start as root and drops to its own user itself (Apache).
   */
  runAs: string | null;
  /** The unprivileged user the supervisor switches `app.wsCommand` to when the node runs as root. */
  wsCommandUser: string | null;
  /**
   * Where the stack's servers write at run time, each a tmpfs when `app.readOnly` makes the rest of the
   * node's filesystem read-only (found by running each stand-in image with `--read-only`).
   */
  writablePaths: string[];
}

export const STACK_NAMES = ["apache-php", "node", "tomcat"] as const;
export type StackName = (typeof STACK_NAMES)[number];

export const STACK_PRESETS: Readonly<Record<StackName, StackPreset>> = {
  "apache-php": {
    image: "php:8.3-apache",
    httpPort: 80,
    rootContextDir: "/var/www/html",
    namedContextDir: "/var/www/html/{name}",
    serverCommand: ["apache2-foreground"],
    wsCommandPort: 8000,
    // Socket servers found in the wild (Ratchet-less chat demos, `php -q server.php`) use these.
    extensions: { install: "docker-php-ext-install", defaults: ["sockets", "pcntl", "posix"] },
    postCopySteps: [],
    // Apache's parent switches its children to www-data (SETUID/SETGID) and signals them (KILL).
    capabilities: ["CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
    runAs: null,
    // The same user as Apache's children; the switch uses the SETUID/SETGID the node keeps for Apache.
    wsCommandUser: "www-data",
    // /run holds Apache's pid and lock files (/var/run and /var/lock link there); Debian's PHP keeps its
    // sessions in /var/lib/php/sessions, the official image's in /tmp.
    writablePaths: ["/tmp", "/run", "/var/lib/php/sessions"],
  },
  node: {
    image: "node:20",
    httpPort: 3000,
    rootContextDir: "/app",
    namedContextDir: "/app",
    serverCommand: ["npm", "start"],
    wsCommandPort: 8000,
    extensions: null,
    // Dependencies are installed at deploy time unless the app ships its node_modules (then it is used
    // as it is: an install would prune whatever package.json does not list, and needs the registry).
    postCopySteps: [
      "RUN if [ -d node_modules ]; then echo 'using the node_modules shipped with the app'; elif [ -f package-lock.json ]; then npm ci --omit=dev; elif [ -f package.json ]; then npm install --omit=dev; fi",
    ],
    capabilities: [],
    // The official image's own unprivileged user; nothing of the stack needs root.
    runAs: "node",
    wsCommandUser: null,
    // npm keeps its logs and cache under the user's home.
    writablePaths: ["/tmp", "/run", "/home/node/.npm"],
  },
  tomcat: {
    image: "tomcat:10.1",
    httpPort: 8080,
    rootContextDir: "/usr/local/tomcat/webapps/ROOT",
    namedContextDir: "/usr/local/tomcat/webapps/{name}",
    serverCommand: ["catalina.sh", "run"],
    wsCommandPort: 8000,
    extensions: null,
    // The official image has no unprivileged user: one is made, owning what Catalina writes at run time
    // (logs/, work/, temp/, and conf/Catalina for context descriptors); the app and the rest stay root's.
    postCopySteps: [
      "RUN (id -u tomcat > /dev/null 2>&1 || useradd --system --uid 10001 --user-group --home-dir /usr/local/tomcat --shell /usr/sbin/nologin tomcat) && mkdir -p /usr/local/tomcat/logs /usr/local/tomcat/work /usr/local/tomcat/temp /usr/local/tomcat/conf/Catalina && chown -R tomcat:tomcat /usr/local/tomcat/logs /usr/local/tomcat/work /usr/local/tomcat/temp /usr/local/tomcat/conf/Catalina",
    ],
    capabilities: [],
    runAs: "tomcat",
    wsCommandUser: null,
    writablePaths: ["/tmp", "/run", "/usr/local/tomcat/logs", "/usr/local/tomcat/work", "/usr/local/tomcat/temp"],
  },
};

/**
 * The stack whose preset deploys the app into `dir` (a node's WSENV_CONTEXT_DIR), or undefined: the
 * stacks' context folders are all different, and wsenv sets the variable (app.env may not).
 */
export function stackOfContextDir(dir: string): StackName | undefined {
  return STACK_NAMES.find((stack) => {
    const { rootContextDir, namedContextDir } = STACK_PRESETS[stack];
    const [before, after] = namedContextDir.split("{name}");
    return dir === rootContextDir || (after !== undefined && dir.startsWith(before) && dir.endsWith(after) && dir.length > before.length + after.length);
  });
}

/** The balancer image's layout, as the official `nginx` image has it. */
export const NGINX_IMAGE_LAYOUT = {
  /** The main config file nginx reads at start and on reload. */
  confFile: "/etc/nginx/nginx.conf",
  /** Where the user's `balancer.snippet` lives, included inside the server block. */
  snippetFile: "/etc/nginx/wsenv-snippet.conf",
  mimeTypesFile: "/etc/nginx/mime.types",
  logDir: "/var/log/nginx",
  /** The unprivileged user the official image's workers run as. */
  user: "nginx",
  /** Port the generated server listens on inside the container (published as `balancer.port`). */
  listenPort: 80,
  /** Port the HTTPS server listens on inside the container (published as `balancer.tls.port`). */
  tlsListenPort: 443,
  /** Where the certificate and key files live (root only; the master reads them). */
  tlsDir: "/etc/nginx/wsenv-tls",
} as const;
export type NginxLayout = { [K in keyof typeof NGINX_IMAGE_LAYOUT]: (typeof NGINX_IMAGE_LAYOUT)[K] extends number ? number : string };

/**
 * Capabilities the nginx master needs: bind, create its cache dirs, switch its workers to `nginx`. Spelled
 * as Docker reports them (see StackPreset.capabilities).
 */
export const BALANCER_CAPABILITIES = ["CAP_CHOWN", "CAP_SETUID", "CAP_SETGID", "CAP_NET_BIND_SERVICE"];
