// Runs graphql-http's server audits (GraphQL over HTTP) against URL and prints one JSON
// object: {"ok": [...], "notice": [...], "warn": [...], "error": [...]}, each entry {id, name, reason}.
// Exit status 0 either way; tests/e2e/test_graphql_http_audit.py judges the results.
//   node run.cjs URL
"use strict";
const { serverAudits } = require("graphql-http");

async function main(url) {
  const results = { ok: [], notice: [], warn: [], error: [] };
  for (const audit of serverAudits({ url, fetchFn: fetch })) {
    const result = await audit.fn();
    const entry = { id: audit.id, name: audit.name };
    if (result.status !== "ok") {
      entry.reason = result.reason;
    }
    (results[result.status] ||= []).push(entry);
  }
  process.stdout.write(JSON.stringify(results) + "\n");
}

main(process.argv[2]).catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(2);
});
