// A graphql-ws client driven by JSON lines on stdin, reporting on stdout (one JSON object
// a line) for tests/realtime: what a browser app using graphql-ws would see.
//
//   node subscriber.mjs <ws url>          connectionParams come from the "connect" command
//
// stdin:  {"op":"connect","params":{...}}  {"op":"subscribe","id":"s1","query":"...","variables":{}}
//         {"op":"unsubscribe","id":"s1"}  {"op":"exit"}
// stdout: {"type":"connected"} {"type":"next","id":...,"payload":...} {"type":"error","id":...,"errors":[...]}
//         {"type":"complete","id":...} {"type":"closed","code":...,"reason":"..."} {"type":"ping"}
import { createInterface } from "node:readline";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const url = process.argv[2];
const say = (message) => process.stdout.write(JSON.stringify(message) + "\n");
const unsubscribers = new Map();
let client = null;

function connect(params) {
  client = createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: params,
    lazy: false,
    retryAttempts: 0, // a test wants the first close, not a reconnect
    keepAlive: 0,
    on: {
      connected: () => say({ type: "connected" }),
      closed: (event) => say({ type: "closed", code: event.code, reason: String(event.reason) }),
      ping: (received) => received && say({ type: "ping" }),
    },
    onNonLazyError: () => {}, // reported through "closed"
  });
}

function subscribe({ id, query, variables }) {
  const dispose = client.subscribe(
    { query, variables },
    {
      next: (payload) => say({ type: "next", id, payload }),
      error: (error) => {
        const errors = Array.isArray(error) ? error : [{ message: String(error?.reason ?? error) }];
        say({ type: "error", id, errors, code: error?.code ?? null });
      },
      complete: () => say({ type: "complete", id }),
    },
  );
  unsubscribers.set(id, dispose);
}

const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const command = JSON.parse(line);
  if (command.op === "connect") connect(command.params);
  else if (command.op === "subscribe") subscribe(command);
  else if (command.op === "unsubscribe") unsubscribers.get(command.id)?.();
  else if (command.op === "exit") {
    await client?.dispose();
    process.exit(0);
  }
});
lines.on("close", async () => {
  await client?.dispose();
  process.exit(0);
});
