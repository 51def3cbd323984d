#!/usr/bin/env node
// Runs the chaos suite (packages/node/test/chaos) on both transports, with the full 20,000-call soak, and writes
// RELIABILITY.md at the repository root from the counts the suite's ledger wrote (packages/node/test/chaos/Ledger.ts).
// The report is written only when every file passed on both transports; otherwise it is left as it is, and the exit
// code is the run's. `pnpm test` never writes it.
//
// Environment: HTTP_RETRY_CHAOS_SEED replays another seed (the report names the seed it ran with).
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const reportPath = path.join(root, "RELIABILITY.md")
const SOAK_CALLS = 20_000

const TRANSPORTS = [
  ["direct", "@http-retry/node", "direct transport (the default)"],
  ["platform", "@http-retry/node (platform transport)", "platform transport (`transport: \"platform\"`)"]
]
const SECTIONS = ["faults", "retryAfter", "interruption", "redirects", "secrets", "badInput", "soak"]

const git = (...args) => execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim()

const directory = fs.mkdtempSync(path.join(os.tmpdir(), "http-retry-reliability-"))
try {
  const run = spawnSync(
    "pnpm",
    [
      "exec",
      "vitest",
      "run",
      "--typecheck.enabled=false",
      ...TRANSPORTS.flatMap(([, project]) => ["--project", project]),
      "packages/node/test/chaos/"
    ],
    {
      cwd: root,
      stdio: "inherit",
      env: { ...process.env, HTTP_RETRY_RELIABILITY_DIR: directory, HTTP_RETRY_SOAK_CALLS: String(SOAK_CALLS) }
    }
  )
  if (run.status !== 0) {
    console.error(`reliability: the chaos suite failed (exit ${run.status ?? run.signal}); RELIABILITY.md is unchanged`)
    process.exit(run.status ?? 1)
  }
  const sections = TRANSPORTS.map(([transport]) =>
    SECTIONS.map((section) => {
      const file = path.join(directory, `${transport}-${section}.json`)
      if (!fs.existsSync(file)) {
        console.error(`reliability: no counts from ${transport}/${section}; RELIABILITY.md is unchanged`)
        process.exit(1)
      }
      return JSON.parse(fs.readFileSync(file, "utf8"))
    })
  )
  const seeds = new Set(sections.flat().map((t) => t.seed))
  if (seeds.size !== 1) throw new Error(`reliability: the files ran with different seeds: ${[...seeds]}`)
  const dirty = git("status", "--porcelain", "--", ".", ":!RELIABILITY.md") !== ""
  const commit = `${git("rev-parse", "--short=12", "HEAD")}${dirty ? " with uncommitted changes" : ""}`
  fs.writeFileSync(reportPath, render(sections, { seed: [...seeds][0], commit, date: new Date() }))
  console.log(`reliability: wrote ${path.relative(process.cwd(), reportPath)} (seed ${[...seeds][0]}, ${commit})`)
} finally {
  fs.rmSync(directory, { recursive: true, force: true })
}

function render(byTransport, { commit, date, seed }) {
  const n = (value) => value.toLocaleString("en-US")
  const sum = (tallies, field) => tallies.reduce((total, tally) => total + tally[field], 0)
  const faults = (tallies) => tallies.reduce((total, tally) => total + tally.faults.length, 0)
  const rows = [
    ["Faults tried", faults],
    ["Calls made", (t) => sum(t, "calls")],
    ["Calls ended with success", (t) => sum(t, "succeeded")],
    ["Calls ended with a typed error", (t) => sum(t, "typedErrors")],
    ["Calls interrupted on purpose", (t) => sum(t, "interrupted")],
    ["Calls lost (a defect or an untyped failure)", (t) => sum(t, "lost")],
    ["Calls hung", (t) => sum(t, "hung")],
    ["Sockets left open", (t) => sum(t, "socketsLeft")],
    ["Fibers left alive", (t) => sum(t, "fibersLeft")],
    ["Unhandled rejections", (t) => sum(t, "unhandledRejections")],
    ["Renderings scanned for secrets", (t) => sum(t, "renderingsScanned")],
    ["Secrets found in any channel", (t) => sum(t, "secretsFound")]
  ]
  const soakCalls = byTransport[0].find((t) => t.section === "soak").calls
  const lines = [
    "# Reliability",
    "",
    "<!-- Written by `pnpm reliability` (scripts/reliability.mjs) from the chaos suite's own counts. Do not edit. -->",
    "",
    "What the chaos suite (`packages/node/test/chaos`) did to the library on its last run by `pnpm reliability`,",
    "on each transport, counted by the suite itself: real loopback servers that reset, stall, drip, lie and",
    `redirect; interruptions at random points; a soak of ${n(soakCalls)} requests with 30% of answers faulted; every`,
    "error, log line and span scanned for secrets; bad input of every kind. `pnpm test` runs the same suite with a",
    "smaller soak and writes nothing here.",
    "",
    `Run on ${date.toISOString().slice(0, 10)} at commit ${commit}, seed ${seed}. Replay it with`,
    `\`HTTP_RETRY_CHAOS_SEED=${seed} pnpm reliability\`.`,
    "",
    `| | ${TRANSPORTS.map(([, , label]) => label).join(" | ")} |`,
    `| --- | ${TRANSPORTS.map(() => "---:").join(" | ")} |`,
    ...rows.map(([label, value]) => `| ${label} | ${byTransport.map((t) => n(value(t))).join(" | ")} |`),
    "",
    "A call ends in exactly one way: with its answer, or with one of the library's typed errors (`HttpStatusError`,",
    "`RequestError`, `ResponseError`, `TimeoutException`, or a validation error naming the bad value). A call is lost if",
    "it ends any other way, and hung if it is still running at its bound (30 seconds a call; 15 ms a call for the whole",
    "soak, at least 2 minutes). Fibers are counted with a `Supervisor` around each call; sockets by the servers, after",
    "the client's scope has closed.",
    ""
  ]
  TRANSPORTS.forEach(([, , label], i) => {
    lines.push(
      `## By part, ${label}`,
      "",
      "| Part | Faults | Calls | Success | Typed error | Interrupted | Lost | Hung | Sockets left | Fibers left | Secrets found |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...byTransport[i].map((t) =>
        `| ${t.title} | ${t.faults.length} | ${n(t.calls)} | ${n(t.succeeded)} | ${n(t.typedErrors)} | ${
          n(t.interrupted)
        } | ${t.lost} | ${t.hung} | ${t.socketsLeft} | ${t.fibersLeft} | ${t.secretsFound} |`
      ),
      ""
    )
  })
  lines.push(
    "## Faults tried",
    "",
    ...byTransport[0].flatMap((t) => [`### ${t.title}`, "", ...t.faults.map((fault) => `- ${fault}`), ""])
  )
  return lines.join("\n")
}
