// Runs graphql-http's GraphQL-over-HTTP audits against a server and prints one JSON line:
// {"ok": [names], "warn": [{name, reason}], "error": [{name, reason}]}.
// Usage: node audit.mjs http://127.0.0.1:PORT/graphql
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
const report = { ok: [], warn: [], error: [], notice: [] };
for (const audit of serverAudits({ url, fetchFn: fetch })) {
  const result = await audit.fn();
  if (result.status === 'ok') report.ok.push(audit.name);
  else report[result.status].push({ name: audit.name, reason: result.reason });
}
console.log(JSON.stringify(report));
