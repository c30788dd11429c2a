"""The sandbox's pages: self-contained HTML, no script, no external assets.

Their only inline content is one stylesheet, allowed by its hash in `SECURITY_HEADERS`'
Content-Security-Policy (no 'unsafe-inline', no script at all): text that slipped into a
page as HTML could not run, load anything, or send the form elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

_STYLE = """  body { font-family: system-ui, sans-serif; background: #f4f5f7; color: #1f2328;
         display: grid; place-items: center; min-height: 100vh; margin: 0; }
  main { background: #fff; border-radius: 12px; padding: 2rem; max-width: 26rem;
          box-shadow: 0 2px 12px rgb(0 0 0 / 0.08); }
  .badge { display: inline-block; background: #fff3cd; color: #664d03; border-radius: 6px;
            padding: 0.2rem 0.6rem; font-size: 0.85rem; }
  button { width: 100%; padding: 0.8rem; margin-top: 1rem; border: 0; border-radius: 8px;
            background: #1a73e8; color: #fff; font-size: 1rem; cursor: pointer; }
  a { display: block; text-align: center; margin-top: 1rem; color: #5f6368; }
  code { font-size: 0.8rem; word-break: break-all; }
"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        f"style-src 'sha256-{_STYLE_HASH}'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # The session id is in the page's URL: it goes to no other page as a referrer.
    "Referrer-Policy": "no-referrer",
}

_HEAD = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>{style}</style>
</head>
"""

_CHECKOUT = """<body>
<main>
  <span class="badge">Sandbox: no real payment</span>
  <h1>Upgrade to Pro</h1>
  <p>Pro lifts the daily message limit. This page stands in for Stripe Checkout: nothing
     is charged, and paying here activates Pro at once.</p>
  <p>Session <code>{session_id}</code></p>
  <form method="post" action="{pay_url}">
    <button type="submit">Pay (sandbox)</button>
  </form>
  <a href="{cancel_url}">Cancel</a>
</main>
</body>
</html>
"""

_PAID = """<body>
<main>
  <h1>Payment complete</h1>
  <p>You are on the Pro plan now (sandbox: nothing was charged). The daily message limit
     no longer applies.</p>
  <a href="{return_url}">Continue</a>
</main>
</body>
</html>
"""


def _head(title: str) -> str:
    return _HEAD.format(title=escape(title), style=_STYLE)


def checkout_page(*, session_id: str, pay_url: str, cancel_url: str) -> str:
    return _head("Sandbox checkout: gemini-clone Pro") + _CHECKOUT.format(
        session_id=escape(session_id), pay_url=escape(pay_url), cancel_url=escape(cancel_url)
    )


def paid_page(*, return_url: str) -> str:
    return _head("Payment complete: gemini-clone Pro") + _PAID.format(return_url=escape(return_url))
