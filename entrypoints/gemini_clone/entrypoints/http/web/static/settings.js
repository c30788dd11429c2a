// A chat's settings: its title, model and system instruction.
import { $, el, errorText } from "./dom.js";
import { setRoom } from "./rooms.js";
import { api, state } from "./state.js";

export async function loadModels() {
  state.models = await api.json("GET", "/models");
}

function openSettings() {
  const room = state.room;
  $("set-title").value = room.title;
  $("settings-error").textContent = "";
  $("instruction-row").hidden = false;
  $("set-instruction").value = room.system_instruction ?? "";
  const models = state.models;
  $("model-row").hidden = !models;
  if (models) {
    const select = $("set-model");
    select.replaceChildren();
    for (const model of models.items) {
      const label = `${model.id}${model.id === models.default ? " (default)" : ""}${model.pro_only ? " · Pro" : ""}`;
      const option = select.appendChild(el("option", null, label));
      option.value = model.id;
      option.disabled = !model.available;
    }
    select.value = room.model ?? models.default;
  }
  $("settings-dialog").showModal();
  $("set-title").select();
}

async function saveSettings(event) {
  event.preventDefault();
  const room = state.room;
  const changes = {};
  const title = $("set-title").value.trim();
  if (title && title !== room.title) changes.title = title;
  const instruction = $("set-instruction").value.trim() || null;
  if (instruction !== (room.system_instruction ?? null)) changes.system_instruction = instruction;
  if (state.models && $("set-model").value !== (room.model ?? state.models.default)) {
    changes.model = $("set-model").value;
  }
  try {
    if (Object.keys(changes).length) {
      setRoom(await api.json("PATCH", `/chatroom/${room.id}`, { body: changes }));
    }
    $("settings-dialog").close();
  } catch (error) {
    $("settings-error").textContent = errorText(error);
  }
}

export function initSettings() {
  $("room-settings").addEventListener("click", openSettings);
  $("settings-cancel").addEventListener("click", () => $("settings-dialog").close());
  $("settings-form").addEventListener("submit", saveSettings);
}
