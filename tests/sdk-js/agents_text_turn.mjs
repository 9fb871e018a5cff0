// @openai/agents-realtime's WebSocket transport, unchanged, pointed at our proxy with its
// `url` option and a proxy token as its API key: one text turn. Prints what happened as
// JSON for tests/integration/test_websocket_proxy_agents_sdk.py. TRACING=off asks for no
// tracing (the SDK's default asks for "auto").
import { OpenAIRealtimeWebSocket } from "@openai/agents-realtime";

const { PROXY_URL, PROXY_TOKEN, TRACING } = process.env;
const transport = new OpenAIRealtimeWebSocket({ url: PROXY_URL });
const seen = [];
const errors = [];
// Without a listener, an error event would throw (Node's EventEmitter); "*" records it.
transport.on("error", () => {});
const done = new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`no response.done; saw ${seen.join(", ")}`)), 20000);
  transport.on("*", (event) => {
    seen.push(event.type);
    if (event.type === "error") errors.push(event.error);
    if (event.type === "response.done") {
      clearTimeout(timer);
      resolve(event);
    }
  });
});

await transport.connect({
  apiKey: PROXY_TOKEN,
  model: "gpt-realtime-2.1",
  initialSessionConfig: {
    outputModalities: ["text"],
    ...(TRACING === "off" ? { tracing: null } : {}),
  },
});
transport.sendMessage("hello from the agents SDK", {});
const finished = await done;
transport.close();
const text = finished.response.output
  .flatMap((item) => item.content || [])
  .map((part) => part.text || part.transcript || "")
  .join("");
console.log(JSON.stringify({ status: finished.response.status, text, seen, errors }));
