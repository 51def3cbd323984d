import * as effectEslint from "@effect/eslint-plugin"
import eslint from "@eslint/js"
import tseslint from "typescript-eslint"

export default tseslint.config(
  {
    ignores: ["**/dist", "**/build", "**/coverage", "**/node_modules", "**/.tsbuildinfo", "**/*.md", "docs/api"]
  },
  eslint.configs.recommended,
  tseslint.configs.strict,
  effectEslint.configs.dprint,
  {
    languageOptions: {
      parser: tseslint.parser,
      ecmaVersion: 2022,
      sourceType: "module"
    },
    rules: {
      "no-fallthrough": "off",
      "no-irregular-whitespace": "off",
      "object-shorthand": "error",
      "prefer-destructuring": "off",
      "sort-imports": ["error", { ignoreCase: true, ignoreDeclarationSort: true, ignoreMemberSort: false }],
      "no-unused-vars": "off",
      "require-yield": "off",
      "@typescript-eslint/array-type": ["warn", { default: "generic", readonly: "generic" }],
      "@typescript-eslint/consistent-type-imports": "warn",
      "@typescript-eslint/no-explicit-any": "error",
      // A public module names a type declared in an internal one as `interface X extends internal.X {}`, so that
      // a user's emitted declarations can name it (TS2742 otherwise): an alias would resolve to the internal path.
      "@typescript-eslint/no-empty-object-type": ["error", { allowInterfaces: "with-single-extends" }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-namespace": "off",
      "@typescript-eslint/unified-signatures": "off",
      "@typescript-eslint/no-invalid-void-type": "off",
      "@typescript-eslint/no-dynamic-delete": "off",
      "@effect/no-import-from-barrel-package": ["error", {
        packageNames: ["effect", "@effect/platform", "@effect/platform-node"]
      }],
      "@effect/dprint": [
        "error",
        {
          config: {
            indentWidth: 2,
            lineWidth: 120,
            semiColons: "asi",
            quoteStyle: "alwaysDouble",
            trailingCommas: "never",
            operatorPosition: "maintain",
            "arrowFunction.useParentheses": "force"
          }
        }
      ]
    }
  },
  {
    // Plain Node scripts (build, pack test): Node's globals, no TypeScript to declare them.
    files: ["scripts/**/*.mjs", "packages/*/scripts/**/*.mjs"],
    languageOptions: {
      globals: { console: "readonly", process: "readonly", performance: "readonly", URL: "readonly" }
    }
  },
  {
    files: ["**/test/**", "**/examples/**", "**/bench/**", "**/benchmark/**"],
    rules: {
      "@effect/no-import-from-barrel-package": ["error", { packageNames: ["@effect/platform-node"] }]
    }
  }
)
