// The public HTTP API, as any client uses it: tokens kept fresh, problem details as errors,
// and replies followed as Server-Sent Events read with fetch (EventSource cannot send a token).

const SESSION_KEY = "gemini-clone.session";
const REFRESH_EARLY_MS = 60_000; // refresh this long before the access token expires
const POLL_MS = 700;
const FINAL = new Set(["completed", "failed", "blocked", "cancelled"]);

export const isFinal = (message) => FINAL.has(message.status);

/** A problem-details answer (RFC 9457): `code` is the stable machine code. */
export class ApiError extends Error {
  constructor(status, problem, headers) {
    super(problem.detail || problem.title || `The server answered ${status}.`);
    this.status = status;
    this.problem = problem;
    this.code = problem.code;
    this.headers = headers;
  }

  static async from(response) {
    let problem = {};
    try {
      problem = await response.json();
    } catch {
      problem = { detail: `The server answered ${response.status}.` };
    }
    return new ApiError(response.status, problem, response.headers);
  }

  /** The route does not exist on this server (an older version of it). */
  get routeMissing() {
    return this.status === 405 || (this.status === 404 && this.code === "not_found");
  }
}

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

function loadSession() {
  try {
    return JSON.parse(localStorage.getItem(SESSION_KEY));
  } catch {
    return null;
  }
}

export class Api {
  /** `onLoggedOut` runs when the session ends here or in another tab. */
  constructor({ onLoggedOut }) {
    this.session = loadSession();
    this.onLoggedOut = onLoggedOut;
    this.refreshing = null;
    this.timer = null;
    // Which optional routes this server has; unknown until tried or probed.
    this.features = { stream: true, stop: true, regenerate: true, edit: true, models: true };
    addEventListener("storage", (event) => {
      if (event.key !== SESSION_KEY) return;
      this.session = loadSession();
      if (this.session) this.scheduleRefresh();
      else this.endSession();
    });
    if (this.session) this.scheduleRefresh();
  }

  get user() {
    return this.session?.user ?? null;
  }

  // ---- session ----

  startSession(tokens) {
    this.session = {
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token,
      expiresAt: Date.now() + tokens.expires_in * 1000,
      user: tokens.user,
    };
    localStorage.setItem(SESSION_KEY, JSON.stringify(this.session));
    this.scheduleRefresh();
  }

  endSession() {
    clearTimeout(this.timer);
    const hadSession = this.session !== null || localStorage.getItem(SESSION_KEY) !== null;
    this.session = null;
    localStorage.removeItem(SESSION_KEY);
    if (hadSession) this.onLoggedOut();
  }

  scheduleRefresh() {
    clearTimeout(this.timer);
    const due = this.session.expiresAt - REFRESH_EARLY_MS - Date.now();
    this.timer = setTimeout(() => this.refresh().catch(() => {}), Math.max(due, 0));
  }

  /** A new token pair. One refresh at a time across tabs: refresh tokens rotate, and
   * presenting a rotated one ends the whole session. */
  refresh() {
    const run = async () => {
      const stored = loadSession();
      if (!stored) return this.endSession();
      if (stored.expiresAt - REFRESH_EARLY_MS > Date.now()) {
        this.session = stored; // another tab has just refreshed
        return this.scheduleRefresh();
      }
      const response = await fetch("/auth/refresh", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ refresh_token: stored.refreshToken }),
      });
      if (response.status === 401) return this.endSession();
      if (!response.ok) throw await ApiError.from(response);
      this.startSession(await response.json());
    };
    this.refreshing ??= (navigator.locks ? navigator.locks.request(SESSION_KEY, run) : run())
      .finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  async accessToken() {
    if (this.session && this.session.expiresAt - REFRESH_EARLY_MS / 2 < Date.now()) {
      await this.refresh();
    }
    if (!this.session) throw new ApiError(401, { code: "logged_out", detail: "Please log in." });
    return this.session.accessToken;
  }

  async logout() {
    const session = this.session;
    try {
      if (session) {
        await this.send("POST", "/auth/logout", { body: { refresh_token: session.refreshToken } });
      }
    } finally {
      this.endSession();
    }
  }

  // ---- requests ----

  /** The response of a request; a problem answer is thrown as `ApiError`. */
  async send(method, path, { body, headers = {}, auth = true, signal } = {}) {
    const init = { method, headers: { ...headers }, signal };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["content-type"] = "application/json";
    }
    if (auth) init.headers.authorization = `Bearer ${await this.accessToken()}`;
    let response = await fetch(path, init);
    if (response.status === 401 && auth) {
      await this.refresh();
      init.headers.authorization = `Bearer ${await this.accessToken()}`;
      response = await fetch(path, init);
      if (response.status === 401) this.endSession();
    }
    if (!response.ok) throw await ApiError.from(response);
    return response;
  }

  async json(method, path, options) {
    const response = await this.send(method, path, options);
    return response.status === 204 ? null : response.json();
  }

  /** Calls an optional route; when the server lacks it, the feature is switched off and
   * null is answered. */
  async optional(feature, method, path, options) {
    try {
      return await this.json(method, path, options);
    } catch (error) {
      if (error instanceof ApiError && error.routeMissing) {
        this.features[feature] = false;
        return null;
      }
      throw error;
    }
  }

  /** Asks the optional routes about ids that cannot exist: a missing route answers 404
   * `not_found` or 405, a present one a 404 naming the chatroom or message. */
  async probeFeatures() {
    const none = "00000000-0000-0000-0000-000000000000";
    const reply = `/chatroom/${none}/message/${none}`;
    const probes = {
      stream: ["GET", `${reply}/stream`],
      stop: ["POST", `${reply}/stop`],
      regenerate: ["POST", `${reply}/regenerate`],
      edit: ["PATCH", reply, { content: "probe" }],
    };
    await Promise.all(
      Object.entries(probes).map(async ([feature, [method, path, body]]) => {
        try {
          await this.send(method, path, { body });
        } catch (error) {
          if (error instanceof ApiError && error.routeMissing) this.features[feature] = false;
        }
      }),
    );
  }

  // ---- replies ----

  /** Posts a message and follows its reply to the end. `on.accepted({message, reply})`
   * comes first; `on.text(text)` with the whole text so far; resolves with the final reply. */
  async postMessage(roomId, content, on, signal) {
    const response = await this.send("POST", `/chatroom/${roomId}/message`, {
      body: { content },
      headers: { accept: "text/event-stream" },
      signal,
    });
    if (!isEventStream(response)) {
      const posted = await response.json();
      on.accepted(posted);
      return this.followReply(roomId, posted.reply, on, signal);
    }
    const state = { text: "", attempt: 0, lastEventId: null, reply: null, final: null };
    await this.readReplyEvents(response, state, on);
    if (state.final) return state.final;
    if (!state.reply) throw new ApiError(502, { detail: "The stream ended before it began." });
    return this.followReply(roomId, state.reply, on, signal, state);
  }

  /** Follows a reply until it is final: its event stream where the server has one
   * (reconnecting with `Last-Event-ID`), otherwise by polling. */
  async followReply(roomId, reply, on, signal, state = null) {
    state ??= { text: "", attempt: 0, lastEventId: null, reply, final: null };
    let failures = 0;
    while (!signal?.aborted) {
      if (this.features.stream) {
        try {
          const headers = { accept: "text/event-stream" };
          if (state.lastEventId) headers["last-event-id"] = state.lastEventId;
          const response = await this.send(
            "GET",
            `/chatroom/${roomId}/message/${reply.id}/stream`,
            { headers, signal },
          );
          await this.readReplyEvents(response, state, on);
          if (state.final) return state.final;
          failures = 0;
        } catch (error) {
          if (signal?.aborted) throw error;
          if (error instanceof ApiError && error.routeMissing) this.features.stream = false;
          else if (error instanceof ApiError && error.status < 500) throw error;
          else await sleep(Math.min(500 * 2 ** failures++, 8000), signal);
        }
        continue;
      }
      const message = await this.json("GET", `/chatroom/${roomId}/message/${reply.id}`, { signal });
      if (isFinal(message)) {
        on.text(message.content);
        return message;
      }
      on.status?.(message);
      await sleep(POLL_MS, signal);
    }
    throw signal.reason;
  }

  async readReplyEvents(response, state, on) {
    for await (const event of readEvents(response)) {
      if (event.id) state.lastEventId = event.id;
      const data = event.data;
      if (event.type === "accepted") {
        state.reply = data.reply;
        on.accepted(data);
      } else if (event.type === "restart" || (event.type === "delta" && data.attempt > state.attempt)) {
        // A new attempt starts over: the text so far is dropped.
        state.attempt = data.attempt;
        state.text = "";
        if (event.type === "restart") on.text("");
      }
      if (event.type === "delta") {
        state.text += data.text;
        on.text(state.text);
      } else if (event.type === "done") {
        state.final = data;
        on.text(data.content);
        return;
      }
    }
  }
}

function isEventStream(response) {
  return (response.headers.get("content-type") || "").startsWith("text/event-stream");
}

/** The events of a `text/event-stream` body: `{type, id, data}` with `data` parsed as JSON. */
export async function* readEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer = (buffer + value).replace(/\r\n?/g, "\n");
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
