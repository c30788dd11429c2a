// The plan: today's usage and the month's tokens in the sidebar, the daily limit's message,
// the upgrade.
import { $, errorText, notice, timeFormat, untilText } from "./dom.js";
import { api } from "./state.js";

const numberFormat = new Intl.NumberFormat();

/** The model tokens of this UTC month so far (the usage ledger's days are UTC days): prompt
 * (cached included), output and thoughts, summed over its days and models. */
async function loadMonthTokens() {
  const today = new Date().toISOString().slice(0, 10);
  const first = `${today.slice(0, 8)}01`;
  const report = await api.json("GET", `/user/me/usage?from=${first}&to=${today}`);
  const tokens = report.items.reduce(
    (sum, day) => sum + day.prompt_tokens + day.output_tokens + day.thoughts_tokens,
    0,
  );
  const line = $("plan-tokens");
  line.textContent = `${numberFormat.format(tokens)} tokens used this month`;
  line.title = "Everything the models read and wrote for you this month, titles included";
  line.hidden = false;
}

export async function loadPlan() {
  const [me] = await Promise.all([
    api.json("GET", "/user/me"),
    loadMonthTokens().catch(() => ($("plan-tokens").hidden = true)),
  ]);
  const usage = me.usage;
  const pro = me.tier === "pro";
  $("plan-name").textContent = pro ? "Pro plan" : "Basic plan";
  $("upgrade").hidden = pro;
  $("limit-upgrade").hidden = pro;
  const limited = usage.daily_limit !== null;
  $("plan-usage").textContent = limited
    ? `${usage.used_today} of ${usage.daily_limit} messages today`
    : `${usage.used_today} messages today · no daily limit`;
  $("plan-meter").parentElement.hidden = !limited;
  if (limited) $("plan-meter").style.width = `${Math.min(100, (100 * usage.used_today) / usage.daily_limit)}%`;
  $("plan-reset").textContent = limited ? `Resets at ${timeFormat.format(new Date(usage.resets_at))}` : "";
  if (limited && usage.remaining > 0) $("limit").hidden = true;
}

async function upgrade() {
  try {
    const checkout = await api.json("POST", "/subscribe/pro");
    location.assign(checkout.checkout_url);
  } catch (error) {
    if (error.code === "already_pro") await loadPlan();
    notice(errorText(error), "error");
  }
}

/** The daily limit was reached (`error` is its 429 problem): when it resets, and the upgrade. */
export function showLimit(error) {
  const { limit, resets_at: resetsAt } = error.problem;
  $("limit-text").textContent =
    `You have used all ${limit} messages your plan allows today. ` +
    `You can send again at ${timeFormat.format(new Date(resetsAt))} (in ${untilText(resetsAt)}), ` +
    "or upgrade to Pro to keep chatting now.";
  $("limit").hidden = false;
}

/** Back from the checkout (`?checkout=success|cancel`): says how it went, once. */
export function greetReturnFromCheckout() {
  const returned = new URLSearchParams(location.search).get("checkout");
  if (!returned) return;
  history.replaceState(null, "", "/");
  if (returned === "success") notice("Welcome to Pro: the daily message limit no longer applies.");
  else notice("The checkout was cancelled; nothing changed.");
}

export function initPlan() {
  $("upgrade").addEventListener("click", upgrade);
  $("limit-upgrade").addEventListener("click", upgrade);
}
