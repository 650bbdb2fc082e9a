"""results/report.html: one self-contained page (no network: the charts are embedded) with the
glance as tables, every chart of the run, and the whole text summary below them. The HTML exporter;
the text, JSON and benchmark-action exporters live beside their workloads."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from retrace_bench.render import fmt_us

FILE = "report.html"
#: The page's title and heading (summary.suite_wrote knows the suite's page by it).
TITLE = "Retrace benchmark report"

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
td.slower { color: #a40000; } td.faster { color: #006400; }
.header { color: #555; white-space: pre-wrap; font-family: monospace; }
.broke { color: #a40000; font-weight: bold; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
pre { font-size: 0.8em; background: #fafafa; padding: 1em; overflow-x: auto; }
"""


def cell(text, header: bool = False) -> str:
    tag = "th" if header else "td"
    text = "" if text is None else str(text)
    verdict = next((v for v in ("slower", "faster") if text.endswith(v)), None)
    return f"<{tag}{f' class={verdict!r}' if verdict and not header else ''}>{escape(text)}</{tag}>"


def table(headers: list[str], rows: list[list]) -> str:
    head = "<tr>" + "".join(cell(h, True) for h in headers) + "</tr>"
    body = "".join("<tr>" + "".join(cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><thead>{head}</thead><tbody>{body}</tbody></table>"


def items(entries: list[str], css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return "<ul>" + "".join(f"<li{cls}>{escape(e)}</li>" for e in entries) + "</ul>" if entries else ""


def glance_html(g) -> str:
    if g is None:
        return "<p>No recorded arm in this run: nothing to compare with plain.</p>"
    parts = [f"<h2>At a glance: what recording with {escape(g.arm)} cost here, against {escape(g.plain)}</h2>"]
    if g.operations:
        parts.append(table(
            ["per operation", "plain µs/op", "recorded µs/op", "change µs/op [95% CI]", "trace B/call",
             "instructions/call, total"],
            [[o.name, fmt_us(o.plain_us), fmt_us(o.recorded_us), o.change,
              f"{o.bytes_per_call:.0f}" if o.bytes_per_call is not None else "n/a", o.instructions]
             for o in g.operations]))
    if g.versions:
        parts.append("<h3>Versions</h3>" + items(g.versions))
    if g.programs:
        parts.append("<h3>Programs</h3>" + items(g.programs))
    if g.requests:
        parts.append("<h3>Per request</h3>" + table(
            ["app", "path", "throughput change [95% CI]", "saturated p95 change [95% CI]"],
            [[r.app, r.path, r.throughput, r.p95] for r in g.requests]))
        parts.append(items([f"CPU per request, {c}" for c in g.cpu_per_request]))
    parts.append("<h3>Broke under recording</h3>" + (items(g.broke, "broke") or "<p>nothing</p>"))
    if g.stopped:
        parts.append("<h3>Stopped by the disk guard under recording (no figure)</h3>" + items(g.stopped, "broke"))
    if g.failed:
        parts.append("<h3>Failed without recording too (not a cost of recording)</h3>" + items(g.failed, "broke"))
    if g.replay:
        parts.append(f"<p>Replay of round 1's recordings (operations, programs, servers): {escape(g.replay)}</p>")
    parts.append("<h3>The run's health</h3>" + items(g.health))
    return "\n".join(parts)


def image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img src="data:image/png;base64,{data}" alt="{escape(path.name)}"><figcaption>{escape(path.name)}</figcaption></figure>'


def render(g, text: str, directory: Path, charts: list[str]) -> str:
    """The page: the summary's header lines, the glance, the charts found in `directory`, the text."""
    lines = text.splitlines()
    header = [line for line in lines[:8] if line and not line.startswith("=") and not line.startswith("##")]
    body = [f"<h1>{TITLE}</h1><div class=\"header\">{escape(chr(10).join(header))}</div>",
            glance_html(g)]
    found = [directory / name for name in dict.fromkeys(charts) if (directory / name).is_file()]
    if found:
        body.append("<h2>Charts</h2>" + "".join(image(p) for p in found))
    body.append(f"<h2>The details (summary.txt)</h2><pre>{escape(text)}</pre>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{TITLE}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")
