// GraphiQL on this page: Strawberry's inline script (strawberry/static/graphiql.html) as a file,
// so that the page's Content-Security-Policy allows scripts from this origin only. Queries go to
// this page's URL, subscriptions to the same URL over a WebSocket (graphql-transport-ws); the
// Headers pane is sent with both (as the connection_init payload on the WebSocket).
"use strict";

const EXAMPLE_QUERY = `# Welcome to GraphiQL, served by Invitations.
#
# Sign in by putting {"Authorization": "Bearer <token>"} in the Headers pane below
# (and {"Store": "<code>"} for another store view): a token comes from the
# generateCustomerToken or generateAdminToken mutation. Subscriptions run
# over a WebSocket, signed in with the same headers.
#
# Run Query: Ctrl-Enter (or press the play button)
# Auto Complete: Ctrl-Space (or just start typing)

{
  storeViews {
    code
    name
  }
}
`;

// URL parameters, for sharing a query (q) and its variables.
const parameters = {};

for (const entry of window.location.search.slice(1).split("&")) {
  const eq = entry.indexOf("=");
  if (eq >= 0) {
    parameters[decodeURIComponent(entry.slice(0, eq))] = decodeURIComponent(
      entry.slice(eq + 1),
    );
  }
}

function updateURL(data) {
  Object.assign(parameters, data);
  const newSearch =
    "?" +
    Object.keys(parameters)
      .filter((key) => Boolean(parameters[key]))
      .map((key) => encodeURIComponent(key) + "=" + encodeURIComponent(parameters[key]))
      .join("&");
  history.replaceState(null, null, newSearch);
}

const fetchURL = window.location.href.split("?")[0].split("#")[0];

function webSocketURL(url) {
  const parsed = new URL(url);
  parsed.protocol = parsed.protocol === "http:" ? "ws:" : "wss:";
  parsed.hash = "";
  return parsed.toString();
}

const fetcher = GraphiQL.createFetcher({
  url: fetchURL,
  subscriptionUrl: webSocketURL(fetchURL),
});

function GraphiQLWithExplorer() {
  const [query, setQuery] = React.useState(parameters.q || EXAMPLE_QUERY);
  const [variables, setVariables] = React.useState(parameters.variables);
  const [headers, setHeaders] = React.useState(parameters.headers);
  const explorerPlugin = GraphiQLPluginExplorer.explorerPlugin();

  return React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultEditorToolsVisibility: true,
    plugins: [explorerPlugin],
    query: query,
    variables: variables,
    headers: headers,
    onEditQuery: (newQuery) => {
      setQuery(newQuery);
      updateURL({ q: newQuery });
    },
    onEditVariables: (newVariables) => {
      setVariables(newVariables);
      updateURL({ variables: newVariables });
    },
    onEditHeaders: setHeaders,
    inputValueDeprecation: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: true,
  });
}

ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GraphiQLWithExplorer),
);
