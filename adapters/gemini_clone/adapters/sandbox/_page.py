"""The sandbox checkout page: self-contained HTML, no scripts, no external assets."""

from __future__ import annotations

from html import escape

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Sandbox checkout: gemini-clone Pro</title>
<style>
  body {{ font-family: system-ui, sans-serif; background: #f4f5f7; color: #1f2328;
         display: grid; place-items: center; min-height: 100vh; margin: 0; }}
  main {{ background: #fff; border-radius: 12px; padding: 2rem; max-width: 26rem;
          box-shadow: 0 2px 12px rgb(0 0 0 / 0.08); }}
  .badge {{ display: inline-block; background: #fff3cd; color: #664d03; border-radius: 6px;
            padding: 0.2rem 0.6rem; font-size: 0.85rem; }}
  button {{ width: 100%; padding: 0.8rem; margin-top: 1rem; border: 0; border-radius: 8px;
            background: #1a73e8; color: #fff; font-size: 1rem; cursor: pointer; }}
  a {{ display: block; text-align: center; margin-top: 1rem; color: #5f6368; }}
  code {{ font-size: 0.8rem; word-break: break-all; }}
</style>
</head>
<body>
<main>
  <span class="badge">Sandbox: no real payment</span>
  <h1>Upgrade to Pro</h1>
  <p>Pro lifts the daily message limit. This page stands in for Stripe Checkout because no
     Stripe key is configured: nothing is charged, and paying here activates Pro at once.</p>
  <p>Session <code>{session_id}</code></p>
  <form method="post" action="{pay_url}">
    <button type="submit">Pay (sandbox)</button>
  </form>
  <a href="{cancel_url}">Cancel</a>
</main>
</body>
</html>
"""


def checkout_page(*, session_id: str, pay_url: str, cancel_url: str) -> str:
    return _PAGE.format(
        session_id=escape(session_id), pay_url=escape(pay_url), cancel_url=escape(cancel_url)
    )
