/**
 * How the server and the client processes sit on the CPUs. Every scenario runs in each placement, and every ratio
 * is reported once per placement: GC-heavy clients gain most from a free core for V8's helper threads, which
 * moves the ratios between clients, so a target counts as met only when it holds in both.
 *
 * - "unpinned": every process free to run on every CPU this process may use (the scheduler decides).
 * - "pinned": the server on one CPU, each client on another, with `taskset -c` at exec time, so that every
 *   thread of the process (V8's GC and compiler threads, libuv's pool) inherits the mask.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"

export type PlacementName = "unpinned" | "pinned"

export interface Placement {
  readonly name: PlacementName
  /** `taskset -c` CPU list for the server, or undefined to leave it free. */
  readonly serverCpus: string | undefined
  /** `taskset -c` CPU list for each client process, or undefined to leave it free. */
  readonly clientCpus: string | undefined
  /** One sentence for the report. */
  readonly description: string
}

export interface Placements {
  readonly taskset: string | undefined
  readonly placements: ReadonlyArray<Placement>
  /** Why the pinned placement is not run, when it is not. */
  readonly pinnedUnavailable: string | undefined
}

const tasksetCandidates = ["/usr/bin/taskset", "/bin/taskset", "/usr/local/bin/taskset"]

/** The CPUs this process may run on, from /proc (Linux), else 0..n-1. */
export const allowedCpus = (): ReadonlyArray<number> => {
  try {
    const list = /Cpus_allowed_list:\s*(\S+)/.exec(Fs.readFileSync("/proc/self/status", "utf8"))?.[1]
    if (list !== undefined) return parseCpuList(list)
  } catch {
    // not Linux: fall through
  }
  return []
}

/** "0-2,5" → [0, 1, 2, 5] */
export const parseCpuList = (list: string): Array<number> =>
  list.split(",").flatMap((part) => {
    const [from, to] = part.split("-").map(Number)
    if (Number.isNaN(from)) return []
    return Array.from({ length: (to ?? from) - from + 1 }, (_, i) => from + i)
  })

/** The `Cpus_allowed_list` of the calling process, as a child reports where it ran. */
export const ownCpuList = (): string | undefined => {
  try {
    return /Cpus_allowed_list:\s*(\S+)/.exec(Fs.readFileSync("/proc/self/status", "utf8"))?.[1]
  } catch {
    return undefined
  }
}

/** `tasksetPath`: where taskset is (default: looked for in the usual places); a path that does not exist turns
 * pinning off, as on a machine without it. */
export const detectPlacements = (wanted: ReadonlyArray<PlacementName>, tasksetPath?: string): Placements => {
  const cpus = allowedCpus()
  const free = cpus.length > 0 ? `CPUs ${cpus.join(",")}` : "every CPU"
  const unpinned: Placement = {
    name: "unpinned",
    serverCpus: undefined,
    clientCpus: undefined,
    description: `unpinned: the server and each client free to run on ${free}, where the scheduler puts them`
  }
  const candidates = tasksetPath === undefined ? tasksetCandidates : [tasksetPath]
  const taskset = candidates.find((path) => Fs.existsSync(path))
  let pinnedUnavailable: string | undefined
  let pinned: Placement | undefined
  if (taskset === undefined) {
    pinnedUnavailable = `taskset not found (looked for ${candidates.join(", ")})`
  } else if (cpus.length < 2) {
    pinnedUnavailable = `fewer than 2 CPUs to pin to (${free})`
  } else {
    const [server, client] = [String(cpus[0]), String(cpus[1])]
    const probe = ChildProcess.spawnSync(taskset, ["-c", client, process.execPath, "-e", ""], { encoding: "utf8" })
    if (probe.status !== 0) {
      pinnedUnavailable = `\`taskset -c ${client}\` failed: ${(probe.stderr ?? "").trim().split("\n")[0]}`
    } else {
      pinned = {
        name: "pinned",
        serverCpus: server,
        clientCpus: client,
        description: `pinned: the server on CPU ${server} (\`taskset -c ${server}\`), each client on CPU ${client} ` +
          `(\`taskset -c ${client}\`), all their threads included`
      }
    }
  }
  const placements: Array<Placement> = []
  if (wanted.includes("unpinned") || (wanted.includes("pinned") && pinned === undefined)) placements.push(unpinned)
  if (wanted.includes("pinned") && pinned !== undefined) placements.push(pinned)
  return { taskset, placements, pinnedUnavailable: wanted.includes("pinned") ? pinnedUnavailable : undefined }
}

/** `fork` options that start the child under `taskset -c cpus` (or plainly when `cpus` is undefined). */
export const forkUnder = (
  taskset: string | undefined,
  cpus: string | undefined,
  execArgv: ReadonlyArray<string>
): { readonly execPath?: string; readonly execArgv: Array<string> } =>
  cpus === undefined || taskset === undefined
    ? { execArgv: [...execArgv] }
    : { execPath: taskset, execArgv: ["-c", cpus, process.execPath, ...execArgv] }
