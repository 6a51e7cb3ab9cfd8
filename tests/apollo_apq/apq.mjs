// Apollo Client's persisted-queries link against the service at argv[2]: prints, as JSON, what
// each operation returned and every HTTP exchange it took (method, what was sent, status, headers).
import { createHash } from "node:crypto";
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";

const url = process.argv[2];
const exchanges = [];

async function recordingFetch(input, init) {
  const response = await fetch(input, init);
  const target = new URL(typeof input === "string" ? input : input.url);
  exchanges.push({
    method: init?.method ?? "GET",
    sentQuery: init?.body ? "query" in JSON.parse(init.body) : target.searchParams.has("query"),
    extensions: init?.body
      ? JSON.parse(init.body).extensions ?? null
      : JSON.parse(target.searchParams.get("extensions") ?? "null"),
    status: response.status,
    cacheControl: response.headers.get("cache-control"),
    body: await response.clone().json(),
  });
  return response;
}

const client = new ApolloClient({
  cache: new InMemoryCache(),
  link: ApolloLink.from([
    new PersistedQueryLink({
      sha256: (text) => createHash("sha256").update(text).digest("hex"),
      useGETForHashedQueries: true,
    }),
    new HttpLink({ uri: url, fetch: recordingFetch }),
  ]),
});

const STORE_VIEWS = gql`
  query StoreViews {
    storeViews {
      code
      locale
    }
  }
`;
const SIGN_IN = gql`
  mutation SignIn($username: String!, $password: String!) {
    generateAdminToken(username: $username, password: $password) {
      token
      userErrors {
        code
      }
    }
  }
`;

const report = { operations: [], exchanges };
async function run(name, work) {
  const before = exchanges.length;
  try {
    const result = await work();
    report.operations.push({ name, data: result.data ?? null, error: result.error?.message ?? null });
  } catch (error) {
    report.operations.push({ name, data: null, error: String(error) });
  }
  report.operations.at(-1).exchanges = [before, exchanges.length];
}

await run("first query", () => client.query({ query: STORE_VIEWS, fetchPolicy: "network-only" }));
await run("second query", () => client.query({ query: STORE_VIEWS, fetchPolicy: "network-only" }));
for (const attempt of ["first mutation", "second mutation"]) {
  await run(attempt, () =>
    client.mutate({ mutation: SIGN_IN, variables: { username: "nobody", password: "wrong" } }),
  );
}
process.stdout.write(JSON.stringify(report));
