// The public HTTP API, as any client uses it: problem details as errors, and a session whose
// refresh token no script can read. The server keeps it in an HttpOnly cookie (asked for
// with `X-Refresh-Token: cookie`); the access token lives in this page's memory only, so a
// reload gets a new one through the cookie.

const SIGNED_IN_KEY = "gemini-clone.signed-in"; // a hint, no secret: "a cookie was set"
const LEGACY_SESSION_KEY = "gemini-clone.session"; // where earlier versions kept the tokens
const COOKIE_MODE = { "x-refresh-token": "cookie" };
const REFRESH_EARLY_MS = 60_000; // refresh this long before the access token expires
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
}

export class Api {
  constructor() {
    /** `{accessToken, expiresAt, user}` while logged in. */
    this.session = null;
    /** Runs when the session ends, here or in another tab. */
    this.onLoggedOut = () => {};
    this.refreshing = null;
    this.timer = null;
    localStorage.removeItem(LEGACY_SESSION_KEY); // a readable refresh token must not linger
    addEventListener("storage", (event) => {
      if (event.key === SIGNED_IN_KEY && event.newValue === null) this.endSession();
    });
  }

  get user() {
    return this.session?.user ?? null;
  }

  // ---- session ----

  /** Logs in with a one-time code; the refresh token goes into the cookie. */
  async verifyOtp(mobileNumber, otp) {
    const tokens = await this.json("POST", "/auth/verify-otp", {
      auth: false,
      headers: COOKIE_MODE,
      body: { mobile_number: mobileNumber, otp },
    });
    this.startSession(tokens);
  }

  /** Picks up the session of an earlier visit (its cookie); false when there is none. Asks
   * only when one was started here, so a first visit sends no doomed request. */
  async resume() {
    if (localStorage.getItem(SIGNED_IN_KEY) === null) return false;
    await this.refresh();
    return this.session !== null;
  }

  startSession(tokens) {
    this.session = {
      accessToken: tokens.access_token,
      expiresAt: Date.now() + tokens.expires_in * 1000,
      user: tokens.user,
    };
    localStorage.setItem(SIGNED_IN_KEY, "1");
    this.scheduleRefresh();
  }

  endSession() {
    clearTimeout(this.timer);
    const hadSession = this.session !== null;
    this.session = null;
    localStorage.removeItem(SIGNED_IN_KEY); // other tabs hear it and log out too
    if (hadSession) this.onLoggedOut();
  }

  scheduleRefresh() {
    clearTimeout(this.timer);
    const due = this.session.expiresAt - REFRESH_EARLY_MS - Date.now();
    this.timer = setTimeout(() => this.refresh().catch(() => {}), Math.max(due, 0));
  }

  /** A new access token, and a new refresh token in the cookie. One refresh at a time
   * across tabs (they share the cookie): presenting a rotated refresh token ends the
   * whole session. */
  refresh() {
    const run = async () => {
      const response = await fetch("/auth/refresh", {
        method: "POST",
        headers: { "content-type": "application/json", ...COOKIE_MODE },
        body: "{}",
      });
      if (response.status === 401) return this.endSession();
      if (!response.ok) throw await ApiError.from(response);
      this.startSession(await response.json());
    };
    this.refreshing ??= (navigator.locks ? navigator.locks.request(SIGNED_IN_KEY, run) : run())
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

  /** Ends the session on the server (revoking the cookie's token) and here. */
  async logout() {
    try {
      if (this.session) await this.send("POST", "/auth/logout", { headers: COOKIE_MODE, body: {} });
    } finally {
      this.endSession();
    }
  }

  // ---- requests ----

  /** The response of a request; a problem answer is thrown as `ApiError`. */
  async send(method, path, { body, headers = {}, auth = true, signal } = {}) {
    const init = { method, headers: { ...headers }, signal };
    if (body instanceof FormData) {
      init.body = body; // the browser writes the multipart content type and its boundary
    } else if (body !== undefined) {
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

  /** POSTs a form and answers its JSON, like `json`, but through XMLHttpRequest: its upload
   * reports progress (`onProgress(fraction)`), which fetch's does not. */
  async upload(path, form, { onProgress, signal } = {}) {
    const post = async () => postForm(path, form, await this.accessToken(), onProgress, signal);
    let request = await post();
    if (request.status === 401) {
      await this.refresh();
      request = await post();
      if (request.status === 401) this.endSession();
    }
    // Only a JSON answer is read: an HTML error page (a proxy's 413, say) is never shown.
    const isJson = /json/.test(request.getResponseHeader("content-type") ?? "");
    let body = null;
    try {
      body = isJson ? JSON.parse(request.responseText) : null;
    } catch {
      body = null;
    }
    if (request.status >= 200 && request.status < 300 && body) return body;
    throw new ApiError(request.status, body ?? { detail: `The server answered ${request.status}.` }, null);
  }
}

/** The finished request (any status); a dropped connection rejects, an abort with the
 * signal's reason. */
function postForm(path, form, token, onProgress, signal) {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const request = new XMLHttpRequest();
    request.open("POST", path);
    request.setRequestHeader("authorization", `Bearer ${token}`);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress?.(event.loaded / event.total);
    });
    request.addEventListener("load", () => resolve(request));
    request.addEventListener("error", () => reject(new TypeError("The upload was cut off.")));
    request.addEventListener("abort", () => reject(signal?.reason ?? new DOMException("Aborted", "AbortError")));
    signal?.addEventListener("abort", () => request.abort(), { once: true });
    request.send(form);
  });
}
