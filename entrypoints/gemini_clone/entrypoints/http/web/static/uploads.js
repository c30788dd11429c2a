// Files for the next message: picked with the attach button, dropped on the chat or pasted
// into the message box. Each is uploaded at once to the open chat (`POST .../attachments`)
// and shown as a chip: name, size, a thumbnail for an image, the upload's progress, the
// problem's title when the server refuses it, and a button that removes it (deleting the
// upload). A post sends the uploaded ones as `attachment_ids`.
import { ApiError } from "./api.js";
import { fileBadge, isImageType, sizeText } from "./attachments.js";
import { $, button, el, notice } from "./dom.js";
import { api, state } from "./state.js";

const MAX_FILES = 10; // a message carries at most this many (MAX_ATTACHMENTS_PER_MESSAGE)

/** The composer's files, in the order added: `{file, roomId, status: "uploading" | "ready" |
 * "failed", attachment, error, progress, controller, done, preview, node}`. */
let pending = [];

const filePath = (roomId, id = "") => `/chatroom/${roomId}/attachments${id ? `/${id}` : ""}`;

/** Adds files to the composer and uploads each of them to the open chat. */
export function addFiles(files) {
  const room = state.room;
  if (!room || !files.length) return;
  const free = MAX_FILES - pending.filter((entry) => entry.status !== "failed").length;
  if (files.length > free) {
    notice(`A message takes at most ${MAX_FILES} files.`, "error");
    files = files.slice(0, Math.max(free, 0));
  }
  for (const file of files) {
    const entry = { file, roomId: room.id, status: "uploading", progress: 0 };
    entry.controller = new AbortController();
    // The browser's guess is enough for a preview of the person's own file; the server
    // sniffs the bytes.
    if (isImageType(file.type)) entry.preview = URL.createObjectURL(file);
    pending.push(entry);
    entry.done = upload(entry);
  }
  renderFiles();
}

async function upload(entry) {
  const form = new FormData();
  form.append("file", entry.file, entry.file.name || "file");
  let lastShown = 0;
  try {
    entry.attachment = await api.upload(filePath(entry.roomId), form, {
      signal: entry.controller.signal,
      onProgress: (fraction) => {
        entry.progress = fraction;
        if (fraction - lastShown >= 0.05 || fraction === 1) {
          lastShown = fraction;
          updateNode(entry);
        }
      },
    });
    entry.status = "ready";
    if (!pending.includes(entry)) return deleteUpload(entry); // removed as it finished
  } catch (error) {
    if (entry.controller.signal.aborted) return; // removed by the person
    entry.status = "failed";
    entry.error = error;
  }
  if (pending.includes(entry)) updateNode(entry);
}

/** The error as the server named it: the problem's title, then its detail; never its body
 * as markup (only JSON problems are read, and shown as text). */
function problemLines(error, failed = "Not uploaded") {
  if (!(error instanceof ApiError)) return [failed, "The server could not be reached."];
  const { title, detail } = error.problem;
  return [title || `${failed} (${error.status})`, detail && detail !== title ? detail : ""];
}

function renderFiles() {
  const list = $("composer-files");
  list.replaceChildren(...pending.map(fileNode));
  list.hidden = pending.length === 0;
}

function fileNode(entry) {
  const { file } = entry;
  const node = el("li", "chip");
  entry.node = node;
  if (entry.preview) {
    const thumbnail = node.appendChild(el("img", "chip-thumbnail"));
    thumbnail.src = entry.preview;
    thumbnail.alt = "";
  } else {
    node.append(fileBadge(file.name || ""));
  }
  const text = node.appendChild(el("span", "chip-text"));
  text.append(el("span", "chip-name", file.name || "file"), el("span", "chip-size", sizeText(file.size)));
  text.append(el("span", "chip-state"));
  const remove = node.appendChild(
    button("✕", "icon chip-remove", () => {
      removeFile(entry);
      $("input").focus();
    }),
  );
  remove.setAttribute("aria-label", `Remove ${file.name || "the file"}`);
  updateNode(entry);
  return node;
}

/** The chip's state: a progress bar while uploading, the problem when refused. */
function updateNode(entry) {
  const node = entry.node;
  if (!node) return;
  node.dataset.status = entry.status;
  const line = node.querySelector(".chip-state");
  if (entry.status === "uploading") {
    const bar = el("progress");
    bar.max = 1;
    bar.value = entry.progress;
    bar.setAttribute("aria-label", `Uploading ${entry.file.name}`);
    line.replaceChildren(bar);
  } else if (entry.status === "failed") {
    const [title, detail] = problemLines(entry.error);
    line.replaceChildren(el("strong", "chip-problem", title));
    if (detail) line.append(el("span", "chip-detail", detail));
    line.setAttribute("role", "alert");
  } else {
    line.replaceChildren();
  }
}

function drop(entry) {
  pending = pending.filter((each) => each !== entry);
  if (entry.preview) URL.revokeObjectURL(entry.preview);
}

/** Takes a file back: its upload is stopped or deleted (an upload on no message would count
 * against the storage allowance until swept). */
function removeFile(entry) {
  drop(entry);
  renderFiles();
  if (entry.status === "uploading") entry.controller.abort();
  if (entry.status === "ready") deleteUpload(entry);
}

async function deleteUpload(entry) {
  try {
    await api.json("DELETE", filePath(entry.roomId, entry.attachment.id));
  } catch (error) {
    // Gone already (its chat was deleted, say): nothing left to take back.
    if (!(error instanceof ApiError && error.status === 404)) {
      notice(`${entry.file.name}: ${problemLines(error, "Not deleted").filter(Boolean).join(". ")}`, "error");
    }
  }
}

export const hasFiles = () => pending.length > 0;

/** The ids of the files uploaded to `room`, once the uploads still under way are over. */
export async function uploadedIds(room) {
  await Promise.allSettled(pending.map((entry) => entry.done));
  return pending
    .filter((entry) => entry.status === "ready" && entry.roomId === room.id)
    .map((entry) => entry.attachment.id);
}

/** The files went with a message: their chips leave the composer. */
export function filesSent(ids) {
  for (const entry of [...pending]) if (ids.includes(entry.attachment?.id)) drop(entry);
  renderFiles();
}

/** Empties the composer: another chat opens (its uploads are deleted: they belong to the chat
 * left), or the session ended (`deleteUploads` false: no token to delete them with). */
export function clearFiles({ deleteUploads = true } = {}) {
  for (const entry of [...pending]) {
    if (deleteUploads) removeFile(entry);
    else {
      entry.controller.abort();
      drop(entry);
    }
  }
  renderFiles();
}

const carriesFiles = (event) => event.dataTransfer?.types.includes("Files");

export function initUploads() {
  const input = $("attach-file");
  $("attach").addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    addFiles([...input.files]);
    input.value = ""; // the same file can be chosen again
  });
  // A file dropped anywhere on the chat (the conversation or the composer) is attached.
  const chat = $("chat");
  chat.addEventListener("dragover", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    chat.classList.add("dropping");
  });
  chat.addEventListener("dragleave", (event) => {
    if (!chat.contains(event.relatedTarget)) chat.classList.remove("dropping");
  });
  chat.addEventListener("drop", (event) => {
    chat.classList.remove("dropping");
    if (!carriesFiles(event)) return;
    event.preventDefault();
    addFiles([...event.dataTransfer.files]);
  });
  // A file dropped just beside the chat would replace the page with it: refused instead.
  for (const type of ["dragover", "drop"]) {
    window.addEventListener(type, (event) => {
      if (!carriesFiles(event) || event.defaultPrevented) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "none";
    });
  }
  // A pasted image (a screenshot, say) is attached; pasted text stays text.
  $("input").addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files ?? [])];
    if (!files.length) return;
    event.preventDefault();
    addFiles(files);
  });
}
