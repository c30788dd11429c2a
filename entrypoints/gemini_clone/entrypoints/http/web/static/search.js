// The search box: the caller's messages and room titles as they type, each hit with its
// matched words marked; a hit opens its chat at the message, switching the chat's current
// path to the message's version first when it is on another one.
import { followPendingReply, stopWriting } from "./conversation.js";
import { $, button, el, errorText, notice } from "./dom.js";
import { renderMessages } from "./messages.js";
import { openRoom } from "./rooms.js";
import { api, isOpen, state } from "./state.js";
import { PAGE } from "./versions.js";

const DEBOUNCE_MS = 250;
const HITS = 20;
const OLDER_PAGES = 10; // how far back the loaded path is searched before asking the server
const ROLE_TEXT = { user: "You", model: "Answer" };
const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

let timer = null;
let asked = 0; // the number of the latest search: an older one answering late is dropped
let query = "";
let cursor = null;

/** `snippet` as text, the `[start, end)` code-point ranges of `highlights` in <mark>s: the
 * server sends plain text and ranges, never markup. */
export function markedSnippet(snippet, highlights) {
  const chars = Array.from(snippet);
  const node = el("span", "snippet");
  let at = 0;
  const ranges = [...highlights].sort((a, b) => a[0] - b[0]);
  for (const [start, end] of ranges) {
    const from = Math.max(start, at);
    const to = Math.min(end, chars.length);
    if (to <= from) continue;
    if (from > at) node.append(chars.slice(at, from).join(""));
    node.append(el("mark", null, chars.slice(from, to).join("")));
    at = to;
  }
  if (at < chars.length) node.append(chars.slice(at).join(""));
  return node;
}

function hitNode(hit) {
  const item = el("li");
  const open = item.appendChild(button("", "hit", () => openHit(hit)));
  open.dataset.room = hit.chatroom_id;
  if (hit.message_id) open.dataset.message = hit.message_id;
  open.append(el("strong", "hit-title", hit.chatroom_title));
  const where = hit.message_id ? ROLE_TEXT[hit.role] ?? hit.role : "Title";
  open.append(el("span", "hit-meta muted small", `${where} · ${dayFormat.format(new Date(hit.created_at))}`));
  open.append(markedSnippet(hit.snippet, hit.highlights));
  return item;
}

function showSearching(on) {
  $("search-panel").hidden = !on;
  $("rooms").hidden = on;
}

export function closeSearch() {
  clearTimeout(timer);
  asked += 1;
  query = "";
  cursor = null;
  $("search-results").replaceChildren();
  showSearching(false);
}

async function runSearch(more = false) {
  const typed = $("search").value.trim();
  if (!typed) return closeSearch();
  const ticket = ++asked;
  showSearching(true);
  if (!more) $("search-status").textContent = "Searching…";
  const params = new URLSearchParams({ q: typed, limit: String(HITS) });
  if (more && cursor) params.set("cursor", cursor);
  try {
    const page = await api.json("GET", `/search?${params}`);
    if (ticket !== asked) return;
    const list = $("search-results");
    if (!more) list.replaceChildren();
    for (const hit of page.items) list.append(hitNode(hit));
    query = typed;
    cursor = page.next_cursor;
    $("more-results").hidden = !cursor;
    const count = list.children.length;
    $("search-status").textContent = count
      ? `${count}${cursor ? "+" : ""} result${count === 1 ? "" : "s"} for “${query}”`
      : `Nothing found for “${typed}”.`;
  } catch (error) {
    if (ticket === asked) $("search-status").textContent = errorText(error);
  }
}

const onPath = (messageId) => state.messages.some((message) => message.id === messageId);

/** Loads older pages of the open chat's current path until `messageId` is among them (or
 * the path has no more); true when it is. */
async function loadPathUntil(room, messageId) {
  for (let pages = 0; !onPath(messageId) && state.olderCursor && pages < OLDER_PAGES; pages++) {
    const before = encodeURIComponent(state.olderCursor);
    const page = await api.json("GET", `/chatroom/${room.id}/messages?limit=${PAGE}&before=${before}`);
    if (!isOpen(room)) return false;
    state.messages = [...page.items, ...state.messages];
    state.olderCursor = page.next_cursor;
  }
  return onPath(messageId);
}

/** Makes the path through `messageId` the chat's current one (a version the path had left). */
async function switchToMessage(room, messageId) {
  stopWriting(); // the page follows one path at a time; the reply itself goes on
  const page = await api.json("POST", `/chatroom/${room.id}/path`, { body: { message_id: messageId } });
  if (!isOpen(room)) return;
  state.messages = page.items;
  state.olderCursor = page.next_cursor;
  if (!onPath(messageId)) await loadPathUntil(room, messageId);
}

/** The found message stays marked (`state.found`, kept through re-renders) and in view. */
function markFound(messageId) {
  state.found = messageId;
  renderMessages();
  document.querySelector(`li.message[data-id="${messageId}"]`)?.scrollIntoView({ block: "center" });
}

/** Opens the hit's chat (archived ones too) and, for a message, shows it marked. */
async function openHit(hit) {
  try {
    let room = state.rooms.find((each) => each.id === hit.chatroom_id);
    if (!room) {
      const { messages: _, ...detail } = await api.json("GET", `/chatroom/${hit.chatroom_id}`);
      room = detail;
    }
    if (!isOpen(room)) await openRoom(room);
    else await state.opening;
    if (!hit.message_id || !isOpen(room)) return;
    if (!(await loadPathUntil(room, hit.message_id))) await switchToMessage(room, hit.message_id);
    if (!isOpen(room)) return;
    markFound(hit.message_id);
    followPendingReply();
  } catch (error) {
    if (error.code === "chatroom_not_found") notice("That chat was deleted.", "error");
    else notice(errorText(error), "error");
  }
}

export function initSearch() {
  const box = $("search");
  box.addEventListener("input", () => {
    clearTimeout(timer);
    if (!box.value.trim()) return closeSearch();
    timer = setTimeout(() => runSearch(), DEBOUNCE_MS);
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && box.value) {
      event.stopPropagation();
      box.value = "";
      closeSearch();
    } else if (event.key === "Enter") {
      clearTimeout(timer);
      runSearch();
    }
  });
  $("more-results").addEventListener("click", () => runSearch(true));
}
