// @ts-check
import eslint from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["node_modules/", "bin/", ".pks-simulator/"] },
    eslint.configs.recommended,
    ...tseslint.configs.strict,
    {
        files: ["**/*.ts"],
        rules: {
            "@typescript-eslint/no-explicit-any": "error",
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
            "@typescript-eslint/no-non-null-assertion": "off",
            // Records keyed by name (simulator state, config maps) are dictionaries; deleting a key is the point.
            "@typescript-eslint/no-dynamic-delete": "off",
        },
    },
    {
        files: ["test/**/*.ts"],
        rules: {
            // Chai's property assertions (`expect(x).to.be.true`) and mocha's `this` are expressions by design.
            "@typescript-eslint/no-unused-expressions": "off",
        },
    },
);
