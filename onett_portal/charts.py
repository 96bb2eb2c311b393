"""Charts as inline SVG drawn on the server: no chart library, no script, nothing loaded from elsewhere.
Colours and fonts come from the page's stylesheet (classes), so the charts print and scale with the page."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from html import escape

from markupsafe import Markup


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def funnel_svg(rows: list[tuple[str, int, int]], labels: dict[str, str], title: str, t) -> Markup:
    """Horizontal bars: tokens left after each stage, as a share of the raw tokens."""
    if not rows:
        return Markup("")
    label_w, bar_w, value_w, row_h = 150, 390, 200, 28
    width, height = label_w + bar_w + value_w, row_h * len(rows) + 8
    top = max((tokens for _, _, tokens in rows), default=0) or 1
    parts = [f'<svg class="chart funnel" viewBox="0 0 {width} {height}" role="img" aria-labelledby="funnel-title" '
             f'xmlns="http://www.w3.org/2000/svg"><title id="funnel-title">{escape(title)}</title>']
    for i, (stage, docs, tokens) in enumerate(rows):
        y = 4 + i * row_h
        w = bar_w * tokens / top
        kind = "bar accepted" if stage == "accepted" else "bar"
        parts.append(
            f'<g><title>{escape(labels.get(stage, stage))}: {t.num(tokens)} {escape(t("tokens"))}, '
            f'{t.num(docs)} {escape(t("docs_unit"))}</title>'
            f'<text class="label" x="{label_w - 8}" y="{y + row_h * 0.62:.1f}" text-anchor="end">{escape(labels.get(stage, stage))}</text>'
            f'<rect class="track" x="{label_w}" y="{y + 4}" width="{bar_w}" height="{row_h - 8}" rx="3"/>'
            f'<rect class="{kind}" x="{label_w}" y="{y + 4}" width="{_fmt(max(w, 0.5 if tokens else 0))}" height="{row_h - 8}" rx="3"/>'
            f'<text class="value" x="{label_w + bar_w + 8}" y="{y + row_h * 0.62:.1f}">{t.num(tokens)} '
            f'<tspan class="muted">· {t.num(docs)} {escape(t("docs_unit"))}</tspan></text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))


def daily_svg(days: list[dict], month: date, days_in_month: int, title: str, t) -> Markup:
    """Revenue per day as bars (left scale) and requests per day as a line (right scale), for one month."""
    if not days:
        return Markup("")
    left, right, top_pad, bottom = 86, 80, 14, 30
    plot_w, plot_h = 600, 190
    width, height = left + plot_w + right, top_pad + plot_h + bottom
    max_rev = max((d["revenue"] for d in days), default=Decimal(0)) or Decimal(1)
    max_req = max((d["requests"] for d in days), default=0) or 1
    slot = plot_w / days_in_month
    parts = [f'<svg class="chart daily" viewBox="0 0 {width} {height}" role="img" aria-labelledby="daily-title" '
             f'xmlns="http://www.w3.org/2000/svg"><title id="daily-title">{escape(title)}</title>']
    base = top_pad + plot_h
    for frac in (0, 0.5, 1):
        y = base - plot_h * frac
        parts.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(t.amount(max_rev * Decimal(str(frac))))}</text>')
        parts.append(f'<text class="axis requests" x="{left + plot_w + 6}" y="{y + 4:.1f}">{t.num(round(max_req * frac))}</text>')
    points = []
    for d in days:
        i = d["date"].day - 1
        h = float(d["revenue"] / max_rev) * plot_h
        x = left + i * slot
        tip = (f'{d["date"].isoformat()}: {t.money(d["revenue"])}, {t.num(d["requests"])} {t("legend_requests")}, '
               f'{t.num(d["input_tokens"])} + {t.num(d["output_tokens"])} {t("tokens")}')
        parts.append(f'<rect class="bar revenue" x="{x + slot * 0.15:.1f}" y="{base - h:.1f}" width="{slot * 0.7:.1f}" '
                     f'height="{h:.1f}"><title>{escape(tip)}</title></rect>')
        points.append(f"{x + slot / 2:.1f},{base - plot_h * d['requests'] / max_req:.1f}")
    parts.append(f'<polyline class="line requests" points="{" ".join(points)}"/>')
    for day in range(1, days_in_month + 1):
        if day == 1 or day % 5 == 0:
            x = left + (day - 0.5) * slot
            parts.append(f'<text class="axis" x="{x:.1f}" y="{base + 18}" text-anchor="middle">{day}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
