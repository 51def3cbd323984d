import * as path from "node:path"
import { defineConfig, type TestProjectConfiguration } from "vitest/config"

const projects: Array<TestProjectConfiguration> = [
  path.join(__dirname, "packages/core"),
  path.join(__dirname, "packages/node"),
  // The Node layer's tests again, on the platform's undici client (`transport: "platform"`) instead of the direct
  // transport: both must pass everything. The CLI tests run the built command and are not repeated.
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
      // TransportParity already runs both transports itself.
      exclude: ["test/cli/**", "test/TransportParity.test.ts", "**/node_modules/**"],
      globalSetup: [],
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
    // `pnpm coverage`: the libraries' own code, as the tests reach it in process. The CLI tests run the built command
    // in a child process, which v8 coverage does not see; bin/ only starts that command.
    coverage: {
      provider: "v8",
      include: ["packages/*/src/**/*.ts"],
      exclude: ["packages/*/src/bin/**"],
      reporter: ["text-summary", "text", "html"],
      reportsDirectory: "coverage",
      thresholds: {}
    }
  }
})
