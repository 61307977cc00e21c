// Apollo Client (GraphQLWsLink over graphql-ws) driven like subscriber.mjs: the same JSON
// lines on stdin and stdout, so tests/realtime reads both alike. A smoke test that the
// server works with the client most React apps use.
//
//   node apollo.mjs <ws url>
import { createInterface } from "node:readline";
import { ApolloClient, InMemoryCache, gql } from "@apollo/client/core/index.js";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions/index.js";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const url = process.argv[2];
const say = (message) => process.stdout.write(JSON.stringify(message) + "\n");
const subscriptions = new Map();
let wsClient = null;
let apollo = null;

function connect(params) {
  wsClient = createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: params,
    lazy: false,
    retryAttempts: 0,
    keepAlive: 0,
    on: {
      connected: () => say({ type: "connected" }),
      closed: (event) => say({ type: "closed", code: event.code, reason: String(event.reason) }),
    },
    onNonLazyError: () => {},
  });
  apollo = new ApolloClient({ link: new GraphQLWsLink(wsClient), cache: new InMemoryCache() });
}

function subscribe({ id, query, variables }) {
  const observable = apollo.subscribe({ query: gql(query), variables });
  const subscription = observable.subscribe({
    next: (result) => say({ type: "next", id, payload: result }),
    error: (error) => say({ type: "error", id, errors: [{ message: String(error?.message ?? error) }] }),
    complete: () => say({ type: "complete", id }),
  });
  subscriptions.set(id, subscription);
}

const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const command = JSON.parse(line);
  if (command.op === "connect") connect(command.params);
  else if (command.op === "subscribe") subscribe(command);
  else if (command.op === "unsubscribe") subscriptions.get(command.id)?.unsubscribe();
  else if (command.op === "exit") {
    apollo?.stop();
    await wsClient?.dispose();
    process.exit(0);
  }
});
