// docker:index/container:Container, following kreuzwerker/terraform-provider-docker
// (resource_docker_container.go / resource_docker_container_funcs.go), through the docker CLI.
import * as fs from "fs";
import * as path from "path";
import { docker, dockerRaw, inspect } from "../docker";
import { Obj, isEmpty, sleep, tail, tarSingleFile } from "../util";
import { autoname, isSetTf, labelsToMap } from "./bridge";
import { PartialCreateError, ProviderImpl, StepContext, rejectUnsupported } from "./types";

const TYPE = "docker:index/container:Container";

/** Inputs the runner translates. Any other input that is set fails loudly. */
const SUPPORTED = [
  "name", "image", "hostname", "domainname", "envs", "command", "entrypoints", "workingDir", "user",
  "ports", "publishAllPorts", "networksAdvanced", "networkMode", "restart", "maxRetryCount",
  "memory", "memorySwap", "cpuShares", "cpuSet", "cpus", "cpuPeriod", "cpuQuota", "shmSize",
  "capabilities", "securityOpts", "privileged", "devices", "ulimits", "healthcheck", "labels",
  "logDriver", "logOpts", "readOnly", "tmpfs", "init", "stopSignal", "stopTimeout", "mounts", "volumes",
  "uploads", "mustRun", "wait", "waitTimeout", "destroyGraceSeconds", "start", "rm", "removeVolumes",
  "dns", "dnsOpts", "dnsSearches", "hosts", "groupAdds", "sysctls", "tty", "stdinOpen", "ipcMode",
  "pidMode", "usernsMode", "runtime", "cgroupnsMode", "storageOpts", "containerReadRefreshTimeoutMilliseconds",
  "attach", "logs",
] as const;

/** Inputs the provider sends to ContainerUpdate (resourceDockerContainerUpdate). */
const DOCKER_UPDATE_KEYS = ["restart", "maxRetryCount", "cpuShares", "memory", "cpuSet", "memorySwap"];
/** Update-only inputs that describe the running container, which the provider does not change. */
const STATE_ONLY_KEYS = ["healthcheck", "tmpfs", "init", "cpuPeriod", "cpuQuota"];

const MiB = 1024 * 1024;

function str(v: unknown): string {
  return String(v);
}

/** Terraform schema defaults (the bridge puts them into the checked inputs). */
function applyDefaults(i: Obj): Obj {
  const d: Obj = {
    restart: "no",
    mustRun: true,
    start: true,
    wait: false,
    waitTimeout: 60,
    attach: false,
    logs: false,
    rm: false,
    readOnly: false,
    removeVolumes: true,
    tty: false,
    stdinOpen: false,
    networkMode: "bridge",
    containerReadRefreshTimeoutMilliseconds: 15000,
  };
  const r: Obj = { ...i };
  for (const [k, v] of Object.entries(d)) if (r[k] === undefined) r[k] = v;
  if (Array.isArray(r.ports)) r.ports = r.ports.map((p: Obj) => ({ ip: "0.0.0.0", protocol: "tcp", ...p, ...(p.ip === "" ? { ip: "0.0.0.0" } : {}) }));
  if (Array.isArray(r.uploads)) r.uploads = r.uploads.map((u: Obj) => ({ executable: false, ...u }));
  if (r.healthcheck && typeof r.healthcheck === "object") {
    r.healthcheck = { interval: "0s", timeout: "0s", startPeriod: "0s", startInterval: "0s", retries: 0, ...r.healthcheck };
  }
  return r;
}

function validate(ctx: StepContext, i: Obj): void {
  const where = `${TYPE} ${ctx.name}`;
  if (!i.image) throw new Error(`${where}: image is required`);
  if (!/^(no|on-failure|always|unless-stopped)$/.test(str(i.restart))) throw new Error(`${where}: restart must be one of no, on-failure, always, unless-stopped (got ${str(i.restart)})`);
  for (const c of (i.command as unknown[] | undefined) ?? []) if (c === "") throw new Error(`${where}: values for command may not be empty`);
  if (i.start === false && i.mustRun !== false) {
    throw new Error(`${where}: start: false needs mustRun: false (with mustRun true the provider removes a container that is not running)`);
  }
  for (const m of (i.mounts as Obj[] | undefined) ?? []) {
    if (m.volumeOptions?.subpath) throw new Error(`${where}: mounts[].volumeOptions.subpath needs Docker API 1.45; this engine speaks 1.41`);
  }
  if (i.attach) throw new Error(`${where}: attach: true (wait for the container to exit) is not implemented by the e2e runner`);
  if (i.logs) throw new Error(`${where}: logs: true (needs attach) is not implemented by the e2e runner`);
}

function mountArg(m: Obj): string {
  const parts: string[] = [`type=${str(m.type)}`, `target=${str(m.target)}`];
  if (m.source) parts.push(`source=${str(m.source)}`);
  if (m.readOnly) parts.push("readonly");
  const bo = m.bindOptions as Obj | undefined;
  if (bo?.propagation) parts.push(`bind-propagation=${str(bo.propagation)}`);
  const vo = m.volumeOptions as Obj | undefined;
  if (vo) {
    if (vo.noCopy) parts.push("volume-nocopy");
    for (const [k, v] of Object.entries(labelsToMap(vo.labels))) parts.push(`volume-label=${k}=${v}`);
    if (vo.driverName) parts.push(`volume-driver=${str(vo.driverName)}`);
    for (const [k, v] of Object.entries((vo.driverOptions as Obj | undefined) ?? {})) parts.push(`volume-opt=${k}=${str(v)}`);
  }
  const to = m.tmpfsOptions as Obj | undefined;
  if (to) {
    if (to.sizeBytes) parts.push(`tmpfs-size=${str(to.sizeBytes)}`);
    if (to.mode) parts.push(`tmpfs-mode=${Number(to.mode).toString(8)}`);
  }
  for (const p of parts) if (/[,"]/.test(p)) throw new Error(`mount option ${p} contains a comma or quote, which the runner cannot pass to --mount`);
  return parts.join(",");
}

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Translates the inputs into `docker create` arguments (the provider's container.Config / HostConfig). */
export function createArgs(i: Obj, note: (m: string) => void): string[] {
  const a: string[] = ["create", "--name", str(i.name)];
  const flag = (f: string, v: unknown) => {
    if (isSetTf(v)) a.push(f, str(v));
  };
  flag("--hostname", i.hostname);
  flag("--domainname", i.domainname);
  if (i.tty) a.push("--tty");
  if (i.stdinOpen) a.push("--interactive");
  flag("--stop-signal", i.stopSignal);
  flag("--stop-timeout", i.stopTimeout);
  for (const e of (i.envs as string[] | undefined) ?? []) a.push("--env", e);
  flag("--user", i.user);
  for (const p of (i.ports as Obj[] | undefined) ?? []) {
    const ip = str(p.ip || "0.0.0.0");
    const host = ip.includes(":") ? `[${ip}]` : ip;
    a.push("--publish", `${host}:${p.external ? str(p.external) : ""}:${str(p.internal)}/${str(p.protocol || "tcp")}`);
  }
  flag("--workdir", i.workingDir);
  for (const h of (i.hosts as Obj[] | undefined) ?? []) a.push("--add-host", `${str(h.host)}:${str(h.ip)}`);
  for (const u of (i.ulimits as Obj[] | undefined) ?? []) a.push("--ulimit", `${str(u.name)}=${str(u.soft)}:${str(u.hard)}`);
  for (const v of (i.volumes as Obj[] | undefined) ?? []) {
    if (v.fromContainer) {
      a.push("--volumes-from", str(v.fromContainer));
      continue;
    }
    if (!v.containerPath) throw new Error("volumes[]: containerPath is required unless fromContainer is set");
    const src = v.hostPath || v.volumeName;
    a.push("--volume", src ? `${str(src)}:${str(v.containerPath)}${v.readOnly ? ":ro" : ""}` : str(v.containerPath));
  }
  for (const [k, v] of Object.entries(labelsToMap(i.labels))) a.push("--label", `${k}=${v}`);
  const hc = i.healthcheck as Obj | undefined;
  const tests = (hc?.tests as string[] | undefined) ?? [];
  if (tests.length > 0) {
    const [kind, ...rest] = tests;
    if (kind === "NONE") a.push("--no-healthcheck");
    else if (kind === "CMD-SHELL") a.push("--health-cmd", rest.join(" "));
    else if (kind === "CMD") {
      // The CLI only takes the shell form. Same argv, but run through /bin/sh -c inside the container.
      note(`healthcheck test ["CMD", ...] is passed as CMD-SHELL (needs /bin/sh in the image; the provider runs it without a shell)`);
      a.push("--health-cmd", rest.map(shQuote).join(" "));
    } else throw new Error(`healthcheck.tests[0] must be CMD, CMD-SHELL or NONE (got ${kind})`);
    if (hc?.interval && hc.interval !== "0s") a.push("--health-interval", str(hc.interval));
    if (hc?.timeout && hc.timeout !== "0s") a.push("--health-timeout", str(hc.timeout));
    if (hc?.startPeriod && hc.startPeriod !== "0s") a.push("--health-start-period", str(hc.startPeriod));
    if (hc?.startInterval && hc.startInterval !== "0s") a.push("--health-start-interval", str(hc.startInterval));
    if (hc?.retries) a.push("--health-retries", str(hc.retries));
  }
  for (const m of (i.mounts as Obj[] | undefined) ?? []) a.push("--mount", mountArg(m));
  const mrc = Number(i.maxRetryCount ?? 0);
  a.push("--restart", mrc > 0 ? `${str(i.restart)}:${mrc}` : str(i.restart));
  if (i.privileged) a.push("--privileged");
  if (i.publishAllPorts) a.push("--publish-all");
  flag("--runtime", i.runtime);
  if (i.rm) a.push("--rm");
  if (i.readOnly) a.push("--read-only");
  flag("--log-driver", i.logDriver);
  for (const [k, v] of Object.entries((i.logOpts as Obj | undefined) ?? {})) a.push("--log-opt", `${k}=${str(v)}`);
  for (const [k, v] of Object.entries((i.tmpfs as Obj | undefined) ?? {})) a.push("--tmpfs", v ? `${k}:${str(v)}` : k);
  const caps = i.capabilities as Obj | undefined;
  for (const c of (caps?.adds as string[] | undefined) ?? []) a.push("--cap-add", c);
  for (const c of (caps?.drops as string[] | undefined) ?? []) a.push("--cap-drop", c);
  for (const d of (i.devices as Obj[] | undefined) ?? []) {
    a.push("--device", `${str(d.hostPath)}:${str(d.containerPath || d.hostPath)}:${str(d.permissions || "rwm")}`);
  }
  for (const d of (i.dns as string[] | undefined) ?? []) a.push("--dns", d);
  for (const d of (i.dnsOpts as string[] | undefined) ?? []) a.push("--dns-option", d);
  for (const d of (i.dnsSearches as string[] | undefined) ?? []) a.push("--dns-search", d);
  for (const s of (i.securityOpts as string[] | undefined) ?? []) a.push("--security-opt", s);
  if (Number(i.memory) > 0) a.push("--memory", `${str(i.memory)}m`);
  if (isSetTf(i.memorySwap)) a.push("--memory-swap", Number(i.memorySwap) > 0 ? `${str(i.memorySwap)}m` : str(i.memorySwap));
  if (Number(i.shmSize) > 0) a.push("--shm-size", `${str(i.shmSize)}m`);
  flag("--cpu-shares", i.cpuShares);
  flag("--cpuset-cpus", i.cpuSet);
  flag("--cpus", i.cpus);
  flag("--cpu-period", i.cpuPeriod);
  flag("--cpu-quota", i.cpuQuota);
  flag("--network", i.networkMode);
  flag("--userns", i.usernsMode);
  flag("--pid", i.pidMode);
  for (const [k, v] of Object.entries((i.sysctls as Obj | undefined) ?? {})) a.push("--sysctl", `${k}=${str(v)}`);
  flag("--ipc", i.ipcMode);
  for (const g of (i.groupAdds as string[] | undefined) ?? []) a.push("--group-add", g);
  flag("--cgroupns", i.cgroupnsMode);
  // The provider always sends HostConfig.Init = &init (false when unset).
  a.push(`--init=${i.init ? "true" : "false"}`);
  for (const [k, v] of Object.entries((i.storageOpts as Obj | undefined) ?? {})) a.push("--storage-opt", `${k}=${str(v)}`);
  // The CLI takes one entrypoint element; the rest goes in front of the command (same argv at run time).
  const ep = ((i.entrypoints as string[] | undefined) ?? []).slice();
  let cmd = ((i.command as string[] | undefined) ?? []).slice();
  if (ep.length > 0) {
    a.push("--entrypoint", ep[0]);
    cmd = [...ep.slice(1), ...cmd];
  }
  a.push(str(i.image), ...cmd);
  return a;
}

function uploadTar(projectDir: string, u: Obj): Buffer {
  const given = [u.content, u.contentBase64, u.source].filter((x) => !isEmpty(x)).length;
  if (given === 0) throw new Error("error with upload content: one of 'content', 'content_base64', or 'source' must be set");
  if (given > 1) throw new Error("error with upload content: only one of 'content', 'content_base64', or 'source' can be set");
  if (!isEmpty(u.owner) || !isEmpty(u.group)) throw new Error("uploads[].owner/group are not implemented by the e2e runner");
  let data: Buffer;
  if (!isEmpty(u.content)) data = Buffer.from(str(u.content), "utf8");
  else if (!isEmpty(u.contentBase64)) data = Buffer.from(str(u.contentBase64), "base64");
  else data = fs.readFileSync(path.resolve(projectDir, str(u.source)));
  let mode = u.executable ? 0o744 : 0o644;
  if (!isEmpty(u.permissions)) mode = parseInt(str(u.permissions), 8);
  return tarSingleFile(str(u.file), data, mode);
}

async function lastLogs(id: string): Promise<string> {
  const r = await dockerRaw(["logs", "--tail", "20", id]);
  return tail(r.combined, 20) || "(no log output)";
}

function flattenPorts(ports: Obj | undefined): Obj[] {
  const r: Obj[] = [];
  for (const [spec, bindings] of Object.entries(ports ?? {})) {
    const [internal, protocol] = spec.split("/");
    for (const b of (bindings as Obj[] | null) ?? []) {
      r.push({ internal: Number(internal), external: Number(b.HostPort), ip: str(b.HostIp), protocol });
    }
  }
  return r.sort((x, y) => x.internal - y.internal || str(x.ip).localeCompare(str(y.ip)));
}

/** Outputs: the inputs plus what the provider's Read takes from `docker inspect`. */
async function readOutputs(id: string, inputs: Obj): Promise<Obj> {
  const c = await inspect("container", id);
  if (!c) throw new Error(`container ${id} vanished`);
  const hc = c.HostConfig as Obj;
  const cfg = c.Config as Obj;
  const ns = c.NetworkSettings as Obj;
  const networkDatas = Object.entries((ns.Networks as Obj | undefined) ?? {})
    .map(([networkName, n]: [string, Obj]) => ({
      networkName,
      ipAddress: n.IPAddress,
      ipPrefixLength: n.IPPrefixLen,
      gateway: n.Gateway,
      globalIpv6Address: n.GlobalIPv6Address,
      globalIpv6PrefixLength: n.GlobalIPv6PrefixLen,
      ipv6Gateway: n.IPv6Gateway,
      macAddress: n.MacAddress,
    }))
    .sort((a, b) => a.networkName.localeCompare(b.networkName));
  const out: Obj = {
    ...inputs,
    id: c.Id,
    name: str(c.Name).replace(/^\//, ""),
    image: c.Image,
    hostname: cfg.Hostname,
    domainname: cfg.Domainname,
    command: isEmpty(inputs.command) ? (cfg.Cmd ?? []) : inputs.command,
    entrypoints: isEmpty(inputs.entrypoints) ? (cfg.Entrypoint ?? []) : inputs.entrypoints,
    user: cfg.User,
    workingDir: cfg.WorkingDir,
    restart: (hc.RestartPolicy as Obj).Name,
    maxRetryCount: (hc.RestartPolicy as Obj).MaximumRetryCount,
    init: hc.Init ?? false,
    logDriver: (hc.LogConfig as Obj).Type,
    networkMode: hc.NetworkMode,
    ipcMode: hc.IpcMode,
    shmSize: Math.round(Number(hc.ShmSize) / MiB),
    memory: Math.round(Number(hc.Memory) / MiB),
    memorySwap: Number(hc.MemorySwap) > 0 ? Math.round(Number(hc.MemorySwap) / MiB) : hc.MemorySwap,
    cpuShares: hc.CpuShares,
    bridge: ns.Bridge,
    ports: flattenPorts(ns.Ports as Obj | undefined),
    networkDatas,
  };
  const st = c.State as Obj;
  if (!st.Running) out.exitCode = st.ExitCode;
  return out;
}

async function removeContainer(id: string, inputs: Obj): Promise<void> {
  // resourceDockerContainerDelete: stop with destroy_grace_seconds (0 when unset), then force-remove.
  if (!inputs.attach) {
    const grace = Number(inputs.destroyGraceSeconds ?? 0) > 0 ? Number(inputs.destroyGraceSeconds) : 0;
    const r = await dockerRaw(["stop", "--time", String(grace), id]);
    if (r.code !== 0 && !/no such container/i.test(r.stderr)) throw new Error(`Error stopping container ${id}: ${r.stderr.trim()}`);
  }
  const rm = ["rm", "--force", ...(inputs.removeVolumes === false ? [] : ["--volumes"]), id];
  const r = await dockerRaw(rm);
  if (r.code !== 0 && !/no such container|is already in progress/i.test(r.stderr)) throw new Error(`Error deleting container ${id}: ${r.stderr.trim()}`);
}

export const containerProvider: ProviderImpl = {
  type: TYPE,

  async read(_ctx, old) {
    // resourceDockerContainerRead: a container that is gone is dropped from the state (SetId("")), so the
    // next apply creates it again; one that is not running while must_run is set is deleted by the read
    // itself (newer provider versions then also fail that refresh; here it is recreated at once).
    const c = await inspect("container", String(old.id));
    if (!c) return null;
    if (!(c.State as Obj).Running && old.inputs.mustRun !== false) {
      await removeContainer(String(old.id), old.inputs);
      return null;
    }
    return readOutputs(String(old.id), old.inputs);
  },

  check(ctx, news, old) {
    rejectUnsupported(TYPE, ctx.name, news, SUPPORTED, isSetTf);
    const { name, autonamed } = autoname(ctx, news, old);
    const inputs = applyDefaults({ ...news, name });
    validate(ctx, inputs);
    return { inputs, autonamed };
  },

  async create(ctx, i) {
    const img = await inspect("image", str(i.image));
    if (!img) throw new Error(`Unable to create container with image ${str(i.image)}: image ${str(i.image)} is not present locally and this machine has no registry`);
    const id = await docker(createArgs(i, ctx.note));
    ctx.note(`created container ${id.slice(0, 12)} (${str(i.name)})`);
    try {
      if (!isEmpty(i.networksAdvanced)) {
        const r = await dockerRaw(["network", "disconnect", "bridge", id]);
        if (r.code !== 0 && !/is not connected to the network bridge/i.test(r.stderr)) {
          throw new Error(`Unable to disconnect the default network: ${r.stderr.trim()}`);
        }
        for (const n of i.networksAdvanced as Obj[]) {
          const args = ["network", "connect"];
          for (const al of (n.aliases as string[] | undefined) ?? []) args.push("--alias", al);
          if (n.ipv4Address) args.push("--ip", str(n.ipv4Address));
          if (n.ipv6Address) args.push("--ip6", str(n.ipv6Address));
          args.push(str(n.name), id);
          const c = await dockerRaw(args);
          if (c.code !== 0) throw new Error(`Unable to connect to network '${str(n.name)}': ${c.stderr.trim()}`);
        }
      }
      for (const u of (i.uploads as Obj[] | undefined) ?? []) {
        const r = await dockerRaw(["cp", "-", `${id}:/`], { input: uploadTar(ctx.projectDir, u) });
        if (r.code !== 0) throw new Error(`Unable to upload volume content: ${r.stderr.trim()}`);
      }
      if (i.start) {
        const creationTime = Date.now();
        await docker(["start", id]);
        if (i.wait) {
          const deadline = Date.now() + Number(i.waitTimeout ?? 60) * 1000;
          for (;;) {
            const c = await inspect("container", id);
            const health = (c?.State as Obj | undefined)?.Health as Obj | undefined;
            if (!health) throw new Error(`wait: true but container ${str(i.name)} has no health check (the provider needs one)`);
            if (health.Status === "healthy") break;
            if (Date.now() > deadline) {
              throw new Error(`container failed to be in healthy state (status ${str(health.Status)} after ${str(i.waitTimeout)}s); last log lines:\n${await lastLogs(id)}`);
            }
            await sleep(1000);
          }
        }
        // resourceDockerContainerRead: wait for "running" (or give up when must_run is false).
        const deadline = Date.now() + Number(i.containerReadRefreshTimeoutMilliseconds || 15000);
        await sleep(100);
        for (;;) {
          const c = await inspect("container", id);
          const st = (c?.State as Obj | undefined) ?? {};
          if (st.Running || !i.mustRun) break;
          const finished = Date.parse(str(st.FinishedAt));
          if (finished >= creationTime - 1000) {
            const logs = await lastLogs(id);
            await removeContainer(id, i);
            ctx.note(`removed container ${id.slice(0, 12)}: it exited right after start (exit code ${str(st.ExitCode)})`);
            throw new Error(`container ${str(i.name)} failed to be in running state: it exited with code ${str(st.ExitCode)} (mustRun is true, so the provider removed it); last log lines:\n${logs}`);
          }
          if (Date.now() > deadline) throw new Error(`timeout while waiting for container ${str(i.name)} to become 'running'`);
          await sleep(100);
        }
      }
      return { id, outputs: await readOutputs(id, i) };
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if ((await inspect("container", id)) === undefined) throw e;
      throw new PartialCreateError(msg, id, { ...i, id });
    }
  },

  async update(ctx, old, i, changed) {
    const id = old.id!;
    if (changed.some((k) => DOCKER_UPDATE_KEYS.includes(k))) {
      const mrc = Number(i.maxRetryCount ?? 0);
      const args = ["update", "--restart", mrc > 0 ? `${str(i.restart)}:${mrc}` : str(i.restart)];
      if (Number(i.cpuShares) > 0) args.push("--cpu-shares", str(i.cpuShares));
      if (Number(i.memory) > 0) args.push("--memory", `${str(i.memory)}m`);
      if (isSetTf(i.cpuSet)) args.push("--cpuset-cpus", str(i.cpuSet));
      if (isSetTf(i.memorySwap)) args.push("--memory-swap", Number(i.memorySwap) > 0 ? `${str(i.memorySwap)}m` : str(i.memorySwap));
      args.push(id);
      await docker(args);
      ctx.note(`docker update ${args.slice(1, -1).join(" ")} ${id.slice(0, 12)}`);
    }
    const stateOnly = changed.filter((k) => STATE_ONLY_KEYS.includes(k));
    if (stateOnly.length > 0) {
      ctx.note(`${stateOnly.join(", ")} changed: the provider only records this in state, the running container keeps its old setting (as with pulumi up)`);
    }
    let outputs: Obj;
    try {
      outputs = await readOutputs(id, i);
    } catch {
      outputs = { ...old.outputs, ...i, id };
    }
    return { outputs };
  },

  async delete(ctx, old) {
    await removeContainer(old.id!, old.inputs);
    ctx.note(`removed container ${old.id!.slice(0, 12)} (${str(old.inputs.name)})`);
  },

  // pulumi/pulumi-docker provider/resources.go: "docker_container": {DeleteBeforeReplace: true}
  deleteBeforeReplace: () => true,
};
