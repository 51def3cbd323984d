import { mergeConfig, type ViteUserConfig } from "vitest/config"
import shared from "../../vitest.shared.js"

const config: ViteUserConfig = {
  test: {
    globalSetup: ["test/globalSetup.ts"]
  }
}

export default mergeConfig(shared, config)
