"""The leaderboard page as a person uses it: headless Chromium, a real click on a column header.

Drives Debian's `chromium` over the Chrome DevTools Protocol on a pipe
(`--remote-debugging-pipe`: JSON messages ending in NUL on file descriptors 3
and 4), so nothing is downloaded and no port is opened: no browser build of
its own, no driver, no websocket. The mouse click is `Input.dispatchMouseEvent`
at the header's on-screen centre, so it goes through the browser's hit testing
and event dispatch like a person's click.

`make install` installs chromium where it is missing (the `browser` target).
Without it the test skips, except under CI (CI=true), where it fails.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from test_leaderboard import HOSTILE_NAME, make_board, predictions_for, write_submission

from negsamp.leaderboard import build_leaderboard

CHROMIUM_NAMES = ("chromium", "chromium-browser")


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(self, address, *args, **kwargs):
        raise AssertionError(f"test tried to open a network connection to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


class Browser:
    """A headless Chromium over CDP on a pipe: send(method, params) -> result."""

    def __init__(self, executable: str, profile: Path, *, width: int = 1360, height: int = 900) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        flags = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-extensions", "--disable-dev-shm-usage", "--mute-audio",
            "--remote-debugging-pipe", f"--user-data-dir={profile}", f"--window-size={width},{height}",
            "about:blank",
        ]
        # Chromium reads commands on fd 3 and writes replies on fd 4.
        script = f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w} {to_chrome_r}<&- {from_chrome_w}>&-'
        self.process = subprocess.Popen(
            ["bash", "-c", script, executable, *flags], pass_fds=(to_chrome_r, from_chrome_w),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next_id = 0
        self._replies: dict[int, dict] = {}
        self._lock = threading.Condition()
        self._closed = False
        self._stderr: list[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        self.session: str | None = None

    def _drain_stderr(self) -> None:
        for line in self.process.stderr:
            self._stderr.append(line)

    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                break
            buffer += chunk
            while b"\0" in buffer:
                message, buffer = buffer.split(b"\0", 1)
                data = json.loads(message)
                if "id" in data:
                    with self._lock:
                        self._replies[data["id"]] = data
                        self._lock.notify_all()
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    def send(self, method: str, params: dict | None = None, *, timeout: float = 30.0, session: bool = True):
        with self._lock:
            self._next_id += 1
            ident = self._next_id
        message = {"id": ident, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._lock:
            while ident not in self._replies:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    log = b"".join(self._stderr[-20:]).decode(errors="replace")
                    raise AssertionError(f"no reply to {method} (browser {'exited' if self._closed else 'hung'})"
                                         f"\n{log}")
                self._lock.wait(left)
            reply = self._replies.pop(ident)
        if "error" in reply:
            raise AssertionError(f"{method}: {reply['error']}")
        return reply["result"]

    def open(self, url: str) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete' && !!document.getElementById('board')")

    def eval(self, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.eval(expression):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {expression}")
            time.sleep(0.05)

    def click(self, selector: str) -> None:
        """A real left click at the centre of the element (scrolled into view), through hit testing."""
        box = self.eval(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
            " el.scrollIntoView({block: 'center'}); const r = el.getBoundingClientRect();"
            " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()"
        )
        hit = self.eval(f"document.querySelector({json.dumps(selector)})"
                        f".contains(document.elementFromPoint({box['x']}, {box['y']}))")
        assert hit, f"{selector} is covered by another element at its centre"
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": box["x"], "y": box["y"], "button": "left",
                                                   "buttons": 1 if kind == "mousePressed" else 0,
                                                   "clickCount": 1})

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.send("Browser.close", session=False, timeout=5)
        except AssertionError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_chrome)


@pytest.fixture
def browser(tmp_path):
    executable = find_chromium()
    if executable is None:
        message = "chromium not installed (make install installs Debian's chromium as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    instance = Browser(executable, tmp_path / "profile")
    try:
        yield instance
    finally:
        instance.close()


def test_sort_by_click_and_hostile_name_is_text(tmp_path, browser):
    root, evaluation = make_board(tmp_path / "board")
    rows = [row for _, row in evaluation.all_rows()]
    # Three submissions with different recovery: all right, half right, a hostile-looking name (valid).
    write_submission(root, evaluation, "perfect", predictions_for(rows, correct=set(r.sample_id for r in rows)),
                     name="Perfect method")
    write_submission(root, evaluation, "nothing", predictions_for(rows, correct=set()), name="Recovers nothing")
    first = {rows[0].sample_id}
    write_submission(root, evaluation, "hostile", predictions_for(rows, correct=first), name=HOSTILE_NAME)
    result = build_leaderboard(root)
    assert not result.rejected and len(result.entries) == 3
    page = root / "site" / "index.html"

    browser.open(page.as_uri())
    names = "Array.from(document.querySelectorAll('#board-body tr.entry td.name')).map(td => td.textContent)"
    recovery = ("Array.from(document.querySelectorAll('#board-body tr.entry'))"
                ".map(tr => JSON.parse(document.getElementById('leaderboard-data').textContent)"
                ".entries[Number(tr.id.slice(4))].recovery_rate)")
    initial = browser.eval(recovery)
    assert initial == sorted(initial, reverse=True)  # best first, as rendered
    assert browser.eval(names)[0] == "Perfect method"

    browser.click('th[data-key="recovery_rate"]')
    browser.wait_for("document.querySelector('th[data-key=\"recovery_rate\"]').getAttribute('aria-sort')"
                     " === 'ascending'")
    ascending = browser.eval(recovery)
    assert ascending == sorted(initial)
    assert browser.eval(names)[0] == "Recovers nothing"

    browser.click('th[data-key="recovery_rate"]')
    browser.wait_for("document.querySelector('th[data-key=\"recovery_rate\"]').getAttribute('aria-sort')"
                     " === 'descending'")
    assert browser.eval(recovery) == sorted(initial, reverse=True)

    browser.click('th[data-key="name"]')
    browser.wait_for("document.querySelector('th[data-key=\"name\"]').getAttribute('aria-sort') === 'ascending'")
    assert browser.eval(names) == sorted(browser.eval(names))

    # Columns holding lists (notes) and badges sort too; the chart is drawn inline, one marker per row.
    for key in ("notes", "verified", "method_type", "relative_score"):
        browser.click(f'th[data-key="{key}"]')
        browser.wait_for(f"document.querySelector('th[data-key=\"{key}\"]').getAttribute('aria-sort')"
                         " === 'ascending'")
    assert sorted(browser.eval(names)) == sorted(e.name for e in result.entries)
    assert browser.eval("document.querySelectorAll('svg.chart g.point circle').length") == 3
    assert browser.eval("document.querySelector('svg.chart').getBoundingClientRect().width") > 300
    labels = browser.eval("Array.from(document.querySelectorAll('svg.chart > text')).map(t => t.textContent)")
    assert "Perfect method" in labels and "KV kept (KV bytes after prefill / the baseline's)" in labels

    # The hostile-looking name is text: shown literally, no element made from it, no script ran.
    assert HOSTILE_NAME in browser.eval(names)
    assert browser.eval("document.querySelectorAll('img, iframe, object, embed').length") == 0
    assert browser.eval("typeof window.__pwned") == "undefined"

    # Filter, then the per-task breakdown on demand.
    browser.click("#filter")
    browser.send("Input.insertText", {"text": "perfect"})
    browser.wait_for("document.querySelectorAll('#board-body tr.entry:not([hidden])').length === 1")
    assert browser.eval("document.getElementById('count').textContent") == "1 of 3 shown"
    visible = "document.querySelector('#board-body tr.entry:not([hidden])')"
    browser.click("#board-body tr.entry:not([hidden]) button.toggle")
    browser.wait_for(f"!document.getElementById('detail-' + {visible}.id.slice(4)).hidden")
    tasks = browser.eval(f"Array.from(document.querySelectorAll('#detail-' + {visible}.id.slice(4) + "
                         "' table.tasks tbody td:first-child')).map(td => td.textContent)")
    assert tasks == sorted({r.task for r in rows})
    browser.eval("(() => { const f = document.getElementById('filter'); f.value = '';"
                 " f.dispatchEvent(new Event('input')); })()")
    browser.wait_for("document.querySelectorAll('#board-body tr.entry:not([hidden])').length === 3")

    shot = browser.screenshot(tmp_path / "leaderboard.png")
    assert shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
