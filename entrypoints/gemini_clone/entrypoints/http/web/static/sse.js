// Server-Sent Events read from a `fetch` response (EventSource cannot send a token).

/** The events of a `text/event-stream` body: `{type, id, data}` with `data` parsed as JSON.
 * Lines may end in CRLF, CR or LF, and a chunk of the body may end anywhere, even between
 * the CR and the LF of one line end. */
export async function* readEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let pendingCr = false; // the text so far ended in CR: an LF next belongs to it
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return; // an event not ended by a blank line is dropped, as the format says
    const text = pendingCr && value.startsWith("\n") ? value.slice(1) : value;
    pendingCr = text.endsWith("\r");
    buffer += text.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = parseEvent(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (event) yield event;
    }
  }
}

function parseEvent(block) {
  let type = "message";
  let id = null;
  const data = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue; // comments keep proxies awake
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") type = value;
    else if (field === "data") data.push(value);
    else if (field === "id") id = value;
  }
  if (data.length === 0) return null;
  return { type, id, data: JSON.parse(data.join("\n")) };
}
