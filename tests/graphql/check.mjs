// graphql-js, the reference implementation, against ticketd's GraphQL endpoint
// (tests/api/test_graphql.py runs this with a live server).
//
//   node tests/graphql/check.mjs <graphql url> <queries.json> <schema.graphql>
//
// 1. Runs graphql-js's own introspection query (every optional part switched on) against the
//    server, builds a client schema from the answer (buildClientSchema: it throws on any shape
//    it does not accept) and prints it: the print must equal schema.graphql byte for byte.
// 2. Validates every query of queries.json ({"name": {"query": "...", "valid": true|false}})
//    against that schema with graphql-js's full rule set: a query the tests send as valid must
//    have no error, one they send as invalid must have at least one.
// Prints one JSON line {"ok": bool, "problems": [...]}; exits 1 when not ok.
import { readFileSync } from "node:fs";
import { buildClientSchema, getIntrospectionQuery, parse, printSchema, validate } from "graphql";

const [url, queriesFile, sdlFile] = process.argv.slice(2);
const problems = [];
const introspection = getIntrospectionQuery({
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
});
const resp = await fetch(url, {
  method: "POST",
  headers: { "Content-Type": "application/json", Accept: "application/graphql-response+json" },
  body: JSON.stringify({ query: introspection }),
});
const body = await resp.json();
if (resp.status !== 200 || body.errors) {
  problems.push({ introspection: resp.status, errors: body.errors });
} else {
  let schema = null;
  try {
    schema = buildClientSchema(body.data);
  } catch (e) {
    problems.push({ buildClientSchema: String(e) });
  }
  if (schema) {
    const printed = printSchema(schema) + "\n";
    const want = readFileSync(sdlFile, "utf8");
    if (printed !== want) {
      problems.push({ printSchema: "differs from " + sdlFile, printed });
    }
    const queries = JSON.parse(readFileSync(queriesFile, "utf8"));
    for (const [name, q] of Object.entries(queries)) {
      let errors;
      try {
        errors = validate(schema, parse(q.query)).map((e) => e.message);
      } catch (e) {
        errors = [String(e)];
      }
      if (q.valid && errors.length > 0) {
        problems.push({ query: name, expected: "valid", errors });
      } else if (!q.valid && errors.length === 0) {
        problems.push({ query: name, expected: "invalid", errors });
      }
    }
  }
}
console.log(JSON.stringify({ ok: problems.length === 0, problems }));
process.exit(problems.length === 0 ? 0 : 1);
