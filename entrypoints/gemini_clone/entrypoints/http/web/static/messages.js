// The open chat's messages on the page: its current path, each message with its versions and
// what can be done with it, and older messages loaded when scrolling up.
import { isFinal } from "./api.js";
import { attachmentList, keepAttachmentViews } from "./attachments.js";
import { editQuestion, regenerate } from "./conversation.js";
import { $, button, dateFormat, el, errorText, notice, timeFormat } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { api, isOpen, state } from "./state.js";
import { branchFrom, PAGE, summaryNote, versionSwitch } from "./versions.js";

const STATUS_TEXT = {
  queued: "Waiting for the model…",
  processing: "Writing…",
  cancelled: "Stopped before any text was written.",
};

const PROBLEM_TITLE = {
  failed: "Failed: no answer this time",
  blocked: "Blocked: the model withheld this answer",
};

export function latestQuestion() {
  return state.messages.findLast((message) => message.role === "user") ?? null;
}

export function latestReply() {
  const question = latestQuestion();
  return question ? repliesTo(question).at(-1) ?? null : null;
}

function repliesTo(question) {
  return state.messages.filter((message) => message.in_reply_to === question.id);
}

/** Puts a new or changed message into the open chat's list. An answer about one message
 * (a post, a stream's `done`) has no `versions`: the ones read with the path are kept. */
export function replaceMessage(message) {
  const index = state.messages.findIndex((each) => each.id === message.id);
  if (index < 0) return state.messages.push(message);
  const known = state.messages[index];
  state.messages[index] = { ...message, versions: message.versions ?? known.versions ?? null };
}

/** The model that answered; a fallback says which model was asked for. */
export function modelLabel(reply) {
  const model = reply.model ?? "model";
  return reply.fallback_from ? `${model}, fallback for ${reply.fallback_from}` : model;
}

function replyMeta(reply) {
  if (reply.status in STATUS_TEXT) return STATUS_TEXT[reply.status];
  const parts = [reply.status in PROBLEM_TITLE ? reply.status : modelLabel(reply)];
  if (reply.finish_reason === "stopped") parts.push("stopped");
  if (reply.finish_reason === "max_tokens") parts.push("cut off at the length limit");
  if (reply.completed_at) parts.push(timeFormat.format(new Date(reply.completed_at)));
  return parts.join(" · ");
}

function timeLabel(message) {
  const created = new Date(message.created_at);
  const today = created.toDateString() === new Date().toDateString();
  const edited = message.edited_at ? " · edited" : "";
  return `${(today ? timeFormat : dateFormat).format(created)}${edited}`;
}

function messageNode(message) {
  const item = el("li", `message ${message.role}`);
  item.dataset.id = message.id;
  item.dataset.status = message.status;
  if (message.id === state.found) item.classList.add("found");
  const files = attachmentList(message);
  if (files) item.append(files);
  const bubble = item.appendChild(el("div", "bubble"));
  if (message.role === "user") bubble.textContent = message.content;
  else fillReply(bubble, message);
  const meta = item.appendChild(el("div", "meta"));
  meta.append(el("span", "status", message.role === "user" ? timeLabel(message) : replyMeta(message)));
  return item;
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

/** The whole list: Edit on every question and Regenerate on every final reply while no
 * reply is being written, the versions of each message, Branch on final replies, and the
 * note where the model's summary of the chat ends. */
export function renderMessages() {
  const list = $("message-list");
  list.replaceChildren();
  const note = summaryNote();
  for (const message of state.messages) {
    const node = messageNode(message);
    const meta = node.querySelector(".meta");
    const versions = versionSwitch(message);
    if (versions) meta.append(versions);
    if (message.role === "user" && !state.writing) {
      meta.append(button("Edit", "link action", () => editQuestion(node, message)));
    }
    if (message.role === "model" && isFinal(message)) {
      if (!state.writing) meta.append(button("Regenerate", "link action", () => regenerate(message)));
      meta.append(button("Branch in new chat", "link action", () => branchFrom(message)));
    }
    list.append(node);
    if (note && note.dataset.through === message.id) list.append(note);
  }
  keepAttachmentViews(state.messages); // the blob URLs of files no longer shown are revoked
  $("empty").hidden = state.messages.length > 0;
  $("older").hidden = !state.olderCursor;
  $("older").textContent = "Scroll up for older messages";
}

/** A freshly loaded chat: its messages, scrolled to the end. */
export function showMessages() {
  renderMessages();
  scrollToEnd();
}

/** The reply's node shows `text` (as it is being written) and its status. */
export function updateReply(reply, text) {
  const node = document.querySelector(`li[data-id="${reply.id}"]`);
  if (!node) return;
  node.dataset.status = reply.status;
  node.classList.toggle("writing", Boolean(text) && !isFinal(reply));
  fillReply(node.querySelector(".bubble"), { ...reply, content: text });
  node.querySelector(".status").textContent = replyMeta(reply);
  if (nearEnd()) scrollToEnd();
}

const box = () => $("messages");
const nearEnd = () => box().scrollHeight - box().scrollTop - box().clientHeight < 120;
export const scrollToEnd = () => (box().scrollTop = box().scrollHeight);

async function loadOlder() {
  const messagesBox = box();
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
}

export function initMessages() {
  box().addEventListener("scroll", loadOlder);
}
