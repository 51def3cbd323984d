import { assert, describe, it } from "@effect/vitest"
import { RetryAfter } from "@http-retry/core"
import * as Duration from "effect/Duration"

const now = Date.UTC(2026, 0, 15, 12, 0, 0) // Thu, 15 Jan 2026 12:00:00 GMT

const delayOf = (value: string, at: number = now): number => {
  const parsed = RetryAfter.parse(value, at)
  if (parsed._tag !== "Delay") assert.fail(`expected ${JSON.stringify(value)} to parse as a Delay`)
  assert.strictEqual(parsed.raw, value)
  return Duration.toMillis(parsed.delay)
}

describe.concurrent("RetryAfter", () => {
  describe("delta-seconds", () => {
    const cases: ReadonlyArray<readonly [string, number]> = [
      ["0", 0],
      ["3", 3000],
      [" 3 ", 3000],
      ["120", 120_000],
      ["3600", 3_600_000],
      ["1000000000000", 2 ** 31 * 1000]
    ]
    for (const [value, ms] of cases) {
      it(`${JSON.stringify(value)} is ${ms} ms`, () => {
        assert.strictEqual(delayOf(value), ms)
      })
    }

    it("does not depend on the clock", () => {
      assert.strictEqual(delayOf("7", 0), 7000)
      assert.strictEqual(delayOf("7", now), 7000)
    })

    it("a number past 2^31 seconds is 2^31 seconds (RFC 9111), even one too large for a double", () => {
      assert.strictEqual(delayOf("9".repeat(400)), 2 ** 31 * 1000)
      assert.strictEqual(delayOf("9".repeat(20)), 2 ** 31 * 1000)
      assert.strictEqual(delayOf(String(2 ** 31 + 1)), 2 ** 31 * 1000)
      assert.strictEqual(delayOf(String(2 ** 31 - 1)), (2 ** 31 - 1) * 1000)
    })
  })

  describe("HTTP-date", () => {
    it("IMF-fixdate", () => {
      assert.strictEqual(delayOf("Thu, 15 Jan 2026 12:00:05 GMT"), 5000)
    })

    it("RFC 850", () => {
      assert.strictEqual(delayOf("Thursday, 15-Jan-26 12:01:00 GMT"), 60_000)
    })

    it("asctime, with a space-padded day", () => {
      assert.strictEqual(delayOf("Thu Jan 15 12:00:30 2026"), 30_000)
      assert.strictEqual(delayOf("Fri Jan  2 00:00:00 2026", Date.UTC(2026, 0, 1, 23, 59, 0)), 60_000)
    })

    it("is measured from the given instant", () => {
      assert.strictEqual(delayOf("Thu, 15 Jan 2026 12:00:05 GMT", now + 2000), 3000)
    })

    it("a leap second (:60) is read as the next second, also across midnight", () => {
      assert.strictEqual(
        RetryAfter.parseHttpDate("Wed, 31 Dec 2025 23:59:60 GMT", 0),
        Date.UTC(2026, 0, 1, 0, 0, 0)
      )
      assert.strictEqual(RetryAfter.parseHttpDate("Tue, 30 Jun 2026 12:30:60 GMT", 0), Date.UTC(2026, 5, 30, 12, 31, 0))
      const parsed = RetryAfter.parse("Wed, 31 Dec 2025 23:59:60 GMT", Date.UTC(2025, 11, 31, 23, 59, 55))
      assert.isTrue(RetryAfter.is("Delay")(parsed) && Duration.toMillis(parsed.delay) === 5000, String(parsed))
    })

    it("a date in the past is a zero delay", () => {
      assert.strictEqual(delayOf("Thu, 15 Jan 2026 11:59:00 GMT"), 0)
      assert.strictEqual(delayOf("Sun, 06 Nov 1994 08:49:37 GMT"), 0)
    })

    it("a date far ahead is a long delay", () => {
      assert.strictEqual(delayOf("Fri, 15 Jan 2027 12:00:00 GMT"), 365 * 86_400_000)
    })

    it("parseHttpDate reads the three formats to the same instant", () => {
      const expected = Date.UTC(1994, 10, 6, 8, 49, 37)
      assert.strictEqual(RetryAfter.parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT", now), expected)
      assert.strictEqual(RetryAfter.parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT", now), expected)
      assert.strictEqual(RetryAfter.parseHttpDate("Sun Nov  6 08:49:37 1994", now), expected)
    })

    it("reads a two-digit RFC 850 year as at most 50 years ahead", () => {
      // 50 years ahead of 2026 is 2076: "76" is 2076, "77" is 1977.
      assert.strictEqual(RetryAfter.parseHttpDate("Wednesday, 01-Jan-76 00:00:00 GMT", now), Date.UTC(2076, 0, 1))
      assert.strictEqual(RetryAfter.parseHttpDate("Saturday, 01-Jan-77 00:00:00 GMT", now), Date.UTC(1977, 0, 1))
      assert.strictEqual(
        RetryAfter.parseHttpDate("Tuesday, 01-Jan-30 00:00:00 GMT", now),
        Date.UTC(2030, 0, 1)
      )
      assert.strictEqual(
        RetryAfter.parseHttpDate("Tuesday, 01-Jan-80 00:00:00 GMT", now),
        Date.UTC(1980, 0, 1)
      )
    })
  })

  describe("invalid values", () => {
    for (
      const value of [
        "-5",
        "1.5",
        "soon",
        "",
        "3 seconds",
        "0x10",
        "Sun, 31 Feb 2026 08:49:37 GMT",
        "Thu, 15 Jan 2026 24:00:00 GMT",
        "Thu, 15 Jan 2026 12:00:05 UTC",
        "Thu, 15 Foo 2026 12:00:05 GMT",
        "2026-01-15T12:00:05Z"
      ]
    ) {
      it(`${JSON.stringify(value)} is Invalid`, () => {
        const parsed = RetryAfter.parse(value, now)
        assert.strictEqual(parsed._tag, "Invalid")
        assert.strictEqual(parsed.raw, value)
      })
    }
  })

  it("is and match work on both cases", () => {
    const delay = RetryAfter.parse("2", now)
    const invalid = RetryAfter.parse("later", now)
    assert.isTrue(RetryAfter.is("Delay")(delay))
    assert.isTrue(RetryAfter.is("Invalid")(invalid))
    const show = RetryAfter.match({
      Delay: ({ delay }) => `wait ${Duration.format(delay)}`,
      Invalid: ({ raw }) => `ignore ${raw}`
    })
    assert.strictEqual(show(delay), "wait 2s")
    assert.strictEqual(show(invalid), "ignore later")
  })
})
