import { BALANCER_CAPABILITIES, STACK_PRESETS, stackOfContextDir } from "../lib/presets";

/**
 * The policy pack's rules as plain functions of a resource's type, URN and inputs, so each is tested
 * directly (test/unit/policy.test.ts) and the pack (index.ts) only wraps them. Every message says what
 * to change.
 */

export interface Resource {
  type: string;
  urn: string;
  props: Record<string, unknown>;
}

export interface Rule {
  name: string;
  description: string;
  enforcementLevel: "mandatory" | "advisory";
  /** The problems of one resource, each a message that says what to change; none when it passes. */
  check(resource: Resource): string[];
}

const CONTAINER = "docker:index/container:Container";
const isContainer = (r: Resource) => r.type === CONTAINER;
/** The balancer's container is the one inside a BalancerNode (the URN lists the parents' types). */
const isBalancer = (r: Resource) => isContainer(r) && r.urn.includes("wsenv:index:BalancerNode$");
/** An app node's container is the one inside an AppServerNode. */
const isAppNode = (r: Resource) => isContainer(r) && r.urn.includes("wsenv:index:AppServerNode$");
const list = (value: unknown): Record<string, unknown>[] => (Array.isArray(value) ? (value as Record<string, unknown>[]) : []);

/** A reference with a tag or a digest that is not `latest`; an image id (sha256:...) is pinned too. */
function pinned(image: string): boolean {
  if (/^sha256:[0-9a-f]{64}$/.test(image) || /@sha256:[0-9a-f]{64}$/.test(image)) return true;
  const tag = /:([\w][\w.-]{0,127})$/.exec(image.slice(image.lastIndexOf("/") + 1))?.[1];
  return tag !== undefined && tag !== "latest";
}

/** A node's environment variable, from its `envs` list (`NAME=value`). */
const envOf = (r: Resource, name: string) =>
  (Array.isArray(r.props.envs) ? (r.props.envs as unknown[]) : []).find((e): e is string => typeof e === "string" && e.startsWith(`${name}=`))?.slice(name.length + 1);

/** The capabilities a wsenv container may add: the balancer's, or its own stack's (known from where it deploys the app). */
function allowedCapabilities(r: Resource): { allowed: string[] } | { unknownStack: true } {
  if (isBalancer(r)) return { allowed: BALANCER_CAPABILITIES };
  const stack = stackOfContextDir(envOf(r, "WSENV_CONTEXT_DIR") ?? "");
  return stack ? { allowed: STACK_PRESETS[stack].capabilities } : { unknownStack: true };
}

export const RULES: Rule[] = [
  {
    name: "no-privileged-container",
    description: "No container runs privileged.",
    enforcementLevel: "mandatory",
    check: (r) => (isContainer(r) && r.props.privileged === true ? ["runs privileged: remove `privileged: true` and add only the capabilities it needs"] : []),
  },
  {
    name: "no-host-network",
    description: "No container joins the host's network.",
    enforcementLevel: "mandatory",
    check: (r) =>
      isContainer(r) && (r.props.networkMode === "host" || list(r.props.networksAdvanced).some((n) => n.name === "host"))
        ? ["joins the host network: put it on the environment's own network and publish a port through the balancer"]
        : [],
  },
  {
    name: "no-host-mounts",
    description: "No container mounts the Docker socket or a host path.",
    enforcementLevel: "mandatory",
    check: (r) => {
      if (!isContainer(r)) return [];
      const hostPaths = [...list(r.props.volumes).map((v) => v.hostPath), ...list(r.props.mounts).filter((m) => m.type === "bind").map((m) => m.source)].filter((p): p is string => typeof p === "string");
      return hostPaths.map((p) =>
        p.endsWith("docker.sock") ? `mounts the Docker socket ${p}: that is root on the host; remove the mount` : `mounts the host path ${p}: use a Docker volume or put the files in the image`,
      );
    },
  },
  {
    name: "only-balancer-publishes",
    description: "Only the balancer publishes ports; app nodes are reached through it.",
    enforcementLevel: "mandatory",
    check: (r) => (isContainer(r) && !isBalancer(r) && list(r.props.ports).length > 0 ? ["publishes a port: remove `ports`; the balancer is the only way in"] : []),
  },
  {
    name: "memory-limit",
    description: "Every container has a memory limit.",
    enforcementLevel: "mandatory",
    check: (r) => (isContainer(r) && !(typeof r.props.memory === "number" && r.props.memory > 0) ? ["has no memory limit: set `memory` (app.memoryMb or balancer.memoryMb)"] : []),
  },
  {
    name: "pinned-images",
    description: "Images are pinned to a tag or a digest: no bare name, no `latest`.",
    enforcementLevel: "mandatory",
    check: (r) => {
      const image = isContainer(r) ? r.props.image : r.type === "docker:index/remoteImage:RemoteImage" ? r.props.name : undefined;
      return typeof image === "string" && !pinned(image) ? [`uses the image ${image}: pin it to a tag (nginx:1.27) or a digest, not a bare name or latest`] : [];
    },
  },
  {
    name: "tls-on-public-balancer",
    description: "A balancer listening on a non-loopback address serves TLS.",
    enforcementLevel: "advisory",
    check: (r) => {
      if (!isBalancer(r)) return [];
      const ports = list(r.props.ports);
      const publicPlain = ports.some((p) => p.internal === 80 && p.ip !== "127.0.0.1");
      return publicPlain && !ports.some((p) => p.internal === 443) ? ["listens on a non-loopback address without TLS: set balancer.tls, or balancer.listenAddress 127.0.0.1"] : [];
    },
  },
  {
    name: "capabilities-within-stack",
    description: "wsenv's containers drop every capability and add back only their own stack's list (the balancer: nginx's).",
    enforcementLevel: "mandatory",
    check: (r) => {
      if (!isBalancer(r) && !isAppNode(r)) return [];
      const caps = (r.props.capabilities ?? {}) as { drops?: string[]; adds?: string[] };
      const drops = caps.drops?.includes("ALL") ? [] : ["keeps Docker's default capabilities: drop ALL and add back only what its server needs"];
      const allowed = allowedCapabilities(r);
      if ("unknownStack" in allowed) return [...drops, "does not say which stack it runs (no WSENV_CONTEXT_DIR of a stack's preset in its envs): the rule cannot tell which capabilities it may add"];
      const extra = (caps.adds ?? []).filter((c) => !allowed.allowed.includes(c));
      return [...drops, ...(extra.length > 0 ? [`adds ${extra.join(", ")}, beyond its stack's list (${allowed.allowed.join(", ") || "none"}): remove them`] : [])];
    },
  },
];
