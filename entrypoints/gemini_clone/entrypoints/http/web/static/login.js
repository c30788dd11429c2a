// The log-in screen: a mobile number (signing up a new one), then its one-time code.
import { $, errorText } from "./dom.js";
import { api, state } from "./state.js";

let afterLogin = async () => {};

export function showLogin() {
  $("app").hidden = true;
  $("login").hidden = false;
  $("number-form").hidden = false;
  $("code-form").hidden = true;
  $("login-error").textContent = "";
  $("mobile").focus();
}

const showError = (error) => ($("login-error").textContent = errorText(error));

async function sendCode() {
  const sent = await api.json("POST", "/auth/send-otp", {
    auth: false,
    body: { mobile_number: state.mobile },
  });
  $("number-form").hidden = true;
  $("code-form").hidden = false;
  $("code-number").textContent = sent.mobile_number;
  $("code").value = sent.otp ?? "";
  $("code-filled").hidden = !sent.otp;
  $("code").focus();
}

async function submitNumber(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  state.mobile = $("mobile").value.trim();
  const signingUp = !$("name-row").hidden;
  try {
    if (signingUp) {
      const name = $("name").value.trim();
      await api.json("POST", "/auth/signup", {
        auth: false,
        body: name ? { mobile_number: state.mobile, name } : { mobile_number: state.mobile },
      });
    }
    await sendCode();
  } catch (error) {
    if (error.code === "user_not_found") {
      $("name-row").hidden = false;
      $("number-submit").textContent = "Create account and send code";
      $("name").focus();
    } else {
      showError(error);
    }
  }
}

async function submitCode(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  try {
    await api.verifyOtp(state.mobile, $("code").value.trim());
    await afterLogin();
  } catch (error) {
    showError(error);
  }
}

/** Wires the screen; `onLoggedIn` opens the app once a code is accepted. */
export function initLogin({ onLoggedIn }) {
  afterLogin = onLoggedIn;
  $("number-form").addEventListener("submit", submitNumber);
  $("mobile").addEventListener("input", () => {
    $("name-row").hidden = true;
    $("number-submit").textContent = "Send code";
  });
  $("code-form").addEventListener("submit", submitCode);
  $("code-back").addEventListener("click", showLogin);
  $("code-resend").addEventListener("click", async () => {
    $("login-error").textContent = "";
    try {
      await sendCode();
    } catch (error) {
      showError(error);
    }
  });
}
