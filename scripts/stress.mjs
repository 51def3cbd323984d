#!/usr/bin/env node
// `pnpm test` on a busy machine: the whole suite (or the vitest arguments given) with two processes beside it that
// keep a core busy each, as a laptop compiling something else does. The suite must pass as it does on an idle machine.
//
// The busy loops are stopped when the run ends, fails or is interrupted (Ctrl-C, SIGTERM); each also checks every few
// hundred milliseconds that this process is still its parent and exits if not, so not even a SIGKILL here leaves one
// spinning.
import { spawn } from "node:child_process"

const LOOPS = 2

// process.ppid is cheap, but not free: look at it once every 2^24 turns (well under a second).
const loop = `const parent = ${process.pid}
for (let i = 1; ; i++) if ((i & 0xffffff) === 0 && process.ppid !== parent) process.exit(0)`

const loops = Array.from({ length: LOOPS }, () => spawn(process.execPath, ["-e", loop], { stdio: "ignore" }))

const stopLoops = () => {
  for (const child of loops) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
}
process.on("exit", stopLoops)

console.log(`stress: ${LOOPS} busy loops (pids ${loops.map((child) => child.pid).join(", ")}) beside the suite`)
const started = Date.now()
const suite = spawn("pnpm", ["exec", "vitest", "run", ...process.argv.slice(2)], { stdio: "inherit" })

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    // Ctrl-C reaches vitest too (same process group); a signal sent to this process alone is passed on.
    suite.kill(signal)
    stopLoops()
  })
}

suite.on("exit", (code, signal) => {
  stopLoops()
  const seconds = ((Date.now() - started) / 1000).toFixed(0)
  console.log(`stress: the suite ${code === 0 ? "passed" : "failed"} in ${seconds} s beside ${LOOPS} busy loops`)
  process.exit(code ?? (signal === null ? 1 : 128))
})
