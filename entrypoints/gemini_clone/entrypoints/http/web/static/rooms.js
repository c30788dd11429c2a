// The list of chats: loading, opening, creating, deleting, and the sidebar on phones.
import { $, button, confirmDialog, el, errorText, notice } from "./dom.js";
import { followPendingReply, stopWriting } from "./conversation.js";
import { renderMessages, showMessages } from "./messages.js";
import { api, isOpen, state } from "./state.js";
import { PAGE, setHistorySummary } from "./versions.js";

export async function loadRooms(more = false) {
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

export async function createRoom() {
  try {
    const room = await api.json("POST", "/chatroom", { body: {} });
    state.rooms.unshift(room);
    await openRoom(room);
  } catch (error) {
    notice(errorText(error), "error");
  }
}

/** Shows `room` as the open chat (its title, model, and its place in the list). */
export function setRoom(room) {
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

/** Opens `room`; `state.opening` is its loading, which a message typed meanwhile waits for. */
export function openRoom(room) {
  stopWriting();
  closeSidebar();
  state.messages = [];
  state.olderCursor = null;
  setHistorySummary(null);
  setRoom(room);
  $("message-list").replaceChildren();
  $("limit").hidden = true;
  $("messages").setAttribute("aria-busy", "true");
  state.opening = loadRoom(room).finally(() => {
    if (isOpen(room)) $("messages").removeAttribute("aria-busy");
  });
  return state.opening;
}

async function loadRoom(room) {
  try {
    // The room's own read carries the summary note's place (`history_summary`).
    const [page, detail] = await Promise.all([
      api.json("GET", `/chatroom/${room.id}/messages?limit=${PAGE}`),
      api.json("GET", `/chatroom/${room.id}`),
    ]);
    if (!isOpen(room)) return;
    setHistorySummary(detail);
    state.messages = page.items;
    state.olderCursor = page.next_cursor;
    showMessages();
    followPendingReply();
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

async function deleteOpenRoom() {
  const room = state.room;
  if (!(await confirmDialog(`Delete “${room.title}” and all its messages?`, "Delete"))) return;
  try {
    await api.json("DELETE", `/chatroom/${room.id}`);
    notice(`Deleted “${room.title}”.`);
  } catch (error) {
    if (error.code !== "chatroom_not_found") return notice(errorText(error), "error");
  }
  await forgetRoom(room.id);
}

/** Reads the chat again (a first answer names an untitled chat, a long one's summary grows)
 * and reorders the list. */
export async function refreshRoom(room) {
  try {
    const { messages: _, ...chatroom } = await api.json("GET", `/chatroom/${room.id}`);
    if (isOpen(room)) {
      const before = JSON.stringify(state.historySummary);
      setHistorySummary(chatroom);
      setRoom(chatroom);
      if (JSON.stringify(state.historySummary) !== before && !state.writing) renderMessages();
    } else state.rooms = state.rooms.map((each) => (each.id === room.id ? chatroom : each));
    state.rooms.sort((a, b) => (b.last_message_at ?? b.created_at).localeCompare(a.last_message_at ?? a.created_at));
    renderRooms();
  } catch {
    // The list is refreshed again with the next reply.
  }
}

function closeSidebar() {
  $("app").classList.remove("sidebar-open");
  $("scrim").hidden = true;
}

export function initRooms() {
  $("more-rooms").addEventListener("click", () => loadRooms(true));
  $("new-room").addEventListener("click", createRoom);
  $("room-delete").addEventListener("click", deleteOpenRoom);
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
}
