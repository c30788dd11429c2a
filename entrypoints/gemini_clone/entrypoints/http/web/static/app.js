// The chat page: log-in with a one-time code, the list of chats, one conversation, the plan.
import { Api, ApiError, isFinal } from "./api.js";
import { renderMarkdown } from "./markdown.js";

const $ = (id) => document.getElementById(id);
const api = new Api({ onLoggedOut: () => showLogin() });
const PAGE = 30;

const state = {
  rooms: [],
  roomsCursor: null,
  room: null, // the open chat
  messages: [], // its loaded messages, oldest first
  olderCursor: null,
  loadingOlder: false,
  writing: null, // {reply, controller} while a reply of the open chat is being written
  models: null,
  mobile: "",
};

// ---------- small helpers ----------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(label, className, onClick) {
  const node = el("button", className, label);
  node.type = "button";
  node.addEventListener("click", onClick);
  return node;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function untilText(iso) {
  const minutes = Math.max(1, Math.round((new Date(iso) - Date.now()) / 60_000));
  const hours = Math.floor(minutes / 60);
  return hours ? `${hours} h ${minutes % 60} min` : `${minutes} min`;
}

function errorText(error) {
  if (error instanceof ApiError) return error.message;
  return "The server could not be reached. Check your connection and try again.";
}

let noticeTimer;
function notice(text, kind = "info") {
  const box = $("notice");
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (box.hidden = true), kind === "error" ? 10_000 : 6_000);
}

// ---------- log-in ----------

function showLogin() {
  stopWriting();
  $("app").hidden = true;
  $("login").hidden = false;
  $("number-form").hidden = false;
  $("code-form").hidden = true;
  $("login-error").textContent = "";
  $("mobile").focus();
}

async function sendCode() {
  const sent = await api.json("POST", "/auth/send-otp", {
    auth: false,
    body: { mobile_number: state.mobile },
  });
  $("number-form").hidden = true;
  $("code-form").hidden = false;
  $("code-number").textContent = sent.mobile_number;
  $("code").value = sent.otp ?? "";
  $("code-filled").hidden = !sent.otp;
  $("code").focus();
}

$("number-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  state.mobile = $("mobile").value.trim();
  const signingUp = !$("name-row").hidden;
  try {
    if (signingUp) {
      const name = $("name").value.trim();
      await api.json("POST", "/auth/signup", {
        auth: false,
        body: name ? { mobile_number: state.mobile, name } : { mobile_number: state.mobile },
      });
    }
    await sendCode();
  } catch (error) {
    if (error.code === "user_not_found") {
      $("name-row").hidden = false;
      $("number-submit").textContent = "Create account and send code";
      $("name").focus();
    } else {
      $("login-error").textContent = errorText(error);
    }
  }
});

$("mobile").addEventListener("input", () => {
  $("name-row").hidden = true;
  $("number-submit").textContent = "Send code";
});

$("code-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  try {
    const tokens = await api.json("POST", "/auth/verify-otp", {
      auth: false,
      body: { mobile_number: state.mobile, otp: $("code").value.trim() },
    });
    api.startSession(tokens);
    await startApp();
  } catch (error) {
    $("login-error").textContent = errorText(error);
  }
});

$("code-back").addEventListener("click", showLogin);
$("code-resend").addEventListener("click", async () => {
  $("login-error").textContent = "";
  try {
    await sendCode();
  } catch (error) {
    $("login-error").textContent = errorText(error);
  }
});

$("logout").addEventListener("click", () => api.logout().catch(() => {}));

// ---------- the app ----------

async function startApp() {
  state.room = null;
  $("send").disabled = true; // until a chat is open
  $("login").hidden = true;
  $("app").hidden = false;
  $("account-name").textContent = api.user.name || api.user.mobile_number;
  await Promise.all([loadPlan(), loadRooms(), api.probeFeatures(), loadModels()]);
  const returned = new URLSearchParams(location.search).get("checkout");
  if (returned) {
    history.replaceState(null, "", "/");
    if (returned === "success") notice("Welcome to Pro: the daily message limit no longer applies.");
    else notice("The checkout was cancelled; nothing changed.");
  }
  if (state.rooms.length) await openRoom(state.rooms[0]);
  else await createRoom();
}

async function loadModels() {
  state.models = await api.optional("models", "GET", "/models");
}

// ---------- plan ----------

async function loadPlan() {
  const me = await api.json("GET", "/user/me");
  const usage = me.usage;
  const pro = me.tier === "pro";
  $("plan-name").textContent = pro ? "Pro plan" : "Basic plan";
  $("upgrade").hidden = pro;
  $("limit-upgrade").hidden = pro;
  const limited = usage.daily_limit !== null;
  $("plan-usage").textContent = limited
    ? `${usage.used_today} of ${usage.daily_limit} messages today`
    : `${usage.used_today} messages today · no daily limit`;
  $("plan-meter").parentElement.hidden = !limited;
  if (limited) $("plan-meter").style.width = `${Math.min(100, (100 * usage.used_today) / usage.daily_limit)}%`;
  $("plan-reset").textContent = limited ? `Resets at ${timeFormat.format(new Date(usage.resets_at))}` : "";
  if (limited && usage.remaining > 0) $("limit").hidden = true;
}

async function upgrade() {
  try {
    const checkout = await api.json("POST", "/subscribe/pro");
    location.assign(checkout.checkout_url);
  } catch (error) {
    if (error.code === "already_pro") await loadPlan();
    notice(errorText(error), "error");
  }
}
$("upgrade").addEventListener("click", upgrade);
$("limit-upgrade").addEventListener("click", upgrade);

function showLimit(error) {
  const { limit, resets_at: resetsAt } = error.problem;
  $("limit-text").textContent =
    `You have used all ${limit} messages your plan allows today. ` +
    `You can send again at ${timeFormat.format(new Date(resetsAt))} (in ${untilText(resetsAt)}), ` +
    "or upgrade to Pro to keep chatting now.";
  $("limit").hidden = false;
}

// ---------- rooms ----------

async function loadRooms(more = false) {
  const query = more && state.roomsCursor ? `&cursor=${encodeURIComponent(state.roomsCursor)}` : "";
  const page = await api.json("GET", `/chatroom?limit=50${query}`);
  state.rooms = more ? [...state.rooms, ...page.items] : page.items;
  state.roomsCursor = page.next_cursor;
  renderRooms();
}

function renderRooms() {
  const list = $("room-list");
  list.replaceChildren();
  for (const room of state.rooms) {
    const item = list.appendChild(el("li"));
    const link = item.appendChild(button(room.title, "room", () => openRoom(room)));
    link.dataset.id = room.id;
    if (isOpen(room)) link.setAttribute("aria-current", "page");
  }
  $("more-rooms").hidden = !state.roomsCursor;
}
$("more-rooms").addEventListener("click", () => loadRooms(true));

async function createRoom() {
  try {
    const room = await api.json("POST", "/chatroom", { body: {} });
    state.rooms.unshift(room);
    await openRoom(room);
  } catch (error) {
    notice(errorText(error), "error");
  }
}
$("new-room").addEventListener("click", createRoom);

/** The chat is the open one (by id: the open chat's object is replaced when it changes). */
const isOpen = (room) => state.room?.id === room.id;

function setRoom(room) {
  state.room = room;
  $("send").disabled = false;
  state.rooms = state.rooms.map((each) => (each.id === room.id ? { ...each, ...room } : each));
  $("room-title").textContent = room.title;
  document.title = `${room.title} · gemini-clone`;
  const model = room.model ?? null;
  $("room-model").hidden = !model;
  $("room-model").textContent = model ?? "";
  renderRooms();
}

async function openRoom(room) {
  stopWriting();
  closeSidebar();
  state.messages = [];
  state.olderCursor = null;
  setRoom(room);
  $("message-list").replaceChildren();
  $("limit").hidden = true;
  try {
    const page = await api.json("GET", `/chatroom/${room.id}/messages?limit=${PAGE}`);
    if (!isOpen(room)) return;
    state.messages = page.items;
    state.olderCursor = page.next_cursor;
    renderMessages();
    scrollToEnd();
    const pending = latestReply();
    if (pending && !isFinal(pending)) follow(pending);
  } catch (error) {
    if (error.code === "chatroom_not_found") return forgetRoom(room.id);
    notice(errorText(error), "error");
  }
  $("input").focus();
}

async function forgetRoom(id) {
  state.rooms = state.rooms.filter((room) => room.id !== id);
  if (state.room?.id === id) {
    if (state.rooms.length) await openRoom(state.rooms[0]);
    else await createRoom();
  } else {
    renderRooms();
  }
}

function confirmDialog(text, confirmLabel) {
  const dialog = $("confirm-dialog");
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = confirmLabel;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) =>
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true }),
  );
}

$("room-delete").addEventListener("click", async () => {
  const room = state.room;
  if (!(await confirmDialog(`Delete “${room.title}” and all its messages?`, "Delete"))) return;
  try {
    await api.json("DELETE", `/chatroom/${room.id}`);
    notice(`Deleted “${room.title}”.`);
  } catch (error) {
    if (error.code !== "chatroom_not_found") return notice(errorText(error), "error");
  }
  await forgetRoom(room.id);
});

// ---------- room settings ----------

$("room-settings").addEventListener("click", () => {
  const room = state.room;
  $("set-title").value = room.title;
  $("settings-error").textContent = "";
  // Model and instruction exist on servers whose chatrooms carry them.
  const hasSettings = "system_instruction" in room;
  $("instruction-row").hidden = !hasSettings;
  $("set-instruction").value = room.system_instruction ?? "";
  const models = hasSettings && api.features.models ? state.models : null;
  $("model-row").hidden = !models;
  if (models) {
    const select = $("set-model");
    select.replaceChildren();
    for (const model of models.items) {
      const label = `${model.id}${model.id === models.default ? " (default)" : ""}${model.pro_only ? " · Pro" : ""}`;
      const option = select.appendChild(el("option", null, label));
      option.value = model.id;
      option.disabled = !model.available;
    }
    select.value = room.model ?? models.default;
  }
  $("settings-dialog").showModal();
  $("set-title").select();
});

$("settings-cancel").addEventListener("click", () => $("settings-dialog").close());

$("settings-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const room = state.room;
  const changes = {};
  const title = $("set-title").value.trim();
  if (title && title !== room.title) changes.title = title;
  if (!$("instruction-row").hidden) {
    const instruction = $("set-instruction").value.trim() || null;
    if (instruction !== (room.system_instruction ?? null)) changes.system_instruction = instruction;
  }
  if (!$("model-row").hidden && $("set-model").value !== (room.model ?? state.models.default)) {
    changes.model = $("set-model").value;
  }
  try {
    if (Object.keys(changes).length) {
      setRoom(await api.json("PATCH", `/chatroom/${room.id}`, { body: changes }));
    }
    $("settings-dialog").close();
  } catch (error) {
    $("settings-error").textContent = errorText(error);
  }
});

// ---------- conversation ----------

function latestQuestion() {
  return state.messages.findLast((message) => message.role === "user") ?? null;
}

function latestReply() {
  const question = latestQuestion();
  return question ? repliesTo(question).at(-1) ?? null : null;
}

function repliesTo(question) {
  return state.messages.filter((message) => message.in_reply_to === question.id);
}

const STATUS_TEXT = {
  queued: "Waiting for the model…",
  processing: "Writing…",
  cancelled: "Stopped before any text was written.",
};

const PROBLEM_TITLE = {
  failed: "Failed: no answer this time",
  blocked: "Blocked: the model withheld this answer",
};

function replyMeta(reply) {
  if (reply.status in STATUS_TEXT) return STATUS_TEXT[reply.status];
  const parts = [reply.status in PROBLEM_TITLE ? reply.status : reply.model ?? "model"];
  if (reply.finish_reason === "stopped") parts.push("stopped");
  if (reply.finish_reason === "max_tokens") parts.push("cut off at the length limit");
  if (reply.completed_at) parts.push(timeFormat.format(new Date(reply.completed_at)));
  return parts.join(" · ");
}

function messageNode(message) {
  const item = el("li", `message ${message.role}`);
  item.dataset.id = message.id;
  item.dataset.status = message.status;
  const bubble = item.appendChild(el("div", "bubble"));
  if (message.role === "user") bubble.textContent = message.content;
  else fillReply(bubble, message);
  const meta = item.appendChild(el("div", "meta"));
  meta.append(el("span", "status", message.role === "user" ? timeLabel(message) : replyMeta(message)));
  return item;
}

function timeLabel(message) {
  const created = new Date(message.created_at);
  const today = created.toDateString() === new Date().toDateString();
  const edited = message.edited_at ? " · edited" : "";
  return `${(today ? timeFormat : dateFormat).format(created)}${edited}`;
}

/** A reply's text as markdown; a failed or blocked one says why. */
function fillReply(bubble, reply) {
  bubble.replaceChildren(renderMarkdown(reply.content));
  if (!reply.content && !isFinal(reply)) bubble.append(el("span", "typing", "…"));
  if (reply.status in PROBLEM_TITLE) {
    const problem = bubble.appendChild(el("div", "problem"));
    problem.append(el("strong", null, PROBLEM_TITLE[reply.status]));
    problem.append(el("p", null, reply.error?.message ?? "No reason was given."));
  }
}

/** The whole list: each question, its current reply, earlier replies folded away. */
function renderMessages() {
  const list = $("message-list");
  list.replaceChildren();
  const question = latestQuestion();
  const current = latestReply();
  const superseded = new Set();
  for (const message of state.messages) {
    if (message.role !== "user") continue;
    repliesTo(message).slice(0, -1).forEach((reply) => superseded.add(reply.id));
  }
  for (const message of state.messages) {
    const node = messageNode(message);
    if (superseded.has(message.id)) {
      const fold = el("details", "earlier");
      fold.append(el("summary", null, "Earlier answer"), ...node.childNodes);
      node.append(fold);
      node.classList.add("superseded");
    }
    if (message === question) addQuestionActions(node, message);
    if (message === current) addReplyActions(node, message);
    list.append(node);
  }
  $("empty").hidden = state.messages.length > 0;
  $("older").hidden = !state.olderCursor;
  $("older").textContent = "Scroll up for older messages";
}

function addQuestionActions(node, question) {
  if (!api.features.edit || state.writing) return;
  node.querySelector(".meta").append(button("Edit", "link", () => editQuestion(node, question)));
}

function addReplyActions(node, reply) {
  const meta = node.querySelector(".meta");
  if (reply.role === "model" && isFinal(reply) && api.features.regenerate && !state.writing) {
    meta.append(button("Regenerate", "link", () => regenerate(reply)));
  }
}

function updateReply(reply, text) {
  const node = document.querySelector(`li[data-id="${reply.id}"]`);
  if (!node) return;
  node.dataset.status = reply.status;
  node.classList.toggle("writing", Boolean(text) && !isFinal(reply));
  fillReply(node.querySelector(".bubble"), { ...reply, content: text });
  node.querySelector(".status").textContent = replyMeta(reply);
  if (nearEnd()) scrollToEnd();
}

const messagesBox = $("messages");
const nearEnd = () => messagesBox.scrollHeight - messagesBox.scrollTop - messagesBox.clientHeight < 120;
const scrollToEnd = () => (messagesBox.scrollTop = messagesBox.scrollHeight);

messagesBox.addEventListener("scroll", async () => {
  if (messagesBox.scrollTop > 80 || !state.olderCursor || state.loadingOlder) return;
  state.loadingOlder = true;
  const room = state.room;
  $("older").textContent = "Loading older messages…";
  try {
    const cursor = encodeURIComponent(state.olderCursor);
    const page = await api.json("GET", `/chatroom/${room.id}/messages?limit=${PAGE}&before=${cursor}`);
    if (!isOpen(room)) return;
    const fromBottom = messagesBox.scrollHeight - messagesBox.scrollTop;
    state.messages = [...page.items, ...state.messages];
    state.olderCursor = page.next_cursor;
    renderMessages();
    messagesBox.scrollTop = messagesBox.scrollHeight - fromBottom; // keep the reader's place
  } catch (error) {
    notice(errorText(error), "error");
  } finally {
    state.loadingOlder = false;
  }
});

function replaceMessage(message) {
  const index = state.messages.findIndex((each) => each.id === message.id);
  if (index >= 0) state.messages[index] = message;
  else state.messages.push(message);
}

// ---------- writing a reply ----------

function setWriting(writing) {
  state.writing = writing;
  $("send").hidden = Boolean(writing);
  $("stop").hidden = !writing || !api.features.stop;
}

function stopWriting() {
  state.writing?.controller.abort();
  setWriting(null);
}

/** Shows a reply as it is written, until it is final; `start` gets it going. */
async function write(start) {
  const room = state.room;
  const controller = new AbortController();
  setWriting({ reply: null, controller });
  let frame = 0;
  let latest = "";
  const handlers = {
    accepted: ({ message, reply }) => {
      if (message) replaceMessage(message);
      replaceMessage(reply);
      state.writing.reply = reply;
      renderMessages();
      scrollToEnd();
    },
    text: (text) => {
      latest = text;
      frame ||= requestAnimationFrame(() => {
        frame = 0;
        const reply = state.writing?.reply;
        if (reply) updateReply({ ...reply, status: "processing" }, latest);
      });
    },
    status: (reply) => updateReply(reply, reply.content),
  };
  try {
    const final = await start(handlers, controller.signal);
    if (!isOpen(room)) return;
    cancelAnimationFrame(frame);
    replaceMessage(final);
  } catch (error) {
    if (controller.signal.aborted) return;
    if (error.code === "daily_limit_reached") showLimit(error);
    else notice(errorText(error), "error");
    throw error;
  } finally {
    if (state.writing?.controller === controller) setWriting(null);
    if (isOpen(room)) renderMessages();
    loadPlan().catch(() => {});
    // The first answer names an untitled chat; the name arrives a moment later.
    setTimeout(() => refreshRoom(room), 1500);
  }
}

async function refreshRoom(room) {
  try {
    const fresh = await api.json("GET", `/chatroom/${room.id}`);
    const { messages: _, ...chatroom } = fresh;
    if (isOpen(room)) setRoom(chatroom);
    else state.rooms = state.rooms.map((each) => (each.id === room.id ? chatroom : each));
    state.rooms.sort((a, b) => (b.last_message_at ?? b.created_at).localeCompare(a.last_message_at ?? a.created_at));
    renderRooms();
  } catch {
    // The list is refreshed again with the next reply.
  }
}

function follow(reply) {
  const room = state.room;
  write((on, signal) => {
    on.accepted({ reply });
    return api.followReply(room.id, reply, on, signal);
  }).catch(() => {});
}

const input = $("input");

$("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const content = input.value.trim();
  if (!content || state.writing || !state.room) return; // typed early: kept for Enter again
  $("limit").hidden = true;
  const room = state.room;
  input.value = "";
  autosize();
  try {
    await write((on, signal) => api.postMessage(room.id, content, on, signal));
  } catch {
    if (!input.value) input.value = content; // nothing typed is lost to an error
    autosize();
  }
});

input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
});

function autosize() {
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 240)}px`;
}
input.addEventListener("input", autosize);

$("stop").addEventListener("click", async () => {
  const reply = state.writing?.reply;
  if (!reply) return;
  $("stop").disabled = true;
  try {
    const stopped = await api.optional("stop", "POST", `/chatroom/${state.room.id}/message/${reply.id}/stop`);
    if (!stopped) notice("This server cannot stop a reply.", "error");
  } catch (error) {
    notice(errorText(error), "error");
  } finally {
    $("stop").disabled = false;
    if (!api.features.stop) $("stop").hidden = true;
  }
});

async function regenerate(reply) {
  const room = state.room;
  try {
    await write(async (on, signal) => {
      const answer = await api.optional("regenerate", "POST", `/chatroom/${room.id}/message/${reply.id}/regenerate`);
      if (!answer) throw new ApiError(404, { detail: "This server cannot regenerate replies." });
      const fresh = answer.reply ?? answer;
      on.accepted({ reply: fresh });
      return api.followReply(room.id, fresh, on, signal);
    });
  } catch {
    renderMessages();
  }
}

function editQuestion(node, question) {
  const bubble = node.querySelector(".bubble");
  const form = el("form", "edit");
  const area = form.appendChild(el("textarea"));
  area.value = question.content;
  area.setAttribute("aria-label", "Edit your message");
  area.maxLength = 16000;
  const actions = form.appendChild(el("div", "edit-actions"));
  actions.append(button("Cancel", null, () => renderMessages()));
  const save = actions.appendChild(el("button", "primary", "Save and send"));
  save.type = "submit";
  area.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    } else if (event.key === "Escape") {
      renderMessages();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const content = area.value.trim();
    if (!content) return;
    const room = state.room;
    try {
      await write(async (on, signal) => {
        const edited = await api.optional("edit", "PATCH", `/chatroom/${room.id}/message/${question.id}`, {
          body: { content },
        });
        if (!edited) throw new ApiError(404, { detail: "This server cannot edit messages." });
        on.accepted(edited);
        return api.followReply(room.id, edited.reply, on, signal);
      });
    } catch {
      renderMessages();
    }
  });
  bubble.replaceWith(form);
  area.focus();
}

// ---------- phone layout ----------

function closeSidebar() {
  $("app").classList.remove("sidebar-open");
  $("scrim").hidden = true;
}
$("open-sidebar").addEventListener("click", () => {
  $("app").classList.add("sidebar-open");
  $("scrim").hidden = false;
  $("new-room").focus();
});
$("close-sidebar").addEventListener("click", closeSidebar);
$("scrim").addEventListener("click", closeSidebar);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") closeSidebar();
});

// ---------- start ----------

if (api.user) startApp().catch((error) => notice(errorText(error), "error"));
else showLogin();
