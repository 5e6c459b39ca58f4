// Lint and formatting rules of the Effect monorepo (v3 branch): typescript-eslint's recommended rules,
// dprint formatting through @effect/eslint-plugin (2 spaces, no semicolons, double quotes, width 120).
import effectPlugin from "@effect/eslint-plugin"
import js from "@eslint/js"
import tseslint from "typescript-eslint"

export default tseslint.config(
  {
    ignores: [
      "**/build/**",
      "**/dist/**",
      "**/node_modules/**",
      "**/*.d.ts",
      "docs/**",
      // generated from the shared source by scripts/lines.mjs (linted there)
      "packages/*-effect4/src/**",
      "packages/*-effect4/test/**",
      // Effect 4 versions of documentation examples: type-checked by docgen in the generated sources
      "packages/*-effect4/examples/**"
    ]
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...effectPlugin.configs.dprint,
  {
    plugins: { "@effect": effectPlugin },
    languageOptions: { parser: tseslint.parser, ecmaVersion: 2022, sourceType: "module" },
    rules: {
      // TypeScript checks names; ESLint's no-undef does not know Node's globals.
      "no-undef": "off",
      "no-fallthrough": "off",
      "no-irregular-whitespace": "off",
      "object-shorthand": "error",
      "prefer-destructuring": "off",
      "no-unused-vars": "off",
      "prefer-rest-params": "off",
      "prefer-spread": "off",
      "@typescript-eslint/array-type": ["warn", { default: "generic", readonly: "generic" }],
      "@typescript-eslint/consistent-type-imports": "warn",
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-empty-object-type": "off",
      "@typescript-eslint/no-namespace": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
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
    // CommonJS fixtures (the packed-install test's `require` consumer).
    files: ["**/*.cjs"],
    languageOptions: { sourceType: "commonjs" },
    rules: { "@typescript-eslint/no-require-imports": "off" }
  }
)
