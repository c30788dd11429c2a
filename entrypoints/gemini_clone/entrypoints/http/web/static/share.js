// Shared links: sharing the open chat (a snapshot of its current path, shown as a link to
// copy) and the list of the user's links, each of which can be revoked.
import { $, button, confirmDialog, dateFormat, el, errorText, notice } from "./dom.js";
import { api, state } from "./state.js";

async function shareOpenRoom() {
  const room = state.room;
  $("room-menu").open = false;
  if (!room) return;
  try {
    const share = await api.json("POST", `/chatroom/${room.id}/share`, { body: {} });
    $("share-url").value = share.url;
    $("share-copied").textContent = "";
    $("share-dialog").showModal();
    $("share-url").select();
  } catch (error) {
    if (error.code === "nothing_to_share") notice("Ask something first: this chat has no answer to share yet.", "error");
    else notice(errorText(error), "error");
  }
}

async function copyLink() {
  const input = $("share-url");
  try {
    await navigator.clipboard.writeText(input.value);
    $("share-copied").textContent = "Copied.";
  } catch {
    // No clipboard (an insecure origin, or permission refused): the link is selected instead.
    input.select();
    $("share-copied").textContent = "Selected: copy it with Ctrl+C or ⌘C.";
  }
}

function shareNode(share) {
  const item = el("li", "share");
  item.dataset.id = share.id;
  const text = item.appendChild(el("div", "share-text"));
  text.append(el("strong", null, share.title));
  const link = text.appendChild(el("a", "small", share.url));
  link.href = share.url;
  link.target = "_blank";
  link.rel = "noopener noreferrer";
  text.append(el("span", "muted small", `Shared ${dateFormat.format(new Date(share.created_at))}`));
  const revoke = item.appendChild(button("Revoke", "danger-quiet", () => revokeShare(share, item)));
  revoke.setAttribute("aria-label", `Revoke the link to “${share.title}”`);
  return item;
}

async function showShares() {
  $("shares-error").textContent = "";
  $("share-list").replaceChildren();
  $("shares-empty").hidden = true;
  $("shares-dialog").showModal();
  try {
    const { items } = await api.json("GET", "/shares");
    $("share-list").replaceChildren(...items.map(shareNode));
    $("shares-empty").hidden = items.length > 0;
  } catch (error) {
    $("shares-error").textContent = errorText(error);
  }
}

async function revokeShare(share, item) {
  const sure = await confirmDialog(`Revoke the link to “${share.title}”? It stops working at once.`, "Revoke");
  if (!sure) return;
  try {
    await api.json("DELETE", `/share/${share.id}`);
    notice(`The link to “${share.title}” is revoked.`);
  } catch (error) {
    if (error.code !== "share_not_found") return notice(errorText(error), "error");
  }
  item.remove();
  $("shares-empty").hidden = $("share-list").children.length > 0;
}

export function initShare() {
  $("room-share").addEventListener("click", shareOpenRoom);
  $("room-share-menu").addEventListener("click", shareOpenRoom); // phones: Share is in "More"
  $("share-copy").addEventListener("click", copyLink);
  $("show-shares").addEventListener("click", showShares);
}
