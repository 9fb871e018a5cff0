// @openai/agents-realtime in the browser, unchanged: a RealtimeSession on its WebRTC
// transport, pointed at our relay with the `baseUrl` option and an ek_ secret (minted by
// `manage.py mint_secret`). It holds a spoken turn (the fake microphone's) and a typed one,
// then closes, as an app would. tests/browser/test_agents_sdk_webrtc.py serves this file
// and the package's browser bundle from the relay's origin and reads what it returns.
import {
  OpenAIRealtimeWebRTC,
  RealtimeAgent,
  RealtimeSession,
} from "./bundle/openai-realtime-agents.mjs";

const TURN_TIMEOUT_MS = 20000;

export async function holdACall({ apiKey, baseUrl, typed }) {
  const transport = new OpenAIRealtimeWebRTC({ baseUrl });
  const agent = new RealtimeAgent({ name: "Assistant", instructions: "Answer briefly." });
  const session = new RealtimeSession(agent, { transport });
  const seen = [];
  const errors = [];
  const responses = [];
  let responded = () => {};
  session.on("transport_event", (event) => {
    seen.push(event.type);
    if (event.type === "error") errors.push(event.error);
    if (event.type === "response.done") {
      responses.push(event.response);
      responded();
    }
  });
  const responsesReach = (count) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${responses.length} of ${count} responses; saw ${seen.join(", ")}`)),
        TURN_TIMEOUT_MS,
      );
      responded = () => {
        if (responses.length >= count) {
          clearTimeout(timer);
          resolve();
        }
      };
      responded();
    });

  await session.connect({ apiKey });
  await responsesReach(1); // the microphone's turn
  // Muted, as a user typing would be: the fake microphone loops its speech, which would
  // barge in on the typed turn's reply.
  session.mute(true);
  session.sendMessage(typed);
  await responsesReach(2);
  const callId = transport.callId;
  session.close();
  return {
    callId,
    errors,
    statuses: responses.map((response) => response.status),
    texts: responses.map((response) =>
      response.output
        .flatMap((item) => item.content || [])
        .map((part) => part.transcript || part.text || "")
        .join(""),
    ),
  };
}
