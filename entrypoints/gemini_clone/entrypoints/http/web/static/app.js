// The chat page: wires the screens and starts on the log-in or, for a session kept in the
// refresh cookie, on the chats.
import { forgetAttachmentViews } from "./attachments.js";
import { initConversation, stopWriting } from "./conversation.js";
import { initData } from "./data.js";
import { $, errorText, notice } from "./dom.js";
import { initLogin, showLogin } from "./login.js";
import { initMessages } from "./messages.js";
import { initOrganise } from "./organise.js";
import { greetReturnFromCheckout, initPlan, loadPlan } from "./plan.js";
import { createRoom, initRooms, loadRooms, openRoom } from "./rooms.js";
import { closeSearch, initSearch } from "./search.js";
import { initSettings, loadModels } from "./settings.js";
import { initShare } from "./share.js";
import { api, state } from "./state.js";
import { clearFiles, initUploads } from "./uploads.js";

async function startApp() {
  state.room = null;
  state.archivedView = false; // a new session starts on the list of chats, not on a search
  $("archived-head").hidden = true;
  $("show-archived").hidden = false;
  $("search").value = "";
  closeSearch();
  $("login-note").textContent = "";
  $("send").disabled = true; // until a chat is open
  $("messages").setAttribute("aria-busy", "true"); // until its messages are shown
  $("login").hidden = true;
  $("app").hidden = false;
  $("account-name").textContent = api.user.name || api.user.mobile_number;
  await Promise.all([loadPlan(), loadRooms(), loadModels()]);
  greetReturnFromCheckout();
  if (state.rooms.length) await openRoom(state.rooms[0]);
  else await createRoom();
}

api.onLoggedOut = () => {
  stopWriting();
  clearFiles({ deleteUploads: false }); // no token left to delete them with: swept later
  forgetAttachmentViews();
  showLogin();
};
initLogin({ onLoggedIn: startApp });
initRooms();
initMessages();
initConversation();
initSettings();
initPlan();
initSearch();
initOrganise();
initShare();
initData();
initUploads();
$("logout").addEventListener("click", () => api.logout().catch(() => {}));

async function start() {
  try {
    if (!(await api.resume())) return showLogin();
  } catch (error) {
    showLogin();
    $("login-error").textContent = errorText(error);
    return;
  }
  await startApp().catch((error) => notice(errorText(error), "error"));
}

start();
