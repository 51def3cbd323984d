#!/usr/bin/env node
/**
 * `http-retry [options] <url>`: a request with retries, curl-style. See
 * `http-retry --help`, and the README's "The http-retry command".
 */
import { run } from "../internal/cli.js"

run(process.argv)
