import * as path from "node:path"
import { defineWorkspace } from "vitest/config"

export default defineWorkspace([
  path.join(__dirname, "packages/core"),
  path.join(__dirname, "packages/node"),
  path.join(__dirname, "packages/cli"),
  // The Node layer's tests again, on the platform's undici client (`transport: "platform"`) instead of the direct
  // transport: both must pass everything.
  {
    extends: path.join(__dirname, "packages/node/vitest.config.ts"),
    root: path.join(__dirname, "packages/node"),
    resolve: {
      alias: [{
        find: /^@http-retry\/node$/,
        replacement: path.join(__dirname, "packages/node/test/platform/index.ts")
      }]
    },
    test: {
      name: "@http-retry/node (platform transport)",
      // TransportParity and the conformance suite run every transport themselves.
      exclude: ["test/TransportParity.test.ts", "test/conformance/**", "**/node_modules/**"],
      typecheck: { enabled: false }
    }
  },
  path.join(__dirname, "docs")
])
