#!/usr/bin/env node
/**
 * `pnpm demo`: the library against an embedded misbehaving server, scenario
 * by scenario, with what it did and why.
 */
import { runProcess } from "../internal/cli.js"
import { main } from "../internal/demo.js"

runProcess(main)
