// What the screens share: the API client and the state of the page.
import { Api } from "./api.js";

export const api = new Api();

export const state = {
  rooms: [],
  roomsCursor: null,
  room: null, // the open chat
  opening: null, // the loading of its messages, a promise that never rejects
  messages: [], // its loaded messages, oldest first
  olderCursor: null,
  historySummary: null, // {through_message_id, text, updated_at} of the open chat, or null
  loadingOlder: false,
  writing: null, // {reply, controller} while a reply of the open chat is being written
  models: null,
  mobile: "",
};

/** The chat is the open one (by id: the open chat's object is replaced when it changes). */
export const isOpen = (room) => state.room?.id === room.id;
