"""The pictures of the HTML report, drawn as inline SVG in Python (nothing to fetch, nothing for a script to do).

Exchanges are counted into time bins whose width doubles whenever there are too many, so memory stays bounded by
``MAX_BINS`` whatever the capture's length or size. Every text drawn is escaped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

CLASSES = ("valid", "bad", "unknown", "legacy", "none")
"""Verdict classes, in drawing order (bottom up)."""
_CLASS_INDEX = {verdict: index for index, verdict in enumerate(CLASSES)}
COLOURS = {
    "valid": "#2e7d32",
    "bad": "#c62828",
    "unknown": "#f9a825",
    "legacy": "#6a1b9a",
    "none": "#90a4ae",
}
LABELS = {
    "valid": "token verified",
    "bad": "token invalid / unsigned / not allowed",
    "unknown": "token cannot be verified",
    "legacy": "Basic / NTLM / Negotiate",
    "none": "no credentials",
}
REJECTED = "#212121"
FALLBACK = "#ff6f00"
MAX_BINS = 4096
COLUMNS = 240
WIDTH, HEIGHT = 1200, 190


def verdict_class(scheme: str | None, signature: str | None) -> str:
    if signature == "valid":
        return "valid"
    if signature in ("invalid", "unsigned", "not-allowed"):
        return "bad"
    if signature == "unknown-key":
        return "unknown"
    if scheme in ("basic", "ntlm", "negotiate", "digest"):
        return "legacy"
    return "none"


class TimelineBins:
    """Counts per time bin: one per verdict class, then 401 answers, then fallbacks."""

    def __init__(self) -> None:
        self.resolution = 1.0
        self.bins: dict[int, list[int]] = {}

    def add(self, epoch: float, verdict: str, *, rejected: bool, fallback: bool) -> None:
        key = int(epoch // self.resolution)
        counts = self.bins.get(key)
        if counts is None:
            counts = self.bins[key] = [0] * (len(CLASSES) + 2)
        counts[_CLASS_INDEX[verdict]] += 1
        counts[-2] += rejected
        counts[-1] += fallback
        if len(self.bins) > MAX_BINS:
            self._coarsen()

    def _coarsen(self) -> None:
        self.resolution *= 2
        merged: dict[int, list[int]] = {}
        for key, counts in self.bins.items():
            target = merged.setdefault(key // 2, [0] * len(counts))
            for i, n in enumerate(counts):
                target[i] += n
        self.bins = merged

    def columns(self) -> tuple[float, float, list[list[int]]]:
        """(start, end, counts per column): the bins spread over at most ``COLUMNS`` equal columns."""
        keys = sorted(self.bins)
        start = keys[0] * self.resolution
        end = (keys[-1] + 1) * self.resolution
        count = min(COLUMNS, len(range(keys[0], keys[-1] + 1)))
        width = (end - start) / count
        columns = [[0] * (len(CLASSES) + 2) for _ in range(count)]
        for key in keys:
            index = min(count - 1, int((key * self.resolution - start) / width))
            for i, n in enumerate(self.bins[key]):
                columns[index][i] += n
        return start, end, columns


_LAST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()
_FIRST = datetime.min.replace(tzinfo=UTC).timestamp()


def _stamp(epoch: float) -> str:
    # the end of the last bin may lie past the last representable second (an exchange in late 9999)
    return datetime.fromtimestamp(min(max(epoch, _FIRST), _LAST), UTC).strftime("%Y-%m-%d %H:%M:%S")


def timeline_svg(bins: TimelineBins) -> str:
    if not bins.bins:
        return '<p class="dim">No exchanges.</p>'
    start, end, columns = bins.columns()
    top, bottom = 22, HEIGHT - 34
    peak = max(sum(c[: len(CLASSES)]) for c in columns) or 1
    step = WIDTH / len(columns)
    parts = [
        f'<svg id="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-label="Exchanges over capture time">',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]
    for index, counts in enumerate(columns):
        x = index * step
        y = float(bottom)
        for verdict, n in zip(CLASSES, counts, strict=False):
            if not n:
                continue
            h = max(2.0, (bottom - top) * n / peak)
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(step - 1, 1):.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[verdict]}"><title>{n} {escape(LABELS[verdict])}</title></rect>'
            )
        if counts[-2]:
            parts.append(
                f'<rect x="{x:.1f}" y="4" width="{max(step - 1, 2):.1f}" height="10" fill="{REJECTED}">'
                f"<title>{counts[-2]} answered 401</title></rect>"
            )
        if counts[-1]:
            cx = x + step / 2
            parts.append(
                f'<polygon points="{cx - 6:.1f},{bottom + 16} {cx + 6:.1f},{bottom + 16} {cx:.1f},{bottom + 4}" '
                f'fill="{FALLBACK}"><title>{counts[-1]} fallback(s) to Basic/NTLM/Negotiate</title></polygon>'
            )
    parts.append(f'<line x1="0" y1="{bottom}" x2="{WIDTH}" y2="{bottom}" stroke="#424242"/>')
    parts.append(f'<text x="2" y="{HEIGHT - 4}" class="axis">{_stamp(start)} UTC</text>')
    parts.append(f'<text x="{WIDTH - 2}" y="{HEIGHT - 4}" text-anchor="end" class="axis">{_stamp(end)} UTC</text>')
    parts.append(
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 4}" text-anchor="middle" class="axis">peak {peak} per column, '
        f"{(end - start) / len(columns):.3g} s per column</text>"
    )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key"><svg width="12" height="12"><rect width="12" height="12" fill="{COLOURS[v]}"/></svg> '
        f"{escape(LABELS[v])}</span>"
        for v in CLASSES
    )
    legend += (
        f'<span class="key"><svg width="12" height="12"><rect width="12" height="12" fill="{REJECTED}"/></svg> '
        f'answered 401</span><span class="key"><svg width="12" height="12"><polygon points="0,12 12,12 6,0" '
        f'fill="{FALLBACK}"/></svg> fallback</span>'
    )
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def _time(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def rotation_svg(rotation: list[dict[str, Any]]) -> str:
    """One row per certificate: its validity, the effective date of a next certificate, its use on the wire."""
    rows = [r for r in rotation if any(_time(r.get(k)) for k in ("not_before", "not_after", "first_seen"))]
    if not rows:
        return ""
    moments = [
        t
        for r in rows
        for k in ("not_before", "not_after", "effective", "first_seen", "last_seen")
        if (t := _time(r[k]))
    ]
    low, high = min(moments), max(moments)
    span = (high - low) or 86400.0
    left, right, row_h = 330, WIDTH - 10, 22
    height = 30 + row_h * len(rows)

    def x(t: float) -> float:
        return left + (right - left) * (t - low) / span

    parts = [
        f'<svg id="rotation" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" '
        'role="img" aria-label="Certificate rotation timeline">',
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
    ]
    for index, row in enumerate(rows):
        y = 8 + index * row_h
        label = f"{row['thumbprint'][:16]}… {', '.join(row['roles'])}"
        parts.append(f'<text x="2" y="{y + 13}" class="axis">{escape(label[:60])}</text>')
        start, stop = _time(row["not_before"]), _time(row["not_after"])
        if start is not None and stop is not None:
            parts.append(
                f'<rect x="{x(start):.1f}" y="{y + 3}" width="{max(x(stop) - x(start), 2):.1f}" height="12" '
                f'fill="#b0bec5"><title>valid {escape(row["not_before"])} to {escape(row["not_after"])}</title></rect>'
            )
        seen_from, seen_to = _time(row["first_seen"]), _time(row["last_seen"])
        if seen_from is not None and seen_to is not None:
            parts.append(
                f'<rect x="{x(seen_from):.1f}" y="{y + 5}" width="{max(x(seen_to) - x(seen_from), 4):.1f}" '
                f'height="8" fill="{COLOURS["valid"]}"><title>on the wire {escape(row["first_seen"])} to '
                f"{escape(row['last_seen'])} ({row['exchanges']} exchanges)</title></rect>"
            )
        effective = _time(row["effective"])
        if effective is not None:
            parts.append(
                f'<line x1="{x(effective):.1f}" y1="{y}" x2="{x(effective):.1f}" y2="{y + 18}" stroke="#1565c0" '
                f'stroke-width="3"><title>next certificate effective {escape(row["effective"])}</title></line>'
            )
    parts.append(f'<text x="{left}" y="{height - 4}" class="axis">{_stamp(low)[:10]}</text>')
    parts.append(f'<text x="{right}" y="{height - 4}" text-anchor="end" class="axis">{_stamp(high)[:10]}</text>')
    parts.append("</svg>")
    return "".join(parts)
