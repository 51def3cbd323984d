import * as path from "node:path"
import { defineWorkspace } from "vitest/config"

export default defineWorkspace([
  path.join(__dirname, "packages/core"),
  path.join(__dirname, "packages/node"),
  path.join(__dirname, "docs")
])
