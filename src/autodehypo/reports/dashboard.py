"""A live dashboard: one page that follows studies while they run, served from this machine.

The page shows each study's state and the trials running now (epoch, loss, energy so far: the
driver's ``live.json``), and below it the HTML report (results by a chosen parameter, best
configuration, best so far against evaluations, time and energy, error against energy and the
front, energy sources), refreshed every few seconds. It reads the study files and never writes
them; the report is made again only when a study file has changed.

Python's own HTTP server and the report's matplotlib plots: no web framework and nothing fetched
from the internet, so it works on a cluster's login node. Bound to localhost by default; reach it
from elsewhere through an SSH tunnel (``ssh -L 8765:localhost:8765 login-node``).
"""

from __future__ import annotations

import html
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from ..storage import DB_NAME, StorageError
from ..study import open_storage
from ..study.budget import Tally
from ..study.driver_lock import driver_alive
from ..trial_progress import describe, read_live
from .data import load_study
from .html import STYLE, render_sections


class Dashboard:
    """What the server answers, apart from HTTP."""

    def __init__(self, directories: list[Path], group_by: str | None = None, refresh_s: float = 5.0):
        self.directories = [Path(d) for d in directories]
        self.group_by, self.refresh_s = group_by, refresh_s
        self._cache: dict[str | None, tuple[tuple, str]] = {}
        self._lock = threading.Lock()  # one report made at a time: matplotlib is not thread-safe

    def page(self) -> str:
        options = "".join(f'<option value="{html.escape(n)}"{" selected" if n == self.group_by else ""}>'
                          f"{html.escape(n)}</option>" for n in self.parameters())
        return _PAGE.format(style=STYLE, script=_SCRIPT % int(self.refresh_s * 1000),
                            options=options, live=self.live_html(), report=self.report(self.group_by))

    def parameters(self) -> list[str]:
        """What the results table may be grouped by: searched and fixed parameters."""
        names: list[str] = []
        for directory in self.directories:
            try:
                storage, config = open_storage(directory, readonly=True)
            except StorageError:
                continue
            storage.close()
            for name in [*config.space.names, *config.objective.get("fixed", {})]:
                if name not in names:
                    names.append(name)
        return names

    def report(self, group_by: str | None) -> str:
        """The report's sections, made again only when a study file changed."""
        key = tuple(_stamp(d) for d in self.directories)
        with self._lock:
            cached = self._cache.get(group_by)
            if cached is not None and cached[0] == key:
                return cached[1]
            try:
                text = render_sections([load_study(d) for d in self.directories], group_by)
            except KeyError as exc:
                text = f"<p>--group-by: no parameter {html.escape(repr(exc.args[0]))} in these studies</p>"
            except StorageError as exc:
                text = f"<p>{html.escape(str(exc))}</p>"
            self._cache[group_by] = (key, text)
            return text

    def live(self) -> list[dict[str, Any]]:
        """Each study now: its state and totals, and the trials its driver runs."""
        out = []
        for directory in self.directories:
            try:
                storage, config = open_storage(directory, readonly=True)
            except StorageError as exc:
                out.append({"study": str(directory), "error": str(exc)})
                continue
            try:
                trials, state = storage.trials(), storage.meta("state")
            finally:
                storage.close()
            alive = driver_alive(directory)
            tally = Tally.of(trials, config)  # the driver's totals: with fidelities, best at the highest
            snapshot = read_live(directory) if alive else None
            out.append({
                "study": config.name, "directory": str(directory),
                "state": state if alive or state != "running" else "stopped (no driver)",
                "evaluations": tally.evaluations, "failed": tally.failed,
                "budget": config.budget.evaluations,
                "best": tally.best_value, "energy_j": tally.energy_j,
                "running": [{"number": t["number"], "elapsed_s": t["elapsed_s"], "energy_j": t["energy_j"],
                             "progress": describe(t.get("report") or {})}
                            for t in (snapshot or {}).get("trials", [])]})
        return out

    def live_html(self) -> str:
        rows, running = [], []
        for s in self.live():
            if "error" in s:
                rows.append(f"<tr><td>{html.escape(s['study'])}</td><td colspan=5>{html.escape(s['error'])}</td></tr>")
                continue
            budget = f" / {s['budget']}" if s["budget"] else ""
            best = "-" if s["best"] is None else f"{s['best']:.6g}"
            rows.append(f"<tr><td>{html.escape(s['study'])}</td><td>{html.escape(str(s['state']))}</td>"
                        f"<td>{s['evaluations']}{budget}</td><td>{s['failed']}</td><td>{best}</td>"
                        f"<td>{s['energy_j']:.4g} J</td></tr>")
            running += [f"<tr><td>{html.escape(s['study'])}</td><td>trial {t['number']}</td>"
                        f"<td>{t['elapsed_s']:.0f} s</td>"
                        f"<td>{'-' if t['energy_j'] is None else format(t['energy_j'], '.4g') + ' J'}</td>"
                        f"<td>{html.escape(t['progress'])}</td></tr>" for t in s["running"]]
        studies = ("<table id=studies><tr><th>study</th><th>state</th><th>evaluations</th><th>failed</th>"
                   "<th>best so far</th><th>energy</th></tr>" + "".join(rows) + "</table>")
        now = ("<table id=running><tr><th>study</th><th>trial</th><th>elapsed</th><th>energy so far "
               "(estimate)</th><th>last report</th></tr>" + "".join(running) + "</table>"
               if running else "<p id=running>no trial running</p>")
        return f"{studies}<h2>Running now</h2>{now}"


def _stamp(directory: Path) -> tuple:
    """What changes when a study's file does (the WAL first, while a driver runs)."""
    out = []
    for name in (DB_NAME, f"{DB_NAME}-wal"):
        try:
            info = (directory / name).stat()
            out.append((info.st_mtime_ns, info.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def serve(dashboard: Dashboard, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    """A server for ``dashboard`` (port 0: any free one); the caller runs serve_forever()."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            url = urlparse(self.path)
            group = parse_qs(url.query).get("group_by", [""])[0] or None
            pages = {"/": (dashboard.page, "text/html"), "/report": (lambda: dashboard.report(group), "text/html"),
                     "/live": (dashboard.live_html, "text/html"),
                     "/live.json": (lambda: json.dumps(dashboard.live()), "application/json")}
            if url.path not in pages:
                self.send_error(404)
                return
            make, kind = pages[url.path]
            try:
                text = make()
            except Exception as exc:  # a study file mid-write or damaged: one line, and the next refresh
                sys.stderr.write(f"autodehypo dashboard: {url.path}: {type(exc).__name__}: {exc}\n")
                self.send_error(500, explain=f"{type(exc).__name__}: {exc}")
                return
            try:
                self._send(text, kind)
            except (BrokenPipeError, ConnectionResetError):  # the browser left (a page closed mid-refresh)
                pass

        def _send(self, text: str, kind: str) -> None:
            body = text.encode()
            self.send_response(200)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # one line per request is noise here
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


_PAGE = """<!doctype html><html lang=en><head><meta charset=utf-8><title>autodehypo dashboard</title>
<style>{style} #updated {{ color: #666; }}</style></head><body>
<h1>autodehypo dashboard</h1>
<p class="note">results by <select id=group><option value="">study</option>{options}</select>
&middot; updated <span id=updated>now</span></p>
<div id=live>{live}</div>
<div id=report>{report}</div>
<script>{script}</script>
</body></html>
"""

_SCRIPT = """
async function refresh() {
  const group = document.getElementById('group').value;
  try {
    const live = await fetch('live', {cache: 'no-store'});
    document.getElementById('live').innerHTML = await live.text();
    const report = await fetch('report?group_by=' + encodeURIComponent(group), {cache: 'no-store'});
    document.getElementById('report').innerHTML = await report.text();
    document.getElementById('updated').textContent = new Date().toLocaleTimeString();
  } catch (e) {
    document.getElementById('updated').textContent = 'not reached: ' + e;
  }
}
document.getElementById('group').addEventListener('change', refresh);
setInterval(refresh, %d);
"""
