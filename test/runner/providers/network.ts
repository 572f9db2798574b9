// docker:index/network:Network and docker:index/volume:Volume (Terraform docker provider, no Update: every change replaces).
import { docker, dockerRaw, inspect } from "../docker";
import { Obj, sleep } from "../util";
import { autoname, isSetTf, labelsToMap, nameRequiresDeleteBeforeReplace } from "./bridge";
import { ProviderImpl, rejectUnsupported } from "./types";

const NETWORK = "docker:index/network:Network";
const VOLUME = "docker:index/volume:Volume";

const NETWORK_INPUTS = ["name", "driver", "internal", "attachable", "ingress", "ipv6", "ipamDriver", "ipamOptions", "ipamConfigs", "labels", "options"];
const VOLUME_INPUTS = ["name", "driver", "driverOpts", "labels"];

/** Retries a removal while the object is still in use, like the provider's StateChangeConf loops (30 s). */
async function removeWithRetry(args: string[], busy: RegExp): Promise<void> {
  const deadline = Date.now() + 30000;
  for (;;) {
    const r = await dockerRaw(args);
    if (r.code === 0 || /no such|not found/i.test(r.stderr)) return;
    if (!busy.test(r.stderr) || Date.now() > deadline) throw new Error(`docker ${args.join(" ")}: ${r.stderr.trim()}`);
    await sleep(1000);
  }
}

export const networkProvider: ProviderImpl = {
  type: NETWORK,

  check(ctx, news, old) {
    rejectUnsupported(NETWORK, ctx.name, news, NETWORK_INPUTS, isSetTf);
    const { name, autonamed } = autoname(ctx, news, old);
    // resource_docker_network.go: ipam_driver Default "default"
    return { inputs: { ipamDriver: "default", ...news, name }, autonamed };
  },

  async create(ctx, i) {
    const a = ["network", "create"];
    if (isSetTf(i.driver)) a.push("--driver", String(i.driver));
    if (i.internal) a.push("--internal");
    if (i.attachable) a.push("--attachable");
    if (i.ingress) a.push("--ingress");
    if (i.ipv6) a.push("--ipv6");
    if (isSetTf(i.ipamDriver)) a.push("--ipam-driver", String(i.ipamDriver));
    for (const [k, v] of Object.entries((i.ipamOptions as Obj | undefined) ?? {})) a.push("--ipam-opt", `${k}=${String(v)}`);
    for (const c of (i.ipamConfigs as Obj[] | undefined) ?? []) {
      if (c.subnet) a.push("--subnet", String(c.subnet));
      if (c.ipRange) a.push("--ip-range", String(c.ipRange));
      if (c.gateway) a.push("--gateway", String(c.gateway));
      for (const [k, v] of Object.entries((c.auxAddress as Obj | undefined) ?? {})) a.push("--aux-address", `${k}=${String(v)}`);
    }
    for (const [k, v] of Object.entries((i.options as Obj | undefined) ?? {})) a.push("--opt", `${k}=${String(v)}`);
    for (const [k, v] of Object.entries(labelsToMap(i.labels))) a.push("--label", `${k}=${v}`);
    a.push(String(i.name));
    const id = await docker(a);
    ctx.note(`created network ${id.slice(0, 12)} (${String(i.name)})`);
    const n = (await inspect("network", id))!;
    const ipam = n.IPAM as Obj;
    return {
      id,
      outputs: {
        ...i,
        id,
        name: n.Name,
        driver: n.Driver,
        internal: n.Internal,
        attachable: n.Attachable,
        ingress: n.Ingress,
        ipv6: n.EnableIPv6,
        ipamDriver: ipam.Driver,
        ipamConfigs: ((ipam.Config as Obj[] | null) ?? []).map((c) => ({ subnet: c.Subnet, gateway: c.Gateway, ipRange: c.IPRange, auxAddress: c.AuxiliaryAddresses })),
        options: n.Options ?? {},
        scope: n.Scope,
      },
    };
  },

  async update() {
    throw new Error("docker networks have no update in the provider (every change replaces); replace-rules.json must say replace");
  },

  async delete(ctx, old) {
    await removeWithRetry(["network", "rm", old.id!], /active endpoints/i);
    ctx.note(`removed network ${old.id!.slice(0, 12)} (${String(old.inputs.name)})`);
  },

  deleteBeforeReplace: (_old, autonamedNew) => nameRequiresDeleteBeforeReplace(autonamedNew),
};

export const volumeProvider: ProviderImpl = {
  type: VOLUME,

  check(ctx, news, old) {
    rejectUnsupported(VOLUME, ctx.name, news, VOLUME_INPUTS, isSetTf);
    const { name, autonamed } = autoname(ctx, news, old);
    return { inputs: { ...news, name }, autonamed };
  },

  async create(ctx, i) {
    const a = ["volume", "create"];
    if (isSetTf(i.driver)) a.push("--driver", String(i.driver));
    for (const [k, v] of Object.entries((i.driverOpts as Obj | undefined) ?? {})) a.push("--opt", `${k}=${String(v)}`);
    for (const [k, v] of Object.entries(labelsToMap(i.labels))) a.push("--label", `${k}=${v}`);
    a.push(String(i.name));
    const name = await docker(a);
    ctx.note(`created volume ${name}`);
    const v = (await inspect("volume", name))!;
    return { id: name, outputs: { ...i, id: name, name: v.Name, driver: v.Driver, driverOpts: v.Options ?? {}, mountpoint: v.Mountpoint } };
  },

  async update() {
    throw new Error("docker volumes have no update in the provider (every change replaces); replace-rules.json must say replace");
  },

  async delete(ctx, old) {
    await removeWithRetry(["volume", "rm", "--force", old.id!], /in use/i);
    ctx.note(`removed volume ${old.id!}`);
  },

  deleteBeforeReplace: (_old, autonamedNew) => nameRequiresDeleteBeforeReplace(autonamedNew),
};
