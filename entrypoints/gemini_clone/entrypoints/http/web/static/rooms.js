// The list of chats: loading, opening, creating, deleting, and the sidebar on phones.
import { forgetAttachmentViews } from "./attachments.js";
import { $, button, confirmDialog, el, errorText, notice } from "./dom.js";
import { followPendingReply, stopWriting } from "./conversation.js";
import { renderMessages, showMessages } from "./messages.js";
import { roomActions, sortRooms } from "./organise.js";
import { api, isOpen, state } from "./state.js";
import { clearFiles } from "./uploads.js";
import { PAGE, setHistorySummary } from "./versions.js";

export async function loadRooms(more = false) {
  let query = more && state.roomsCursor ? `&cursor=${encodeURIComponent(state.roomsCursor)}` : "";
  if (state.archivedView) query += "&archived=true";
  const page = await api.json("GET", `/chatroom?limit=50${query}`);
  state.rooms = more ? [...state.rooms, ...page.items] : page.items;
  state.roomsCursor = page.next_cursor;
  renderRooms();
}

/** The list (or the archived view): pinned chats carry a mark, each chat its actions. */
export function renderRooms() {
  const list = $("room-list");
  list.replaceChildren();
  for (const room of state.rooms) {
    const item = list.appendChild(el("li", room.pinned ? "pinned" : null));
    const link = item.appendChild(button("", "room", () => openRoom(room)));
    if (room.pinned && !state.archivedView) {
      const mark = link.appendChild(el("span", "pin-mark", "📌"));
      mark.title = "Pinned";
      link.append(el("span", "visually-hidden", "Pinned: "));
    }
    link.append(room.title);
    link.dataset.id = room.id;
    if (isOpen(room)) link.setAttribute("aria-current", "page");
    item.append(roomActions(room));
  }
  $("more-rooms").hidden = !state.roomsCursor;
  $("archived-empty").hidden = !state.archivedView || state.rooms.length > 0;
}

export async function createRoom() {
  try {
    if (state.archivedView) {
      state.archivedView = false; // a new chat is seen in the list of chats
      $("archived-head").hidden = true;
      $("show-archived").hidden = false;
      await loadRooms();
    }
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
  state.found = null;
  state.messages = [];
  state.olderCursor = null;
  setHistorySummary(null);
  if (!isOpen(room)) clearFiles(); // files uploaded to the chat left cannot go with this one's
  setRoom(room);
  $("message-list").replaceChildren();
  forgetAttachmentViews();
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

/** Takes a chat out of the list (deleted, archived, or gone); the next one opens if it was
 * the open one. */
export async function forgetRoom(id) {
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
    sortRooms();
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
