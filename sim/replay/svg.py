"""Small inline-SVG charts for the replay report: no plotting dependency, deterministic output.

``line_chart`` draws series of (x, y) points; ``bar_chart`` draws grouped bars. Both return an ``<svg>``
string sized ``width`` x ``height`` with axes, a few ticks and a legend.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 64, 150, 28, 40


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    step = (hi - lo) / n
    magnitude = 10 ** math.floor(math.log10(step))
    step = min((m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= step), default=step)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _fmt(value: float) -> str:
    if abs(value) >= 86400 * 2:
        return f"{value / 86400:.0f}d"
    if abs(value) >= 7200:
        return f"{value / 3600:.0f}h"
    if abs(value) >= 1000:
        return f"{value:.0f}"
    return f"{value:g}"


def line_chart(title: str, series: Mapping[str, Sequence[tuple[float, float]]], *, x_label: str, y_label: str,
               width: int = 720, height: int = 300, log_x: bool = False, y_max: float | None = None) -> str:
    points = [p for s in series.values() for p in s]
    if not points:
        return f"<p>{escape(title)}: no data</p>"

    def fx(x: float) -> float:
        return math.log10(max(x, 1.0)) if log_x else x

    xs = [fx(x) for x, _ in points]
    x_lo, x_hi = min(xs), max(xs)
    y_lo, y_hi = 0.0, y_max if y_max is not None else max(max(y for _, y in points), 1e-9)
    plot_w, plot_h = width - _PAD_L - _PAD_R, height - _PAD_T - _PAD_B

    def sx(x: float) -> float:
        return _PAD_L + (fx(x) - x_lo) / ((x_hi - x_lo) or 1.0) * plot_w

    def sy(y: float) -> float:
        return _PAD_T + plot_h - (y - y_lo) / ((y_hi - y_lo) or 1.0) * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" class="chart">',
           f'<text x="{_PAD_L}" y="16" class="title">{escape(title)}</text>',
           f'<rect x="{_PAD_L}" y="{_PAD_T}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>']
    for tick in _ticks(y_lo, y_hi):
        y = sy(tick)
        out.append(f'<line x1="{_PAD_L - 4}" y1="{y:.1f}" x2="{_PAD_L + plot_w}" y2="{y:.1f}" stroke="#eee"/>'
                   f'<text x="{_PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(tick)}</text>')
    x_ticks = [10 ** e for e in range(math.floor(x_lo), math.ceil(x_hi) + 1)] if log_x \
        else _ticks(x_lo, x_hi)
    for tick in x_ticks:
        x = sx(tick)
        if _PAD_L - 1 <= x <= _PAD_L + plot_w + 1:
            out.append(f'<text x="{x:.1f}" y="{_PAD_T + plot_h + 16}" text-anchor="middle">{_fmt(tick)}</text>')
    out.append(f'<text x="{_PAD_L + plot_w / 2:.0f}" y="{height - 6}" text-anchor="middle">{escape(x_label)}</text>')
    out.append(f'<text x="14" y="{_PAD_T + plot_h / 2:.0f}" transform="rotate(-90 14 {_PAD_T + plot_h / 2:.0f})" '
               f'text-anchor="middle">{escape(y_label)}</text>')
    for i, (name, pts) in enumerate(series.items()):
        color = COLORS[i % len(COLORS)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{path}"/>')
        ly = _PAD_T + 14 + 16 * i
        out.append(f'<line x1="{width - _PAD_R + 10}" y1="{ly - 4}" x2="{width - _PAD_R + 28}" y2="{ly - 4}" '
                   f'stroke="{color}" stroke-width="3"/><text x="{width - _PAD_R + 32}" y="{ly}">{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def bar_chart(title: str, groups: Sequence[str], series: Mapping[str, Sequence[float]], *, y_label: str,
              width: int = 720, height: int = 300) -> str:
    values = [v for s in series.values() for v in s]
    if not values or not groups:
        return f"<p>{escape(title)}: no data</p>"
    y_hi = max(max(values), 1e-9)
    plot_w, plot_h = width - _PAD_L - _PAD_R, height - _PAD_T - _PAD_B
    group_w = plot_w / len(groups)
    bar_w = group_w * 0.8 / max(len(series), 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" class="chart">',
           f'<text x="{_PAD_L}" y="16" class="title">{escape(title)}</text>',
           f'<rect x="{_PAD_L}" y="{_PAD_T}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>']
    for tick in _ticks(0.0, y_hi):
        y = _PAD_T + plot_h - tick / y_hi * plot_h
        out.append(f'<line x1="{_PAD_L - 4}" y1="{y:.1f}" x2="{_PAD_L + plot_w}" y2="{y:.1f}" stroke="#eee"/>'
                   f'<text x="{_PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(tick)}</text>')
    for g, group in enumerate(groups):
        x0 = _PAD_L + g * group_w + group_w * 0.1
        out.append(f'<text x="{_PAD_L + (g + 0.5) * group_w:.1f}" y="{_PAD_T + plot_h + 16}" '
                   f'text-anchor="middle">{escape(group)}</text>')
        for i, (_, vals) in enumerate(series.items()):
            v = vals[g] if g < len(vals) else 0.0
            h = v / y_hi * plot_h
            out.append(f'<rect x="{x0 + i * bar_w:.1f}" y="{_PAD_T + plot_h - h:.1f}" width="{bar_w:.1f}" '
                       f'height="{h:.1f}" fill="{COLORS[i % len(COLORS)]}"><title>{escape(group)}: {v:.0f}</title>'
                       f'</rect>')
    for i, name in enumerate(series):
        ly = _PAD_T + 14 + 16 * i
        out.append(f'<rect x="{width - _PAD_R + 10}" y="{ly - 10}" width="14" height="10" '
                   f'fill="{COLORS[i % len(COLORS)]}"/><text x="{width - _PAD_R + 30}" y="{ly}">{escape(name)}</text>')
    out.append(f'<text x="14" y="{_PAD_T + plot_h / 2:.0f}" transform="rotate(-90 14 {_PAD_T + plot_h / 2:.0f})" '
               f'text-anchor="middle">{escape(y_label)}</text>')
    out.append("</svg>")
    return "".join(out)
