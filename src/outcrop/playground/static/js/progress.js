// Live progress of an image job: outcrop's own Server-Sent Events route (/outcrop/v1/progress/{id}), read
// with fetch (EventSource cannot send the API key). The page opens it, waits for `ready`, then sends its
// InvokeModel with X-Outcrop-Progress-Id; each denoising step arrives as `step` {step, steps}.

import { call } from "./api.js";

function randomId() {
  // crypto.randomUUID needs a secure context; getRandomValues works on plain http too.
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Frames of an SSE body as {event, data} (data parsed as JSON). */
async function* sseEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message", data = "";
      for (const line of frame.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data) yield { event, data: JSON.parse(data) };
    }
  }
}

/** Follow one job: resolves once the server is listening, with {id, close}; null when it cannot follow
 * (the job then runs without progress). `onEvent(event, data)` hears step / failed / done. */
export async function followProgress(onEvent) {
  const id = randomId();
  const controller = new AbortController();
  let events;
  try {
    const response = await call(`/outcrop/v1/progress/${id}`, { accept: "text/event-stream", signal: controller.signal });
    events = sseEvents(response.body);
    const first = await events.next();
    if (first.done || first.value.event !== "ready") { controller.abort(); return null; }
  } catch {
    controller.abort();
    return null;
  }
  let finish;
  const finished = new Promise((resolve) => { finish = resolve; });
  (async () => {
    try {
      for await (const { event, data } of events) {
        onEvent(event, data);
        if (event === "done") break;
      }
    } catch { /* closed by the page */ }
    finish();
  })();
  return {
    id,
    // The last steps may still be on their way when the image arrives: wait for `done` a little.
    settle: (ms = 1000) => Promise.race([finished, new Promise((resolve) => { setTimeout(resolve, ms); })]),
    close: () => controller.abort(),
  };
}
