import { mergeConfig, type ViteUserConfig } from "vitest/config"
import shared from "../../vitest.shared.js"

const config: ViteUserConfig = {
  test: {
    // The CLI tests run the built commands: build them once per run.
    globalSetup: ["./test/cli/globalSetup.ts"]
  }
}

export default mergeConfig(shared, config)
