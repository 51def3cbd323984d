#!/usr/bin/env node
// Type-checks every TypeScript code block in README.md, the packages' READMEs and docs/**/*.md, and every
// `@example` in the public modules' JSDoc, so that no example can rot.
//
// - A ```ts block is a complete module: it compiles on its own, imports included, with the workspace's strict
//   settings (tsconfig.base.json). Top-level declarations may go unused; imports may not.
// - A ```ts block right after `<!-- test: path#region -->` must equal the lines between `// #region region` and
//   `// #endregion region` of that file (relative to the Markdown file). The file itself is compiled by `tsc -b`
//   and run by `pnpm test`, so such a block is a tested example, not only a compiled one.
// - ```js, ```javascript, ```jsx and ```tsx blocks are refused: write them as ```ts so they are checked.
//   Other languages (sh, python, text, json ...) are shown as they are.
//
// Errors point at the Markdown (or source) line. Exit code 1 on any error.
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const docsDir = path.join(root, "docs")
// Inside docs/node_modules: resolves the docs package's dependencies, and no linter, test runner or git sees it.
const outDir = path.join(docsDir, "node_modules", ".check-docs")
const ts = createRequire(path.join(docsDir, "package.json"))("typescript")

const CHECKED = new Set(["ts", "typescript"])
const REFUSED = new Set(["js", "javascript", "jsx", "tsx", "mjs", "cjs"])

const rel = (file) => path.relative(root, file).split(path.sep).join("/")

const walk = (dir, out = []) => {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name === "api" && dir === docsDir || entry.name.startsWith(".")) {
      continue
    }
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) walk(full, out)
    else out.push(full)
  }
  return out
}

/**
 * Fenced blocks of a Markdown text: `{ lang, code, line, directive }`, where `line` is the 1-based line of the
 * block's first code line and `directive` the `<!-- test: ... -->` right above the opening fence, if any.
 */
const fencedBlocks = (text) => {
  const lines = text.split("\n")
  const blocks = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)/.exec(lines[i])
    if (open === null) continue
    const [, indent, fence, lang] = open
    let j = i - 1
    while (j >= 0 && lines[j].trim() === "") j--
    const directive = j >= 0 ? /^\s*<!--\s*test:\s*(\S+?)\s*-->\s*$/.exec(lines[j])?.[1] : undefined
    const body = []
    let k = i + 1
    const close = new RegExp(`^\\s*\\${fence[0]}{${fence.length},}\\s*$`)
    while (k < lines.length && !close.test(lines[k])) {
      body.push(lines[k].startsWith(indent) ? lines[k].slice(indent.length) : lines[k])
      k++
    }
    blocks.push({ lang: lang.toLowerCase(), code: body.join("\n") + "\n", line: i + 2, directive })
    i = k
  }
  return blocks
}

/** The ```ts blocks inside `@example` tags of a source file's JSDoc comments. */
const jsdocExamples = (text) => {
  const out = []
  const comment = /\/\*\*[\s\S]*?\*\//g
  let match
  while ((match = comment.exec(text)) !== null) {
    const startLine = text.slice(0, match.index).split("\n").length
    const lines = match[0].split("\n").map((l) => l.replace(/^\s*\/?\*\*?\/?\s?/, "").replace(/\s*\*\/$/, ""))
    let inExample = false
    for (let i = 0; i < lines.length; i++) {
      if (/^@example\b/.test(lines[i])) inExample = true
      else if (/^@\w/.test(lines[i])) inExample = false
      else if (inExample && /^```/.test(lines[i])) {
        const lang = lines[i].slice(3).trim().toLowerCase()
        const body = []
        let k = i + 1
        while (k < lines.length && !/^```\s*$/.test(lines[k])) body.push(lines[k++])
        out.push({ lang, code: body.join("\n") + "\n", line: startLine + i + 1 })
        i = k
      }
    }
  }
  return out
}

const region = (file, name) => {
  const lines = fs.readFileSync(file, "utf8").split("\n")
  const start = lines.findIndex((l) => l.trim() === `// #region ${name}`)
  const end = lines.findIndex((l, i) => i > start && l.trim() === `// #endregion ${name}`)
  if (start === -1 || end === -1) return undefined
  return lines.slice(start + 1, end).join("\n") + "\n"
}

const errors = []
const snippets = [] // { file, source, line }
let mirrored = 0

const markdown = [
  path.join(root, "README.md"),
  ...["core", "node", "redis"].map((pkg) => path.join(root, "packages", pkg, "README.md")).filter((f) =>
    fs.existsSync(f)
  ),
  ...walk(docsDir).filter((f) => f.endsWith(".md"))
]
const sources = ["core", "node", "redis"].flatMap((pkg) =>
  walk(path.join(root, "packages", pkg, "src")).filter((f) =>
    f.endsWith(".ts") && !f.includes(`${path.sep}internal${path.sep}`)
  )
)

for (const file of markdown) {
  for (const block of fencedBlocks(fs.readFileSync(file, "utf8"))) {
    const where = `${rel(file)}:${block.line - 1}`
    if (REFUSED.has(block.lang)) {
      errors.push(`${where}: a \`\`\`${block.lang} block is not type-checked: write it as \`\`\`ts`)
      continue
    }
    if (!CHECKED.has(block.lang)) continue
    if (block.directive !== undefined) {
      const [target, name] = block.directive.split("#")
      const targetFile = path.resolve(path.dirname(file), target)
      const expected = fs.existsSync(targetFile) && name !== undefined ? region(targetFile, name) : undefined
      if (expected === undefined) errors.push(`${where}: no region "${name}" in ${target}`)
      else if (expected !== block.code) {
        errors.push(`${where}: this block differs from ${rel(targetFile)}#${name}; copy the region into the block`)
      } else mirrored++
      continue
    }
    snippets.push({ source: file, line: block.line, code: block.code })
  }
}
for (const file of sources) {
  for (const block of jsdocExamples(fs.readFileSync(file, "utf8"))) {
    if (!CHECKED.has(block.lang)) {
      errors.push(`${rel(file)}:${block.line - 1}: an @example must be a \`\`\`ts block, got "${block.lang}"`)
      continue
    }
    snippets.push({ source: file, line: block.line, code: block.code })
  }
}

// The API reference shows a namespace's summary from its `export * as X` line in index.ts: it must be the module's own.
const summaryOf = (comment) =>
  comment.split("\n").map((l) => l.replace(/^\s*\/?\*+\/?\s?/, "")).join("\n").split("@")[0].trim()
for (const pkg of ["core", "node", "redis"]) {
  const src = path.join(root, "packages", pkg, "src")
  const index = fs.readFileSync(path.join(src, "index.ts"), "utf8")
  for (const [, comment, name] of index.matchAll(/(\/\*\*(?:(?!\*\/)[\s\S])*\*\/)\s*export \* as (\w+) from/g)) {
    const own = /^\/\*\*[\s\S]*?\*\//.exec(fs.readFileSync(path.join(src, `${name}.ts`), "utf8"))?.[0] ?? ""
    if (summaryOf(comment) !== summaryOf(own)) {
      errors.push(
        `packages/${pkg}/src/index.ts: the summary above \`export * as ${name}\` differs from ${name}.ts's module comment`
      )
    }
  }
}

fs.rmSync(outDir, { recursive: true, force: true })
fs.mkdirSync(outDir, { recursive: true })
const bySnippet = new Map()
for (const [i, snippet] of snippets.entries()) {
  const name = `${String(i).padStart(3, "0")}-${rel(snippet.source).replace(/[^\w]+/g, "_")}_L${snippet.line}.ts`
  const file = path.join(outDir, name)
  fs.writeFileSync(file, snippet.code)
  bySnippet.set(path.resolve(file), snippet)
}

const base = ts.readConfigFile(path.join(root, "tsconfig.base.json"), ts.sys.readFile)
const parsed = ts.parseJsonConfigFileContent(
  {
    ...base.config,
    compilerOptions: {
      ...base.config.compilerOptions,
      composite: false,
      declaration: false,
      declarationMap: false,
      sourceMap: false,
      noEmit: true,
      types: ["node"]
    },
    files: [...bySnippet.keys()]
  },
  ts.sys,
  outDir
)
const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options })

// An example may declare what it shows and never use it; an unused import is still an error.
const UNUSED = new Set([6133, 6196, 6198])
const isImport = (node) => {
  for (let n = node; n !== undefined; n = n.parent) if (ts.isImportDeclaration(n)) return true
  return false
}
const nodeAt = (sourceFile, pos) => {
  const find = (node) =>
    pos >= node.getStart(sourceFile) && pos < node.getEnd() ? ts.forEachChild(node, find) ?? node : undefined
  return find(sourceFile)
}

for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")
  if (diagnostic.file === undefined) {
    errors.push(`error TS${diagnostic.code}: ${message}`)
    continue
  }
  const snippet = bySnippet.get(path.resolve(diagnostic.file.fileName))
  if (snippet !== undefined && UNUSED.has(diagnostic.code)) {
    const node = nodeAt(diagnostic.file, diagnostic.start)
    if (node !== undefined && !isImport(node)) continue
  }
  const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0)
  const where = snippet === undefined ?
    `${rel(diagnostic.file.fileName)}:${line + 1}:${character + 1}` :
    `${rel(snippet.source)}:${snippet.line + line}:${character + 1}`
  errors.push(`${where}: error TS${diagnostic.code}: ${message}`)
}

for (const error of errors) console.error(error)
console.log(
  `check-docs: ${snippets.length} code blocks compiled, ${mirrored} matched their tested source, ` +
    `from ${markdown.length} Markdown files and ${sources.length} modules' JSDoc: ${errors.length} errors`
)
process.exit(errors.length === 0 ? 0 : 1)
