import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, realpathSync } from "node:fs";
import { mkdir, realpath, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { z } from "zod";
import { errorMessage, RuntimeError } from "../../errors.js";
import {
  SANDBOX_LAYER_DIR,
  type Sandbox,
  type SandboxCapabilities,
  type SandboxLayerSpec,
  type SandboxProvider,
  type SandboxSpec,
} from "../sandbox-provider.js";
import { type CgroupFactory, detectCgroups } from "./cgroup-limits.js";
import {
  attachDisk,
  type DiskSupport,
  detachDisk,
  detectDiskImages,
  mountedDisk,
  mountSourcesAt,
  type SandboxDisk,
} from "./disk-image.js";
import { createEgressProxy } from "./egress-proxy.js";
import { type HostMounts, hostMounts } from "./host-mounts.js";
import { giveFolderTo, HostUsers, unreachableFolders } from "./host-users.js";
import { closeInheritedOnExec } from "./inherited-descriptors.js";
import { buildLayer, type ExtraMounts } from "./layer-build.js";
import { LayerStore } from "./layer-store.js";
import { LocalSandbox, type LocalSandboxConfig, type LocalSandboxMove } from "./local-sandbox.js";
import {
  type LocalSandboxOptions,
  localSandboxOptionsSchema,
  type ResolvedLocalSandboxOptions,
} from "./local-sandbox-options.js";
import { findNsenter, type ListenerMethod, listenerMethod, listenInSandbox } from "./netns-listeners.js";
import { ReadOnlyFiles } from "./read-only-files.js";
import { locateRunner, type RunnerLocation } from "./runner-location.js";
import { planSandboxNetwork } from "./sandbox-network.js";
import { type SandboxStorage, sandboxLayout } from "./sandbox-paths.js";
import { writeSyscallFilter } from "./syscall-filter.js";

const execFileAsync = promisify(execFile);
const MIB = 1024 * 1024;

/** What the provider learns about the host on first use (never at construction). */
interface HostFacts {
  readonly realRootDir: string;
  readonly runner: RunnerLocation | undefined;
  readonly mounts: HostMounts;
  readonly users: HostUsers;
  /** The compiled seccomp filter (isolated sandboxes only). */
  readonly syscallFilter: string | undefined;
  /** How the server listens inside sandboxes with a network policy (isolated sandboxes only). */
  readonly listeners: ListenerMethod | undefined;
  readonly layers: LayerStore;
}

/** Folder in the root folder holding the built layers (`layer-store.ts`). */
const LAYERS_FOLDER = ".layers";

/** File in the root folder holding the compiled seccomp filter. */
const SYSCALL_FILTER_FILE = ".syscall-filter.bpf";

/**
 * Sandboxes as folders on this machine, `<rootDir>/<name>/{workspace,home}`,
 * with every command run under bubblewrap: own user, pid, ipc and uts
 * namespaces, uid `options.uid` without capabilities, a seccomp filter
 * (`syscall-filter.ts`), no nested user namespaces, a read-only system, and
 * only the sandbox's workspace (`/workspace`) and home (`/home/agent`)
 * writable. bwrap itself runs as the sandbox's own unprivileged host uid
 * (`HostUsers`), so the uid inside maps to it, never to host root. bwrap
 * looks up the host folders it mounts as that uid: `check()` refuses, naming
 * them, folders it cannot enter (e.g. an install or data folder below a
 * private `/root`). The folder outlives the sandbox: creating a sandbox with the same
 * name again reuses its workspace and home.
 *
 * Disk quota (`limits.diskMiB`): where the host can loop-mount (root,
 * `/dev/loop-control`, `mkfs.ext4`; probed once, on first use), workspace and
 * home of a new sandbox live on a sparse ext4 image of that size in its folder
 * (`disk-image.ts`), mounted from create to terminate and kept in between.
 * The size is fixed when the image is made. Sandboxes whose folder predates
 * images (plain `workspace/` and `home/` folders) keep them, without a
 * quota: no copying, so nothing can fail half-way or overflow a quota; they
 * get an image only once removed and created afresh. Where the host cannot
 * loop-mount, every sandbox uses plain folders, `capabilities.resourceLimits
 * .disk` is false and a warning says why once.
 *
 * Workspace and home belong to the sandbox's host uid, mode 0700; the files
 * the agent creates, and those the runtime writes for it, do too. What is
 * mounted from the host is read-only, and only a curated part of `/etc` is
 * visible.
 */
export function createLocalSandboxProvider(options: LocalSandboxOptions): SandboxProvider {
  const parsed = localSandboxOptionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new RuntimeError(
      "VALIDATION_FAILED",
      `Invalid local sandbox options: ${z.prettifyError(parsed.error)}`,
    );
  }
  const config = parsed.data;
  const isolated = !config.unsafeNoIsolation;
  const live = new Map<string, LocalSandbox>();
  let facts: Promise<HostFacts> | undefined;
  let warned = false;
  // Detected on first use (capabilities or create), never at construction.
  let cgroups: { factory: CgroupFactory | undefined } | undefined;
  const cgroupFactory = () => {
    cgroups ??= { factory: isolated ? detectCgroups() : undefined };
    return cgroups.factory;
  };

  let diskSupport: DiskSupport | undefined;
  /** Probes loop-mounted images on first use (capabilities or create); warns once when unsupported. */
  const disks = (): DiskSupport => {
    if (diskSupport) return diskSupport;
    if (!isolated) {
      diskSupport = { supported: false, reason: "sandboxes run without isolation" };
      return diskSupport;
    }
    mkdirSync(config.rootDir, { recursive: true });
    diskSupport = detectDiskImages(realpathSync(config.rootDir));
    if (!diskSupport.supported) {
      process.emitWarning(
        `Local sandboxes have no disk quota on workspace and home (${diskSupport.reason}); only /tmp is size-limited. ` +
          "Loop-mounted disk images need root, /dev/loop-control and mkfs.ext4.",
        { code: "AGENT_RUNTIME_NO_DISK_QUOTA" },
      );
    }
    return diskSupport;
  };
  // create and remove of one name run one after the other (mounts, CONFLICT check).
  const queues = new Map<string, Promise<unknown>>();
  const serially = <T>(name: string, task: () => Promise<T>): Promise<T> => {
    const previous = queues.get(name) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(task);
    const settled = next.catch(() => undefined);
    queues.set(name, settled);
    void settled.then(() => {
      if (queues.get(name) === settled) queues.delete(name);
    });
    return next;
  };

  const hostFacts = () => {
    facts ??= (async () => {
      await mkdir(config.rootDir, { recursive: true });
      const realRootDir = await realpath(config.rootDir);
      const runner = locateRunner();
      const mounts = hostMounts({ realRootDir, runner, extraReadOnlyPaths: config.extraReadOnlyPaths });
      const users = new HostUsers(realRootDir, config.hostUids);
      let syscallFilter: string | undefined;
      if (isolated) {
        syscallFilter = join(realRootDir, SYSCALL_FILTER_FILE);
        writeSyscallFilter(syscallFilter);
        closeInheritedOnExec();
      }
      const listeners = isolated ? listenerMethod() : undefined;
      const layers = new LayerStore(join(realRootDir, LAYERS_FOLDER));
      return { realRootDir, runner, mounts, users, syscallFilter, listeners, layers };
    })();
    facts.catch(() => {
      facts = undefined;
    });
    return facts;
  };

  /**
   * Creates the sandbox's cgroups and, with a network policy, its egress
   * proxy and the plan of its listeners (opened in each process's namespace
   * by `LocalSandbox.exec`).
   */
  const confine = async (id: string, spec: SandboxSpec, runtimeDir: string, hostUid: number) => {
    const factory = cgroupFactory();
    const cgroup = await factory?.create(id, {
      pids: config.limits.pids,
      memoryBytes: config.limits.memoryMiB * MIB,
      cpus: config.limits.cpus,
    });
    if (!spec.network) return { cgroup };
    try {
      const { listeners: method } = await hostFacts();
      const plan = planSandboxNetwork(spec.network);
      const hostsFile = join(runtimeDir, "etc", "hosts");
      await writeFile(hostsFile, plan.hostsFile);
      const proxy = createEgressProxy(spec.network);
      const listen = (pid: number) =>
        listenInSandbox(pid, plan.routes, {
          method: method!,
          hostUid,
          onConnection: (client, endpoint) => proxy.connect(client, endpoint),
        });
      return { cgroup, network: { hostsFile, proxy, listen } };
    } catch (error) {
      await cgroup?.destroy();
      throw error;
    }
  };

  return {
    id: "local",
    capabilities: {
      attach: false,
      nonRootUser: isolated,
      readOnlySystem: isolated,
      networkPolicy: isolated,
      syscallFilter: isolated,
      layers: isolated,
      /** Probes the host's cgroups on first read. */
      get resourceLimits() {
        const factory = cgroupFactory();
        const enforced = factory !== undefined;
        return { pids: enforced, memory: enforced, disk: disks().supported, cpu: factory?.cpu ?? false };
      },
      /** Through the sandboxes' cgroups (their freezer), so isolated sandboxes only; probed on first read. */
      get suspend() {
        return cgroupFactory()?.freezer ?? false;
      },
    } satisfies SandboxCapabilities,

    async check() {
      if (!isolated && !warned) {
        warned = true;
        process.emitWarning(
          "Local sandboxes run WITHOUT isolation (unsafeNoIsolation): agents act directly on this machine as the server's user.",
          { code: "AGENT_RUNTIME_UNSAFE_NO_ISOLATION" },
        );
      }
      const { runner, users, realRootDir, mounts, listeners } = await hostFacts();
      if (isolated && users.distinct) {
        const blocked = unreachableFolders([realRootDir, ...mounts.sources], config.hostUids.first);
        if (blocked.length > 0) {
          throw new RuntimeError(
            "SANDBOX_FAILED",
            `Sandboxes run as unprivileged users, which cannot enter ${blocked.join(", ")} ` +
              `(no search permission for other users) to reach the sandbox folders or the runtime's files. ` +
              `Allow it (\`chmod o+x ${blocked.join(" ")}\`), or keep the install and data folders elsewhere (e.g. /opt, /srv).`,
          );
        }
      }
      if (isolated) await checkBubblewrap(config, users.distinct ? config.hostUids.first : undefined);
      if (listeners === "helper" && !findNsenter()) {
        throw new RuntimeError(
          "SANDBOX_FAILED",
          "Sandboxes with a network policy need `nsenter` (util-linux) when the server runs without " +
            'CAP_SYS_ADMIN (not as root): install it, or set `egress: "open"` (CLI: --egress open).',
        );
      }
      if (!runner || !existsSync(runner.mainPath)) {
        throw new RuntimeError(
          "SANDBOX_FAILED",
          runner
            ? `The sandbox runner is not built (${runner.mainPath} is missing): run \`npm run build\`.`
            : "Cannot find the @agent-runtime/runner package next to @agent-runtime/server: install it.",
        );
      }
      const missing = config.extraReadOnlyPaths.filter((path) => !existsSync(path));
      if (missing.length > 0) {
        throw new RuntimeError("SANDBOX_FAILED", `extraReadOnlyPaths do not exist: ${missing.join(", ")}`);
      }
    },

    create(spec: SandboxSpec): Promise<Sandbox> {
      return createWith(spec);
    },

    /**
     * Deletes everything of the sandbox: terminates it if it runs here; kills
     * and removes its cgroups, which a server that crashed while it ran
     * leaves behind; unmounts its disk image
     * (lazily when busy); deletes its folder (workspace, home, runtime files,
     * disk image, host-uid record) and releases its host uid.
     */
    remove,

    /**
     * Builds a layer (`layer-build.ts`) in a sandbox of its own, named
     * `layer-<key prefix>-<random>` and removed afterwards, with the staging
     * folder mounted writable at `SANDBOX_LAYER_DIR`.
     */
    async prepareLayer(spec: SandboxLayerSpec): Promise<void> {
      if (!isolated) {
        throw new RuntimeError("SANDBOX_FAILED", "Layers need isolation (unsafeNoIsolation is set)");
      }
      const { layers, realRootDir } = await hostFacts();
      await layers.prepare(spec, (staging) =>
        buildLayer(spec, {
          staging,
          realRootDir,
          create: (buildSpec, extra) => createWith(buildSpec, extra),
          remove,
        }),
      );
    },
  };

  function createWith(spec: SandboxSpec, extra?: ExtraMounts): Promise<Sandbox> {
    if (spec.network && !isolated) {
      return Promise.reject(
        new RuntimeError("SANDBOX_FAILED", "A network policy needs isolation (unsafeNoIsolation is set)"),
      );
    }
    if (spec.layer !== undefined && !isolated) {
      return Promise.reject(
        new RuntimeError("SANDBOX_FAILED", "Layers need isolation (unsafeNoIsolation is set)"),
      );
    }
    return serially(spec.name, async () => {
      const { realRootDir, layers } = await hostFacts();
      const layout = sandboxLayout(realRootDir, spec.name, isolated, storageOf(realRootDir, spec.name));
      if (live.has(spec.name)) {
        throw new RuntimeError("CONFLICT", `Sandbox ${spec.name} is already running; terminate it first`);
      }
      const mounts: ExtraMounts = {
        args: [...(spec.layer === undefined ? [] : layers.mountArgs(spec.layer)), ...(extra?.args ?? [])],
        ...(extra?.prepare ? { prepare: extra.prepare } : {}),
      };
      let disk: SandboxDisk | undefined;
      if (layout.storage === "image") {
        const support = disks();
        if (!support.supported) {
          throw new RuntimeError(
            "SANDBOX_FAILED",
            `Sandbox ${spec.name} keeps its files on a disk image, which this host cannot mount (${support.reason})`,
          );
        }
        disk = await attachDisk(support.tools, layout.disk, config.limits.diskMiB * MIB);
      }
      try {
        return await start(spec, layout, disk, mounts);
      } catch (error) {
        await disk?.release();
        throw error;
      }
    });
  }

  function remove(name: string): Promise<void> {
    return serially(name, async () => {
      const { realRootDir, users } = await hostFacts();
      const layout = sandboxLayout(realRootDir, name, isolated);
      await live.get(name)?.terminate();
      await cgroupFactory()?.removeWhere((cgroup) => isSandboxIdOf(name, cgroup));
      if (mountSourcesAt(layout.disk.mountDir).length > 0) {
        const support = disks();
        await detachDisk(support.supported ? support.tools : { umount: "umount" }, layout.disk.mountDir, {
          lazy: true,
        });
      }
      await rm(layout.sandboxDir, { recursive: true, force: true });
      await users.release(layout.sandboxDir);
    });
  }

  /**
   * Moves a running sandbox's folder to the name `to` (`Sandbox.rename`):
   * refused with `CONFLICT` while a sandbox of that name runs or its folder
   * exists. The processes keep running (their mounts were made already, and
   * the disk image's mount moves with the folder); what the provider finds
   * by path (the host uid record, the read-only copies, the generated `/etc`
   * files, the image's mount point) is found at the new one.
   */
  function move(sandbox: LocalSandbox, current: LocalSandboxConfig, to: string): Promise<LocalSandboxMove> {
    const from = current.name;
    return serially(from, () =>
      serially(to, async () => {
        const { realRootDir, users } = await hostFacts();
        const target = sandboxLayout(realRootDir, to, isolated, current.layout.storage);
        if (live.has(to) || existsSync(target.sandboxDir)) {
          throw new RuntimeError("CONFLICT", `A sandbox named ${to} exists already`);
        }
        await rename(current.layout.sandboxDir, target.sandboxDir);
        if (live.get(from) === sandbox) live.delete(from);
        live.set(to, sandbox);
        users.moved(current.layout.sandboxDir, target.sandboxDir);
        const readOnlyFiles = new ReadOnlyFiles(target);
        await readOnlyFiles.load();
        const isolation = current.isolation;
        const etcDir = join(target.runtimeDir, "etc");
        const support = disks();
        return {
          name: to,
          layout: target,
          readOnlyFiles,
          ...(isolation
            ? {
                isolation: {
                  ...isolation,
                  passwdFile: join(etcDir, "passwd"),
                  groupFile: join(etcDir, "group"),
                  ...(isolation.network
                    ? { network: { ...isolation.network, hostsFile: join(etcDir, "hosts") } }
                    : {}),
                  ...(isolation.disk && support.supported
                    ? { disk: mountedDisk(support.tools, target.disk.mountDir) }
                    : {}),
                },
              }
            : {}),
        };
      }),
    );
  }

  /** Image for new sandboxes where the host can mount one; an existing sandbox keeps what it has. */
  function storageOf(realRootDir: string, name: string): SandboxStorage {
    const { sandboxDir, disk } = sandboxLayout(realRootDir, name, isolated);
    if (existsSync(disk.image)) return "image";
    if (existsSync(join(sandboxDir, "workspace")) || existsSync(join(sandboxDir, "home"))) return "folders";
    return disks().supported ? "image" : "folders";
  }

  async function start(
    spec: SandboxSpec,
    layout: ReturnType<typeof sandboxLayout>,
    disk: SandboxDisk | undefined,
    extra: ExtraMounts,
  ): Promise<Sandbox> {
    const { runner, mounts, users, syscallFilter } = await hostFacts();
    const etcDir = join(layout.runtimeDir, "etc");
    await Promise.all(
      [layout.areas.workspace.host, layout.areas.home.host, etcDir].map((dir) =>
        mkdir(dir, { recursive: true }),
      ),
    );
    const hostUid = isolated ? await users.of(layout.sandboxDir) : undefined;
    if (hostUid !== undefined) {
      for (const area of [layout.areas.workspace.host, layout.areas.home.host])
        await giveFolderTo(area, hostUid);
      await extra.prepare?.(hostUid);
    }
    const passwdFile = join(etcDir, "passwd");
    const groupFile = join(etcDir, "group");
    if (isolated) {
      await writeFile(passwdFile, passwd(config, layout.areas.home.inside));
      await writeFile(groupFile, group(config));
    }
    const readOnlyFiles = new ReadOnlyFiles(layout);
    await readOnlyFiles.load();
    const id = `${sandboxIdPrefix(spec.name)}${randomUUID().slice(0, SANDBOX_ID_SUFFIX_LENGTH)}`;
    const confinement = hostUid !== undefined ? await confine(id, spec, layout.runtimeDir, hostUid) : {};
    const sandbox: LocalSandbox = new LocalSandbox({
      id,
      name: spec.name,
      layout,
      readOnlyFiles,
      runnerCommand: runner
        ? [process.execPath, ...runner.entry.nodeOptions, runner.entry.path]
        : [process.execPath, "@agent-runtime/runner is not installed"],
      env: {
        PATH: mounts.path,
        HOME: layout.areas.home.inside,
        LANG: "C.UTF-8",
        ...(spec.layer === undefined ? {} : layerEnv(mounts.path)),
        ...spec.env,
      },
      isolation:
        hostUid !== undefined
          ? {
              bwrapPath: config.bwrapPath,
              uid: config.uid,
              gid: config.gid,
              hostUid,
              syscallFilter: syscallFilter!,
              hostMounts: mounts.args,
              passwdFile,
              groupFile,
              tmpSizeBytes: config.limits.diskMiB * MIB,
              extraMounts: extra.args,
              ...confinement,
              ...(disk ? { disk } : {}),
            }
          : undefined,
      onTerminated: () => {
        if (live.get(sandbox.name) === sandbox) live.delete(sandbox.name);
      },
      rename: (current, to) => move(sandbox, current, to),
    });
    live.set(spec.name, sandbox);
    return sandbox;
  }
}

/** What every process of a sandbox with a layer gets: its `bin` folders on `PATH`, its `python` folder importable. */
function layerEnv(path: string): Record<string, string> {
  return {
    PATH: `${SANDBOX_LAYER_DIR}/node_modules/.bin:${path}:${SANDBOX_LAYER_DIR}/python/bin`,
    PYTHONPATH: `${SANDBOX_LAYER_DIR}/python`,
  };
}

/** Length of the random part of a sandbox id (`local-<name>-<hex>`), which names its cgroups. */
const SANDBOX_ID_SUFFIX_LENGTH = 8;

function sandboxIdPrefix(name: string): string {
  return `local-${name}-`;
}

/** Whether `id` is the id of a sandbox named `name` (and not of one whose name merely starts with it). */
function isSandboxIdOf(name: string, id: string): boolean {
  const prefix = sandboxIdPrefix(name);
  return (
    id.startsWith(prefix) &&
    new RegExp(`^[0-9a-f]{${SANDBOX_ID_SUFFIX_LENGTH}}$`).test(id.slice(prefix.length))
  );
}

/**
 * Runs a minimal sandbox with the configured uid, as `hostUid` when given (an
 * unprivileged user: bwrap then needs the kernel to allow user namespaces to
 * users other than root); throws `SANDBOX_FAILED` saying how to fix it.
 */
async function checkBubblewrap(
  config: ResolvedLocalSandboxOptions,
  hostUid: number | undefined,
): Promise<void> {
  const args = [
    "--unshare-user",
    "--disable-userns",
    "--unshare-pid",
    "--uid",
    String(config.uid),
    "--gid",
    String(config.gid),
  ];
  try {
    await execFileAsync(config.bwrapPath, [...args, "--ro-bind", "/", "/", "--proc", "/proc", "true"], {
      timeout: 10_000,
      cwd: "/",
      ...(hostUid === undefined ? {} : { uid: hostUid, gid: hostUid }),
    });
  } catch (error) {
    const reason = (error as { stderr?: string }).stderr?.trim() || errorMessage(error);
    throw new RuntimeError(
      "SANDBOX_FAILED",
      `bubblewrap does not work at ${config.bwrapPath} (${reason}). Install it (Debian/Ubuntu: \`apt-get install bubblewrap\`, ` +
        "version 0.8 or later; it needs the kernel to allow user namespaces to unprivileged users, " +
        "e.g. `sysctl user.max_user_namespaces` above 0), or set `bwrapPath`. To run agents without any isolation, " +
        "at your own risk, set `unsafeNoIsolation: true` (CLI: --unsafe-no-isolation).",
      { cause: error },
    );
  }
}

function passwd(config: ResolvedLocalSandboxOptions, home: string): string {
  return [
    "root:x:0:0:root:/root:/usr/sbin/nologin",
    `agent:x:${config.uid}:${config.gid}:Agent:${home}:/bin/bash`,
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
    "",
  ].join("\n");
}

function group(config: ResolvedLocalSandboxOptions): string {
  return ["root:x:0:", `agent:x:${config.gid}:`, "nogroup:x:65534:", ""].join("\n");
}
