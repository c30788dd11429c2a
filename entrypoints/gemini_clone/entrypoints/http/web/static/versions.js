// Versions and branches of the open chat: the `‹ 2/3 ›` switch between a message's versions,
// reading the current path again after a new version, branching a path into a new chat, and
// the note where the model's summary of a long chat begins.
import { followPendingReply } from "./conversation.js";
import { button, dateFormat, el, errorText, notice } from "./dom.js";
import { renderMessages } from "./messages.js";
import { openRoom } from "./rooms.js";
import { api, isOpen, state } from "./state.js";

export const PAGE = 30;

/** `‹ 2/3 ›` for a message with other versions; null for one without. The arrows switch the
 * room's current path to the neighbouring version (disabled while a reply is being written:
 * the page follows one path at a time). */
export function versionSwitch(message) {
  const versions = message.versions;
  if (!versions || versions.count < 2) return null;
  const box = el("span", "versions");
  box.setAttribute("role", "group");
  box.setAttribute("aria-label", "Versions");
  const previous = button("‹", "link", () => switchPath(versions.previous_id));
  previous.setAttribute("aria-label", "Previous version");
  previous.disabled = !versions.previous_id || Boolean(state.writing);
  const next = button("›", "link", () => switchPath(versions.next_id));
  next.setAttribute("aria-label", "Next version");
  next.disabled = !versions.next_id || Boolean(state.writing);
  box.append(previous, el("span", "version-count", `${versions.index}/${versions.count}`), next);
  return box;
}

function showPath(page) {
  state.messages = page.items;
  state.olderCursor = page.next_cursor;
}

/** Makes the path through `messageId` the room's current one and shows it, keeping that
 * message in view; a reply still being written at its end is followed. */
export async function switchPath(messageId) {
  const room = state.room;
  if (!messageId || !room || state.writing) return;
  try {
    const page = await api.json("POST", `/chatroom/${room.id}/path`, {
      body: { message_id: messageId },
    });
    if (!isOpen(room)) return;
    showPath(page);
    renderMessages();
    document.querySelector(`li[data-id="${messageId}"]`)?.scrollIntoView({ block: "nearest" });
    followPendingReply();
  } catch (error) {
    notice(errorText(error), "error");
  }
}

/** After a new version of `replaced` (an edited question or a regenerated reply): the path
 * now leaves it, so what followed it goes from the page at once, and the path is read again
 * for each message's `versions` (the new version's answer does not carry them). */
export async function showNewVersionPath(room, replaced) {
  const index = state.messages.findIndex((message) => message.id === replaced.id);
  if (index >= 0) state.messages = state.messages.slice(0, index);
  try {
    const page = await api.json("GET", `/chatroom/${room.id}/messages?limit=${PAGE}`);
    if (isOpen(room)) showPath(page);
  } catch {
    // The counters come with the next read of the chat; the new version is shown anyway.
  }
}

/** A new chat holding a copy of the path up to `message`, opened and put first in the list. */
export async function branchFrom(message) {
  const room = state.room;
  try {
    const { messages: _, ...branch } = await api.json("POST", `/chatroom/${room.id}/fork`, {
      body: { message_id: message.id },
    });
    state.rooms.unshift(branch);
    await openRoom(branch);
    notice(`Branched into a new chat: “${branch.title}”.`);
  } catch (error) {
    notice(errorText(error), "error");
  }
}

/** The open chat's summary for the model (`history_summary` of `GET /chatroom/{id}`), or
 * null; a server without summaries leaves the field out. */
export function setHistorySummary(detail) {
  const summary = detail?.history_summary;
  state.historySummary = summary && summary.through_message_id ? summary : null;
}

/** The quiet note placed after the last message the summary covers: the model reads that
 * summary instead of the messages up to here. */
export function summaryNote() {
  const summary = state.historySummary;
  if (!summary) return null;
  const item = el("li", "summary-note");
  item.dataset.through = summary.through_message_id;
  const fold = item.appendChild(el("details"));
  fold.append(el("summary", null, "Earlier messages are summarised for the model"));
  const text = fold.appendChild(el("p", "summary-text", summary.text ?? ""));
  if (summary.updated_at) {
    text.title = `Summary updated ${dateFormat.format(new Date(summary.updated_at))}`;
  }
  return item;
}
