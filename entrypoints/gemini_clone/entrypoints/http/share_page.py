"""The public page of a shared link: self-contained HTML, no script, no external asset.

Every text on it (title, turns) is escaped; the one inline stylesheet is allowed by its hash
in the Content-Security-Policy (no script at all), so a turn holding markup shows as text
and could not run or load anything. `noindex`: a link is for the people it is sent to, not
for search engines.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

from gemini_clone.domain.messages import Role
from gemini_clone.domain.shares import SharedChat

_STYLE = """body { font-family: system-ui, sans-serif; background: #f4f5f7; color: #1f2328;
       margin: 0; }
main { max-width: 46rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
h1 { font-size: 1.3rem; }
.meta { color: #5f6368; font-size: 0.85rem; }
.turn { border-radius: 12px; padding: 0.8rem 1rem; margin: 0.8rem 0; white-space: pre-wrap;
        overflow-wrap: anywhere; line-height: 1.45; }
.user { background: #e8f0fe; margin-left: 3rem; }
.model { background: #fff; box-shadow: 0 1px 4px rgb(0 0 0 / 0.06); margin-right: 3rem; }
.who { display: block; font-size: 0.75rem; color: #5f6368; margin-bottom: 0.3rem; }
"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        f"style-src 'sha256-{_STYLE_HASH}'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
    # The link's token is in the page's URL: it goes to no other page as a referrer.
    "Referrer-Policy": "no-referrer",
}
_WHO = {Role.USER: "Question", Role.MODEL: "Answer"}


def share_page_html(share: SharedChat) -> str:
    turns = "\n".join(
        f'<div class="turn {turn.role.value}"><span class="who">{_WHO[turn.role]}</span>'
        f"{escape(turn.content)}</div>"
        for turn in share.turns
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{escape(share.title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<main>
<h1>{escape(share.title)}</h1>
<p class="meta">A shared conversation, as of {share.created_at:%Y-%m-%d %H:%M} UTC.</p>
{turns}
</main>
</body>
</html>
"""
