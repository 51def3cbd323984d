import * as path from "node:path"
import { defineConfig, type TestProjectConfiguration } from "vitest/config"

const projects: Array<TestProjectConfiguration> = [
  path.join(__dirname, "packages/core"),
  path.join(__dirname, "packages/node"),
  path.join(__dirname, "packages/redis"),
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
      typecheck: { enabled: false },
      // Read by the chaos suite's ledger, to file its counts under this transport in RELIABILITY.md.
      env: { HTTP_RETRY_TEST_TRANSPORT: "platform" }
    }
  },
  path.join(__dirname, "docs")
]

export default defineConfig({
  test: {
    projects,
    // `pnpm coverage`: the libraries' own code (@http-retry/core, @http-retry/node and @http-retry/redis), as the tests run it in process.
    // @http-retry/cli is left out: its tests run the bundled command in a child process, which v8 coverage in the test
    // process does not see.
    coverage: {
      provider: "v8",
      include: ["packages/core/src/**/*.ts", "packages/node/src/**/*.ts", "packages/redis/src/**/*.ts"],
      reporter: ["text-summary", "text", "html"],
      reportsDirectory: "coverage",
      // The levels reached, rounded down a little, so that coverage cannot fall without this failing.
      thresholds: { statements: 96.5, branches: 93.5, functions: 96.0, lines: 96.5 }
    }
  }
})
