// Your data: the chat's "More" menu, a chat exported as a file (JSON with every version, or Markdown), chats
// imported from a file (our own export or ChatGPT's conversations.json), and deleting the
// account behind a confirmation that asks for its number.
import { ApiError } from "./api.js";
import { $, errorText, notice } from "./dom.js";
import { loadRooms, openRoom } from "./rooms.js";
import { showArchived } from "./organise.js";
import { api, state } from "./state.js";

/** The file name of a `Content-Disposition: attachment; filename="..."` answer. */
function attachmentName(response, fallback) {
  const match = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") ?? "");
  return match ? match[1] : fallback;
}

/** Downloads the open chat: fetched with the token (a plain link could not send it), then
 * saved from a blob URL. */
async function exportOpenRoom(format) {
  const room = state.room;
  $("room-menu").open = false;
  if (!room) return;
  try {
    const response = await api.send("GET", `/chatroom/${room.id}/export?format=${format}`);
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = attachmentName(response, `chat.${format === "markdown" ? "md" : "json"}`);
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (error) {
    notice(errorText(error), "error");
  }
}

/** Sends the chosen file; its chats join the list and the first of them opens. */
async function importFile() {
  const input = $("import-file");
  const file = input.files?.[0];
  input.value = ""; // the same file can be chosen again
  if (!file) return;
  const form = new FormData();
  form.append("file", file, file.name);
  notice(`Importing ${file.name}…`);
  try {
    const { items } = await api.json("POST", "/chatroom/import", { body: form });
    if (state.archivedView) await showArchived(false);
    else await loadRooms();
    const count = items.length;
    notice(`Imported ${count} chat${count === 1 ? "" : "s"} from ${file.name}.`);
    const first = state.rooms.find((room) => room.id === items[0]?.id) ?? items[0];
    if (first) await openRoom(first);
  } catch (error) {
    notice(importProblem(error), "error");
  }
}

function importProblem(error) {
  if (!(error instanceof ApiError)) return errorText(error);
  const first = error.problem.errors?.[0];
  const where = first ? ` (${[first.field, first.message].filter(Boolean).join(": ")})` : "";
  return `The file was not imported: ${error.message}${where}`;
}

function askToDeleteAccount() {
  $("delete-account-number").value = "";
  $("delete-account-error").textContent = "";
  $("delete-account-dialog").showModal();
  $("delete-account-number").focus();
}

/** Deletes the account once its number is typed; the page goes back to the log-in. */
async function deleteAccount(event) {
  event.preventDefault();
  const typed = $("delete-account-number").value.trim();
  if (!typed) {
    $("delete-account-error").textContent = "Type your mobile number to confirm.";
    return;
  }
  try {
    await api.json("DELETE", "/user/me", { body: { confirm: typed } });
  } catch (error) {
    $("delete-account-error").textContent = errorText(error);
    return;
  }
  $("delete-account-dialog").close();
  api.endSession(); // the server ended every session already; this page logs out too
  $("login-note").textContent = "Your account and everything in it is deleted.";
}

export function initData() {
  // The chat's menu closes on a click elsewhere or Escape, as menus do.
  document.addEventListener("click", (event) => {
    if (!$("room-menu").contains(event.target)) $("room-menu").open = false;
  });
  $("room-menu").addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !$("room-menu").open) return;
    $("room-menu").open = false;
    $("room-menu").querySelector("summary").focus();
  });
  $("export-json").addEventListener("click", () => exportOpenRoom("json"));
  $("export-markdown").addEventListener("click", () => exportOpenRoom("markdown"));
  $("import").addEventListener("click", () => $("import-file").click());
  $("import-file").addEventListener("change", importFile);
  $("delete-account").addEventListener("click", askToDeleteAccount);
  $("delete-account-form").addEventListener("submit", deleteAccount);
  $("delete-account-cancel").addEventListener("click", () => $("delete-account-dialog").close());
}
