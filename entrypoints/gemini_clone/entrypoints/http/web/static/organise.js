// Pin and archive in the list of chats: pinned chats first with a mark, archived ones out of
// the list and in their own view, from which they come back.
import { $, el, errorText, notice } from "./dom.js";
import { forgetRoom, loadRooms, renderRooms, setRoom } from "./rooms.js";
import { api, isOpen, state } from "./state.js";

const activity = (room) => room.last_message_at ?? room.created_at;

/** The server's order: pinned chats first, then the newest activity first. */
export function sortRooms() {
  state.rooms.sort(
    (a, b) => Number(Boolean(b.pinned)) - Number(Boolean(a.pinned)) || activity(b).localeCompare(activity(a)),
  );
}

function action(label, name, onClick) {
  const node = el("button", "link room-action", label);
  node.type = "button";
  node.setAttribute("aria-label", name);
  node.title = name;
  node.addEventListener("click", onClick);
  return node;
}

/** Pin or Unpin and Archive for a chat of the list; Unarchive in the archived view. */
export function roomActions(room) {
  const box = el("span", "room-actions");
  if (state.archivedView) {
    box.append(action("Unarchive", `Unarchive “${room.title}”`, () => setArchived(room, false)));
    return box;
  }
  const pin = action(room.pinned ? "Unpin" : "Pin", `${room.pinned ? "Unpin" : "Pin"} “${room.title}”`, () =>
    setPinned(room, !room.pinned),
  );
  box.append(pin, action("Archive", `Archive “${room.title}”`, () => setArchived(room, true)));
  return box;
}

async function patch(room, change) {
  const { messages: _, ...updated } = await api.json("PATCH", `/chatroom/${room.id}`, { body: change });
  return updated;
}

async function setPinned(room, pinned) {
  try {
    const updated = await patch(room, { pinned });
    state.rooms = state.rooms.map((each) => (each.id === updated.id ? { ...each, ...updated } : each));
    if (isOpen(updated)) setRoom({ ...state.room, ...updated });
    sortRooms();
    renderRooms();
    $("room-list").querySelector(`.room[data-id="${updated.id}"]`)?.focus();
  } catch (error) {
    notice(errorText(error), "error");
  }
}

/** Archiving takes the chat out of the list (the next one opens if it was open); unarchiving
 * takes it out of the archived view and back into the list. */
async function setArchived(room, archived) {
  try {
    const updated = await patch(room, { archived });
    if (isOpen(updated)) state.room = { ...state.room, ...updated };
    notice(archived ? `Archived “${updated.title}”.` : `“${updated.title}” is back in your chats.`);
  } catch (error) {
    if (error.code !== "chatroom_not_found") return notice(errorText(error), "error");
  }
  if (archived) await forgetRoom(room.id);
  else {
    state.rooms = state.rooms.filter((each) => each.id !== room.id);
    renderRooms();
  }
}

/** Switches the list between the chats and the archived chats. */
export async function showArchived(on) {
  state.archivedView = on;
  $("archived-head").hidden = !on;
  $("show-archived").hidden = on;
  try {
    await loadRooms();
  } catch (error) {
    notice(errorText(error), "error");
  }
  (on ? $("archived-back") : $("show-archived")).focus();
}

export function initOrganise() {
  $("show-archived").addEventListener("click", () => showArchived(true));
  $("archived-back").addEventListener("click", () => showArchived(false));
}
