// Writing in the open chat: sending, following a reply as it is written, stopping it, and
// new versions: regenerating any answer and editing any question.
import { isFinal } from "./api.js";
import { $, button, el, errorText, notice } from "./dom.js";
import { latestReply, renderMessages, replaceMessage, scrollToEnd, updateReply } from "./messages.js";
import { loadPlan, showLimit } from "./plan.js";
import { followReply, postMessage } from "./replies.js";
import { refreshRoom } from "./rooms.js";
import { api, isOpen, state } from "./state.js";
import { filesSent, hasFiles, uploadedIds } from "./uploads.js";
import { showNewVersionPath } from "./versions.js";

function setWriting(writing) {
  state.writing = writing;
  $("send").hidden = Boolean(writing);
  $("stop").hidden = !writing;
}

/** Stops following the reply being written (the reply itself goes on). */
export function stopWriting() {
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

/** Follows the open chat's latest reply when it is still being written. */
export function followPendingReply() {
  const reply = latestReply();
  if (!reply || isFinal(reply)) return;
  const room = state.room;
  write((on, signal) => {
    on.accepted({ reply });
    return followReply(api, room.id, reply, on, signal);
  }).catch(() => {});
}

async function send(event) {
  event.preventDefault();
  const input = $("input");
  const content = input.value.trim();
  if (!content && hasFiles() && !state.writing) notice("Add a few words to send with the files.");
  if (!content || state.writing || !state.room) return; // typed early: kept for Enter again
  $("limit").hidden = true;
  const room = state.room;
  input.value = "";
  autosize();
  try {
    // Sent while the chat was still loading: after its messages, so the new ones follow them.
    await state.opening;
    if (!isOpen(room) || state.writing) throw new Error("The chat changed meanwhile.");
    const attachmentIds = await uploadedIds(room); // once the uploads under way are over
    if (!isOpen(room) || state.writing) throw new Error("The chat changed meanwhile.");
    await write((on, signal) => {
      // The files leave the composer once the message holding them is accepted; a refused
      // post (a type the chat's model cannot read, say) leaves them there.
      const accepted = (answer) => {
        filesSent(attachmentIds);
        on.accepted(answer);
      };
      return postMessage(api, room.id, content, { ...on, accepted }, signal, attachmentIds);
    });
  } catch {
    if (!input.value) input.value = content; // nothing typed is lost to an error
    autosize();
  }
}

function autosize() {
  const input = $("input");
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 240)}px`;
}

async function stop() {
  const reply = state.writing?.reply;
  if (!reply) return;
  $("stop").disabled = true;
  try {
    await api.json("POST", `/chatroom/${state.room.id}/message/${reply.id}/stop`);
  } catch (error) {
    notice(errorText(error), "error");
  } finally {
    $("stop").disabled = false;
  }
}

/** Writes a new version of `replaced` (`ask` sends the edit or the regeneration): the room's
 * path moves to it, and its reply is shown as it is written, like a post's. */
async function newVersion(replaced, ask) {
  const room = state.room;
  try {
    await write(async (on, signal) => {
      const answer = await ask(room);
      await showNewVersionPath(room, replaced);
      on.accepted(answer);
      return followReply(api, room.id, answer.reply, on, signal);
    });
  } catch {
    renderMessages();
  }
}

/** Asks for a new answer to the question of `reply`, any reply of the path. */
export function regenerate(reply) {
  return newVersion(reply, (room) =>
    api.json("POST", `/chatroom/${room.id}/message/${reply.id}/regenerate`),
  );
}

/** Turns a question, any of the path, into a form; saving it sends the new version for a new
 * answer. */
export function editQuestion(node, question) {
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
    await newVersion(question, (room) =>
      api.json("PATCH", `/chatroom/${room.id}/message/${question.id}`, { body: { content } }),
    );
  });
  bubble.replaceWith(form);
  area.focus();
}

export function initConversation() {
  $("composer").addEventListener("submit", send);
  $("input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("input").addEventListener("input", autosize);
  $("stop").addEventListener("click", stop);
}
