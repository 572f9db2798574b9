import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { applyStdin, renderApplyScript } from "../lib/balancerApply";
import type { BalancerFiles } from "../lib/nginx";
import { NGINX_IMAGE_LAYOUT } from "../lib/presets";
import { renderTlsScript, tlsStdin } from "../lib/tls";

/** Arguments of {@link BalancerNode}. */
export interface BalancerNodeArgs {
  /** Name of the nginx container. */
  containerName: pulumi.Input<string>;
  /** nginx image (official layout: /etc/nginx/nginx.conf, nginx as PID 1). Changing it replaces the container. */
  image: pulumi.Input<string>;
  /** The environment's private network, shared with the app nodes. */
  networkName: pulumi.Input<string>;
  /** Host port the balancer is published on. Changing it replaces the container. */
  port: pulumi.Input<number>;
  /** Host address the port is bound to (`0.0.0.0` for every interface, `127.0.0.1` for this machine only). */
  listenAddress: pulumi.Input<string>;
  /** The container's open-files limit; must cover the config's `worker_rlimit_nofile`. */
  openFilesLimit: pulumi.Input<number>;
  /** CPU weight when the host is busy (Docker's cpu shares; 1024 is a container's default). Changes in place. */
  cpuShares: pulumi.Input<number>;
  /** Memory limit in MB. Changes in place, without replacing the container. */
  memoryMb: pulumi.Input<number>;
  /** Capabilities kept after dropping all. */
  capabilities: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * The rendered nginx.conf and snippet. They are not container inputs: a change reaches the running
   * container as a checked, graceful reload, never as a replacement that would cut every socket.
   */
  files: pulumi.Input<BalancerFiles>;
  /** Path of the balancer's own health endpoint; the config step asks it which config is live. */
  healthPath: pulumi.Input<string>;
  /**
   * Current addresses of the app nodes. nginx resolves the nodes' names only when it loads its config, so
   * a node that came back with another address (recreated after it vanished) needs a reload; the
   * addresses are an input of the config step for that reason, which also orders it after the nodes.
   */
  upstreamAddresses: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * HTTPS: the host port it is published on, and the certificate and key the TLS step writes into the
   * container before the config step judges them (pass them as a secret: the key is one). Turning TLS on
   * or off replaces the container (a published port); a new certificate is a new pair of files and a
   * reload. Default: no HTTPS.
   */
  tls?: { port: pulumi.Input<number>; files: pulumi.Input<{ fileName: string; certificate: string; key: string }> };
}

/** The nginx balancer node: the only container with a published port, and its config as its own resource. */
export class BalancerNode extends pulumi.ComponentResource {
  /** Name of the running balancer container. */
  public readonly containerName: pulumi.Output<string>;
  /** Host port it is published on. */
  public readonly port: pulumi.Output<number>;

  constructor(name: string, args: BalancerNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("wsenv:index:BalancerNode", name, {}, opts);
    const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, { parent: this });
    const container = new docker.Container(
      `${name}-container`,
      {
        name: args.containerName,
        image: image.imageId,
        ports: [
          { internal: NGINX_IMAGE_LAYOUT.listenPort, external: args.port, ip: args.listenAddress },
          ...(args.tls ? [{ internal: NGINX_IMAGE_LAYOUT.tlsListenPort, external: args.tls.port, ip: args.listenAddress }] : []),
        ],
        networksAdvanced: [{ name: args.networkName }],
        restart: "unless-stopped",
        ulimits: [{ name: "nofile", soft: args.openFilesLimit, hard: args.openFilesLimit }],
        cpuShares: args.cpuShares,
        memory: args.memoryMb,
        // No swap. Unset, Docker allows as much swap as memory and reports that back, which the provider
        // takes for a change on every refresh (a replacement); set equal, a memory change updates both.
        memorySwap: args.memoryMb,
        capabilities: { drops: ["ALL"], adds: args.capabilities },
        securityOpts: ["no-new-privileges:true"],
        // nginx's graceful shutdown when the container is stopped (by hand, or by the daemon shutting down);
        // SIGTERM, Docker's default, is nginx's fast shutdown that cuts requests in flight.
        stopSignal: "SIGQUIT",
      },
      { parent: this },
    );
    const files = pulumi.output(args.files);
    // The certificate and key, on stdin only: the key is in no container input, environment value or log.
    const tlsStep =
      args.tls &&
      new command.local.Command(
        `${name}-tls`,
        {
          create: renderTlsScript(),
          stdin: pulumi.secret(pulumi.output(args.tls.files).apply((f) => tlsStdin(f.fileName, f.certificate, f.key))),
          environment: { WSENV_BALANCER: container.name },
          triggers: [container.id],
        },
        { parent: this, additionalSecretOutputs: ["stdin"] },
      );
    new command.local.Command(
      `${name}-config`,
      {
        create: renderApplyScript(),
        stdin: files.apply(applyStdin),
        environment: {
          WSENV_BALANCER: container.name,
          WSENV_REVISION: files.revision,
          WSENV_HEALTH_PATH: args.healthPath,
          // nginx resolves node names only when it loads its config: a node back under a new address
          // changes this value, and so runs the step again (an update). The script reports them.
          WSENV_UPSTREAM_ADDRESSES: pulumi.output(args.upstreamAddresses).apply((addresses) => addresses.join(" ")),
        },
        // A new container starts from the image's default config and must get the files again.
        triggers: [container.id],
      },
      // nginx -t judges the certificate and key too, so they must be in place first.
      { parent: this, dependsOn: tlsStep ? [tlsStep] : [] },
    );
    this.containerName = container.name;
    this.port = pulumi.output(args.port);
    this.registerOutputs({ containerName: this.containerName, port: this.port });
  }
}
