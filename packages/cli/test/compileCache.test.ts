import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as TestServer from "../../node/test/utils/TestServer.js"
import { run, tempDir, version } from "./utils.js"

const cacheFiles = (dir: string) =>
  fs.existsSync(path.join(dir, "http-retry")) ? fs.readdirSync(path.join(dir, "http-retry")) : []

describe("http-retry's code cache", () => {
  it.scopedLive("the first run writes V8's code cache in a private directory; the next runs read it, same answers", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const env = { XDG_CACHE_HOME: dir }
      const server = yield* TestServer.make(() => TestServer.respond(200, { body: "cached" }))
      const first = yield* run(["--version"], { env })
      assert.strictEqual(first.stdout.toString(), `http-retry ${version}\n`)
      const files = cacheFiles(dir)
      assert.strictEqual(files.length, 1)
      assert.match(files[0], /^http-retry-[0-9a-f]{20}\.v8cache$/)
      assert.strictEqual(fs.statSync(path.join(dir, "http-retry")).mode & 0o777, 0o700)
      assert.strictEqual(fs.statSync(path.join(dir, "http-retry", files[0])).mode & 0o777, 0o600)

      for (let i = 0; i < 2; i++) {
        const result = yield* run([server.url], { env })
        assert.strictEqual(result.code, 0, result.stderr)
        assert.strictEqual(result.stdout.toString(), "cached")
        assert.strictEqual(result.stderr, "")
      }
      assert.deepStrictEqual(cacheFiles(dir), files)
      assert.strictEqual(server.requests.length, 2)
    }))

  it.scopedLive("HTTP_RETRY_COMPILE_CACHE=0 writes none; a directory others can write is not used", () =>
    Effect.gen(function*() {
      const off = yield* tempDir
      const result = yield* run(["--version"], { env: { XDG_CACHE_HOME: off, HTTP_RETRY_COMPILE_CACHE: "0" } })
      assert.strictEqual(result.code, 0)
      assert.deepStrictEqual(cacheFiles(off), [])

      const shared = yield* tempDir
      fs.mkdirSync(path.join(shared, "http-retry"), { mode: 0o777 })
      fs.chmodSync(path.join(shared, "http-retry"), 0o777)
      const again = yield* run(["--version"], { env: { XDG_CACHE_HOME: shared } })
      assert.strictEqual(again.code, 0)
      assert.strictEqual(again.stdout.toString(), `http-retry ${version}\n`)
      assert.deepStrictEqual(cacheFiles(shared), [])
    }))
})
