import { available, skipLine } from "./redisServer.js"

// One line when the Redis tests cannot run here, and in CI a failure: CI installs redis-server (.ci/run).
export default function setup() {
  if (available) return
  if (process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false") {
    throw new Error(`${skipLine}; in CI that is a failure`)
  }
  console.log(skipLine)
}
