// A message's files in the conversation: images as thumbnails, other files as download links.
// The bytes are fetched with the token (no URL ever carries it) and shown from blob URLs, kept
// while their message is on the page and revoked when it leaves.
import { el, errorText, notice } from "./dom.js";
import { api } from "./state.js";

/** The types the service takes as images (it sniffs them from the bytes). */
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/webp", "image/gif"]);

export const isImageType = (mediaType) => IMAGE_TYPES.has(mediaType);

const sizeFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

/** `812 B`, `34 KB`, `2.1 MB`: decimal units, as the model's own description of a file. */
export function sizeText(bytes) {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1_000_000) return `${sizeFormat.format(Math.round(bytes / 100) / 10)} KB`;
  return `${sizeFormat.format(Math.round(bytes / 100_000) / 10)} MB`;
}

/** A small badge naming a file's kind by its extension (`TXT`, `PDF`): no icon font needed. */
export function fileBadge(filename) {
  const extension = /\.([a-z0-9]{1,4})$/i.exec(filename)?.[1] ?? "file";
  const badge = el("span", "file-badge", extension.toUpperCase());
  badge.setAttribute("aria-hidden", "true");
  return badge;
}

/** Blob URLs of the files on the page, by attachment id: `{ready, url, revoked}`. */
const views = new Map();

function blobUrl(attachment) {
  let view = views.get(attachment.id);
  if (view) return view;
  view = { url: null, revoked: false };
  view.ready = api
    .send("GET", `/chatroom/${attachment.chatroom_id}/attachments/${attachment.id}`)
    .then((response) => response.blob())
    .then((blob) => {
      const url = URL.createObjectURL(blob);
      if (view.revoked) URL.revokeObjectURL(url); // its message left the page meanwhile
      else view.url = url;
      return url;
    })
    .catch((error) => {
      if (views.get(attachment.id) === view) views.delete(attachment.id); // asked again next time
      throw error;
    });
  views.set(attachment.id, view);
  return view;
}

function revoke(id) {
  const view = views.get(id);
  view.revoked = true;
  if (view.url) URL.revokeObjectURL(view.url);
  views.delete(id);
}

/** Revokes the blob URLs of files on none of `messages` (the view no longer shows them). */
export function keepAttachmentViews(messages) {
  const shown = new Set(messages.flatMap((message) => (message.attachments ?? []).map((a) => a.id)));
  for (const id of [...views.keys()]) if (!shown.has(id)) revoke(id);
}

/** Revokes every blob URL: another chat opens, or the session ends. */
export const forgetAttachmentViews = () => keepAttachmentViews([]);

/** The files of `message` as a list, or null when it has none. */
export function attachmentList(message) {
  const attachments = message.attachments ?? [];
  if (!attachments.length) return null;
  const list = el("ul", "attachments");
  list.setAttribute("aria-label", "Files");
  for (const attachment of attachments) {
    list.append(isImageType(attachment.media_type) ? imageItem(attachment) : fileItem(attachment));
  }
  return list;
}

function describe(attachment) {
  return `${attachment.filename} · ${sizeText(attachment.size)}`;
}

/** A thumbnail, which opens the whole image in a new tab. */
function imageItem(attachment) {
  const item = el("li", "attachment image loading");
  item.dataset.id = attachment.id;
  const link = item.appendChild(el("a"));
  link.target = "_blank";
  link.rel = "noopener";
  link.title = describe(attachment);
  const image = link.appendChild(el("img"));
  image.alt = attachment.filename;
  const show = (url) => {
    image.src = url;
    link.href = url;
    item.classList.remove("loading");
  };
  const view = blobUrl(attachment);
  if (view.url) show(view.url);
  else {
    view.ready.then(show, (error) => {
      item.classList.replace("loading", "failed");
      link.replaceWith(el("span", "attachment-problem", `${attachment.filename}: ${errorText(error)}`));
    });
  }
  return item;
}

/** A download link: the first click fetches the file, then the link saves it from its blob. */
function fileItem(attachment) {
  const item = el("li", "attachment file");
  item.dataset.id = attachment.id;
  const link = item.appendChild(el("a", "file-link"));
  link.append(fileBadge(attachment.filename), el("span", "file-name", attachment.filename));
  link.append(el("span", "file-size", sizeText(attachment.size)));
  link.title = `Download ${attachment.filename} (${attachment.media_type})`;
  link.download = attachment.filename;
  const view = views.get(attachment.id);
  link.href = view?.url ?? "#";
  link.addEventListener("click", async (event) => {
    if (link.href.startsWith("blob:")) return; // saved by the browser from the blob
    event.preventDefault();
    try {
      link.href = await blobUrl(attachment).ready;
      link.click();
    } catch (error) {
      notice(`${attachment.filename}: ${errorText(error)}`, "error");
    }
  });
  return item;
}
