"""The pages of ``celery-tutor serve``: the course's page, and the page of a full server.

The course's page hosts textual-serve's browser client (``static/js/textual.js``, with
xterm.js), which reads the websocket's address from ``#terminal`` and marks the body
``-first-byte`` when the app first draws and ``-closed`` when the connection ends. Every
address is relative, so the server works behind a proxy at any path, and nothing is
fetched from another site (the client's font is served from its own files).
"""

from __future__ import annotations

import html

CONNECTION_CLOSED = "The connection to the server was closed."
"""What the page says when the server gave no reason (the network, or the server, went away)."""

_STYLE = """
@font-face { font-family: "Roboto Mono"; src: url("static/fonts/RobotoMono-VariableFont_wght.ttf"); }
html, body { margin: 0; height: 100%; background: #0c181f; color: #e8eef2; font-family: "Roboto Mono", monospace; }
.textual-terminal { position: absolute; inset: 0; opacity: 0; }
body.-first-byte .textual-terminal { opacity: 1; }
.notice { position: absolute; inset: 0; display: flex; align-items: center; justify-content: center; z-index: 10; }
.notice > div { max-width: 36em; padding: 2em; background: #12232d; text-align: center; line-height: 1.5; }
body.-first-byte #starting, #ended { display: none; }
body.-closed #ended { display: flex; background: rgba(12, 24, 31, 0.85); }
button { margin-top: 1em; padding: 0.8em 2em; font: inherit; color: #fff; background: #5e0ba7; border: 0; }
"""

# The browser client shows only that the connection closed; this keeps the reason the
# server gave, so the page can say why the session ended (another tab, a full server).
# It also gives the client the websocket's address, relative to the page's own.
_BEFORE_CLIENT = """<script>
(() => {
  const reason = document.getElementById("ended-reason");
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener("close", (event) => { if (event.reason) reason.textContent = event.reason; });
    }
  };
  const url = new URL("ws", window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  document.getElementById("terminal").dataset.sessionWebsocketUrl = url.href;
})();
</script>
<script src="static/js/textual.js"></script>"""


def _document(title: str, body: str, scripts: str = "") -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="static/css/xterm.css">
<style>{_STYLE}</style>
</head>
<body>
{body}
{scripts}
</body>
</html>
"""


def terminal_page(font_size: int) -> str:
    """The page that runs the course: the terminal, and what to say when the session ends."""
    body = f"""<div id="starting" class="notice"><div>celery-tutor is starting…</div></div>
<div id="ended" class="notice"><div>
<p><strong>This session has ended.</strong></p>
<p id="ended-reason">{html.escape(CONNECTION_CLOSED)}</p>
<p>Your progress is kept: this browser finds it again.</p>
<button type="button" onclick="location.reload()">Start again</button>
</div></div>
<div id="terminal" class="textual-terminal" data-font-size="{int(font_size)}"></div>"""
    return _document("celery-tutor", body, _BEFORE_CLIENT)


def full_page(limit: int) -> str:
    """The page a learner sees when every seat is taken."""
    places = "The one place" if limit == 1 else f"All {int(limit)} places"
    verb = "is" if limit == 1 else "are"
    body = f"""<div class="notice"><div>
<p><strong>celery-tutor is full.</strong></p>
<p>{places} on this server {verb} in use. A place frees up when a learner closes their tab.</p>
<button type="button" onclick="location.reload()">Try again</button>
</div></div>"""
    return _document("celery-tutor is full", body)
