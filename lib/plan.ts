import type { PreparedAppBuild } from "./appSource";
import { appImageName, appNodeName, balancerContainerName, networkName, nodeRevision, peersAlias } from "./naming";
import { healthCheckCommand } from "./healthCheck";
import { BalancerFiles, balancerOpenFilesLimit, renderBalancerFiles } from "./nginx";
import { BALANCER_CAPABILITIES, STACK_PRESETS } from "./presets";
import { certificateExpiry, httpsPortSuffix, tlsFileName } from "./tls";
import type { WsenvSpec } from "./schema";

/**
 * Everything the components create, decided up front as plain data: names, the rendered balancer files,
 * each node's environment. A pure function of the spec and the staged build, so the whole plan is tested
 * without Pulumi, and two runs with the same inputs plan the same thing byte for byte.
 */

export interface AppNodePlan {
  /** Container name, hostname and DNS name on the environment's network. */
  name: string;
  /** Environment of this node (without secrets, which the program adds as Pulumi secrets). */
  envs: Record<string, string>;
}

/** Who the plan is for: the environment's name prefix (see `environmentPrefix`) and the stack. */
export interface EnvironmentNames {
  prefix: string;
  stack: string;
}

export interface EnvironmentPlan {
  networkName: string;
  balancer: {
    containerName: string;
    image: string;
    port: number;
    listenAddress: string;
    /** nofile limit of the container, matching the config's worker_rlimit_nofile. */
    openFilesLimit: number;
    /** Relative CPU weight of the container (Docker's cpu shares). */
    cpuShares: number;
    /** Memory limit of the container, in MB. */
    memoryMb: number;
    capabilities: string[];
    healthPath: string;
    files: BalancerFiles;
    /** With TLS: the host port HTTPS is published on, and the certificate and the name of its files. */
    tls?: { port: number; certificate: string; fileName: string };
  };
  app: {
    imageName: string;
    buildContext: string;
    deployed: string;
    peersAlias: string;
    /** The node's health check: an HTTP request, and whether the socket server listens (see healthCheck.ts). */
    healthCheck: string[];
    memoryMb: number;
    restart: string;
    capabilities: string[];
    /** With `app.readOnly`: the tmpfs mounts (path to options) beside a read-only root filesystem. */
    readOnlyTmpfs?: Record<string, string>;
    nodes: AppNodePlan[];
  };
  url: string;
  wsUrl: string;
  /** With TLS: the same over HTTPS and wss://, and when the certificate expires (ISO 8601). */
  tls?: { url: string; wsUrl: string; certificateExpiry: string };
}

/**
 * `secretDigest` stands for the secret values (see `secretEnvDigest`): the plan never sees them, so it is
 * not a secret itself and every name and file in it stays readable in diffs.
 */
export function planEnvironment(names: EnvironmentNames, spec: Omit<WsenvSpec, "secretEnv">, build: PreparedAppBuild, secretDigest: string): EnvironmentPlan {
  const { app, balancer } = spec;
  const { prefix, stack } = names;
  const imageName = appImageName(prefix, build.contentHash);
  const healthCheck = healthCheckCommand(app.httpPort, app.wsCommand ? app.wsPort : null);
  const revision = nodeRevision(app, imageName, secretDigest, healthCheck);
  const alias = peersAlias(prefix);
  const preset = STACK_PRESETS[app.stack];
  const nodes = Array.from({ length: app.nodes }, (_, index) => {
    const name = appNodeName(prefix, revision, index);
    // Sorted keys: the container's env list is compared by position.
    const envs: Record<string, string> = Object.fromEntries(
      Object.entries({
        ...app.env,
        WSENV_STACK: stack,
        WSENV_NODE_NAME: name,
        WSENV_NODE_INDEX: String(index),
        WSENV_PEERS_HOST: alias,
        WSENV_HTTP_PORT: String(app.httpPort),
        WSENV_WS_PORT: String(app.wsPort),
        WSENV_CONTEXT: app.context,
        WSENV_CONTEXT_PATH: app.contextPath,
        WSENV_CONTEXT_DIR: app.contextDir,
        WSENV_WS_COMMAND: app.wsCommand,
        ...(preset.wsCommandUser ? { WSENV_WS_USER: preset.wsCommandUser } : {}),
      }).sort(([a], [b]) => (a < b ? -1 : 1)),
    );
    return { name, envs };
  });

  const tls = balancer.tls && { port: balancer.tls.port, certificate: balancer.tls.certificate, fileName: tlsFileName(balancer.tls.certificate) };
  const files = renderBalancerFiles({
    stackName: stack,
    balancer,
    httpPort: app.httpPort,
    wsPort: app.wsPort,
    nodeHosts: nodes.map((n) => n.name),
    tlsFileName: tls?.fileName,
  });
  const origin = `${balancer.publicHost}:${balancer.port}`;
  const tlsOrigin = balancer.tls && `${balancer.publicHost}${httpsPortSuffix(balancer.tls.port)}`;
  return {
    networkName: networkName(prefix),
    balancer: {
      containerName: balancerContainerName(prefix),
      image: balancer.image,
      port: balancer.port,
      listenAddress: balancer.listenAddress,
      openFilesLimit: balancerOpenFilesLimit(balancer),
      cpuShares: balancer.cpuShares,
      memoryMb: balancer.memoryMb,
      capabilities: BALANCER_CAPABILITIES,
      healthPath: balancer.healthPath,
      files,
      tls,
    },
    app: {
      imageName,
      buildContext: build.contextDir,
      deployed: build.deployed,
      peersAlias: alias,
      healthCheck,
      memoryMb: app.memoryMb,
      restart: app.restart,
      capabilities: preset.capabilities,
      // Counted in the node's memory limit as they fill; 64 MB each keeps one runaway writer from all of it.
      readOnlyTmpfs: app.readOnly ? Object.fromEntries(preset.writablePaths.map((p) => [p, "rw,nosuid,nodev,size=64m"])) : undefined,
      nodes,
    },
    url: `http://${origin}${app.contextPath}`,
    wsUrl: `ws://${origin}${balancer.websocketPaths[0]}`,
    tls: balancer.tls && {
      url: `https://${tlsOrigin}${app.contextPath}`,
      wsUrl: `wss://${tlsOrigin}${balancer.websocketPaths[0]}`,
      certificateExpiry: certificateExpiry(balancer.tls.certificate),
    },
  };
}
