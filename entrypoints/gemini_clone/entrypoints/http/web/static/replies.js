// Following a reply as it is written: the post's event stream, then the reply's own stream
// route (reconnecting with `Last-Event-ID`) until the reply is final.
import { ApiError } from "./api.js";
import { readEvents } from "./sse.js";

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

const newProgress = (reply = null) => ({ text: "", attempt: 0, lastEventId: null, reply, final: null });

/** Posts a message (with the uploaded files `attachmentIds`) and follows its reply to the
 * end. `on.accepted({message, reply})` comes first; `on.text(text)` with the whole text so
 * far; resolves with the final reply. */
export async function postMessage(api, roomId, content, on, signal, attachmentIds = []) {
  const body = attachmentIds.length ? { content, attachment_ids: attachmentIds } : { content };
  const response = await api.send("POST", `/chatroom/${roomId}/message`, {
    body,
    headers: { accept: "text/event-stream" },
    signal,
  });
  const progress = newProgress();
  await readReplyEvents(response, progress, on);
  if (progress.final) return progress.final;
  if (!progress.reply) throw new ApiError(502, { detail: "The stream ended before it began." });
  return followReply(api, roomId, progress.reply, on, signal, progress);
}

/** Follows a reply until it is final, reconnecting after a dropped connection. */
export async function followReply(api, roomId, reply, on, signal, progress = newProgress(reply)) {
  let failures = 0;
  while (!signal?.aborted) {
    try {
      const headers = { accept: "text/event-stream" };
      if (progress.lastEventId) headers["last-event-id"] = progress.lastEventId;
      const response = await api.send("GET", `/chatroom/${roomId}/message/${reply.id}/stream`, {
        headers,
        signal,
      });
      await readReplyEvents(response, progress, on);
      if (progress.final) return progress.final;
      failures = 0;
    } catch (error) {
      if (signal?.aborted) throw error;
      if (error instanceof ApiError && error.status < 500) throw error;
      await sleep(Math.min(500 * 2 ** failures++, 8000), signal);
    }
  }
  throw signal.reason;
}

async function readReplyEvents(response, progress, on) {
  for await (const event of readEvents(response)) {
    if (event.id) progress.lastEventId = event.id;
    const data = event.data;
    if (event.type === "accepted") {
      progress.reply = data.reply;
      on.accepted(data);
    } else if (event.type === "restart" || (event.type === "delta" && data.attempt > progress.attempt)) {
      // A new attempt starts over: the text so far is dropped.
      progress.attempt = data.attempt;
      progress.text = "";
      if (event.type === "restart") on.text("");
    }
    if (event.type === "delta") {
      progress.text += data.text;
      on.text(progress.text);
    } else if (event.type === "done") {
      progress.final = data;
      on.text(data.content);
      return;
    }
  }
}
