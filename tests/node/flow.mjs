// The official OpenAI Node SDK against the emulator's server: a streamed tool-call flow, then
// run expiry reproduced by moving the emulator's clock through the control API.
// Usage: node flow.mjs http://127.0.0.1:PORT   (tests/test_node_sdk.py runs it; prints JSON)
import OpenAI from "openai";

const root = process.argv[2];
const client = new OpenAI({ apiKey: "sk-node", baseURL: `${root}/v1`, maxRetries: 0 });

const assistant = await client.beta.assistants.create({
  model: "gpt-4o",
  name: "Node weather bot",
  tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }],
});
const thread = await client.beta.threads.create({
  messages: [{ role: "user", content: "What is the weather in Paris?" }],
});

// 1. A streamed run stops at requires_action with a function call.
const events = [];
const first = client.beta.threads.runs.stream(thread.id, { assistant_id: assistant.id });
first.on("event", (event) => events.push(event.event));
const waiting = await first.finalRun();
const call = waiting.required_action.submit_tool_outputs.tool_calls[0];

// 2. Tool outputs submitted with a stream; the answer arrives as text deltas.
const deltas = [];
const second = client.beta.threads.runs.submitToolOutputsStream(waiting.id, {
  thread_id: thread.id,
  tool_outputs: [{ tool_call_id: call.id, output: "18C and sunny" }],
});
second.on("textDelta", (delta) => deltas.push(delta.value));
const finished = await second.finalRun();
const [answer] = await second.finalMessages();

// 3. Another run waits for outputs; the clock moves 601 s through the control API.
const pending = await client.beta.threads.runs.createAndPoll(thread.id, {
  assistant_id: assistant.id,
});
const moved = await fetch(`${root}/_emulator/clock/advance`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ seconds: 601 }),
});
const clock = await moved.json();
const expired = await client.beta.threads.runs.retrieve(pending.id, { thread_id: thread.id });
let rejected = null;
try {
  await client.beta.threads.runs.submitToolOutputs(pending.id, {
    thread_id: thread.id,
    tool_outputs: [{ tool_call_id: call.id, output: "too late" }],
  });
} catch (error) {
  rejected = { status: error.status, message: error.error?.message ?? error.message };
}

console.log(
  JSON.stringify({
    events,
    waiting: { id: waiting.id, status: waiting.status, call: call.function },
    finished: { status: finished.status },
    deltas,
    answer: answer.content[0].text.value,
    pending: { id: pending.id, status: pending.status, expires_at: pending.expires_at },
    clock: { status: moved.status, now: clock.now },
    expired: { status: expired.status, expires_at: expired.expires_at },
    rejected,
  }),
);
