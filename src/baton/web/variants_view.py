"""A model's variants as its page shows them: a table and a plot of quality against size.

The plot (``quality_size_svg``) draws the base and each measured variant as a point: file size on
the x axis (MB, from zero), accuracy on the task both were measured on along the y axis, with the
variant's paired 95 % interval of accuracy retained as a vertical bar around it. Every label is
placed so it stays inside the drawing (flipped to the left of its point near the right edge,
nudged apart vertically), and the drawing carries a title and a description for screen readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from markupsafe import Markup, escape

from baton.web.i18n import N_, translate

WIDTH: Final = 640
HEIGHT: Final = 340
MARGIN_LEFT: Final = 64
MARGIN_RIGHT: Final = 16
MARGIN_TOP: Final = 20
MARGIN_BOTTOM: Final = 48
LABEL_FONT: Final = 12
CHAR_WIDTH: Final = 7.2  # a generous average advance for 12 px sans text (Hangul is wider: counted twice)
LABEL_GAP: Final = 15
MAX_LABEL: Final = 32
MB: Final = 1_000_000


@dataclass(frozen=True)
class PlotPoint:
    label: str
    size: int  # bytes
    accuracy: float
    low: float | None = None  # accuracy interval (base accuracy + the paired interval of the difference)
    high: float | None = None
    base: bool = False


@dataclass(frozen=True)
class PlacedLabel:
    text: str
    x: float
    y: float
    anchor: str  # start | end

    def extent(self) -> tuple[float, float]:
        width = text_width(self.text)
        return (self.x, self.x + width) if self.anchor == "start" else (self.x - width, self.x)


def text_width(text: str) -> float:
    return sum(CHAR_WIDTH * (2 if ord(char) > 0x2E7F else 1) for char in text)


def clip(text: str, length: int = MAX_LABEL) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def plot_points(base_id: str, base: dict[str, Any] | None, variants: list[dict[str, Any]]) -> list[PlotPoint]:
    """The base and each variant with an ok measurement, as points (sizes and accuracies known)."""
    points: list[PlotPoint] = []
    if base is not None and base.get("file_size") and base.get("accuracy") is not None:
        points.append(PlotPoint(base_id, int(base["file_size"]), float(base["accuracy"]), base=True))
    for variant in variants:
        measured = variant.get("measurement")
        if not measured or measured.get("status") != "ok":
            continue
        size, accuracy = measured.get("file_size"), measured.get("variant_accuracy")
        if not size or accuracy is None:
            continue
        low = high = None
        interval = (measured.get("accuracy_retained") or {}).get("ci95") or [None, None]
        base_accuracy = measured.get("base_accuracy")
        if base_accuracy is not None and interval[0] is not None and interval[1] is not None:
            low, high = base_accuracy + interval[0], base_accuracy + interval[1]
        points.append(PlotPoint(variant["id"], int(size), float(accuracy), low, high))
    return points


def _place_labels(points: list[PlotPoint], xs: list[float], ys: list[float]) -> list[PlacedLabel]:
    """One label per point, inside the plot, at least ``LABEL_GAP`` apart vertically where they would overlap."""
    order = sorted(range(len(points)), key=lambda index: ys[index])
    placed: dict[int, PlacedLabel] = {}
    taken: list[PlacedLabel] = []
    for index in order:
        text = clip(points[index].label)
        width = text_width(text)
        if xs[index] + 8 + width <= WIDTH - 2:
            x, anchor = xs[index] + 8, "start"
        else:
            x, anchor = max(xs[index] - 8, width + 2), "end"
        y = ys[index] + 4
        label = PlacedLabel(text, x, y, anchor)
        for other in taken:  # nudge down below any label it would overlap
            low, high = label.extent()
            other_low, other_high = other.extent()
            if abs(other.y - label.y) < LABEL_GAP and low < other_high and other_low < high:
                label = PlacedLabel(text, x, other.y + LABEL_GAP, anchor)
        label = PlacedLabel(text, x, min(max(label.y, LABEL_FONT + 2), HEIGHT - MARGIN_BOTTOM + 14), anchor)
        taken.append(label)
        placed[index] = label
    return [placed[index] for index in range(len(points))]


def quality_size_svg(points: list[PlotPoint], lang: str = "en", title: str = "") -> Markup | None:
    """Accuracy against file size, base and variants labelled; None when there is nothing to draw."""
    if not points:
        return None
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    top_size = max(point.size for point in points) / MB * 1.08
    values = [v for p in points for v in (p.accuracy, p.low, p.high) if v is not None]
    low, high = max(0.0, min(values) - 0.05), min(1.0, max(values) + 0.05)
    if high - low < 0.1:
        low, high = max(0.0, low - 0.05), min(1.0, high + 0.05)

    def x(size: int) -> float:
        return MARGIN_LEFT + size / MB / top_size * plot_w

    def y(value: float) -> float:
        return MARGIN_TOP + (high - value) / (high - low) * plot_h

    xs = [x(point.size) for point in points]
    ys = [y(point.accuracy) for point in points]
    size_label = translate(lang, N_("File size (MB)"))
    accuracy_label = translate(lang, N_("Accuracy"))
    heading = title or translate(lang, N_("Quality against size"))
    description = "; ".join(
        f"{point.label}: {point.size / MB:.2f} MB, {point.accuracy:.3f}"
        + (f" [{point.low:.3f}, {point.high:.3f}]" if point.low is not None and point.high is not None else "")
        for point in points
    )
    bottom = MARGIN_TOP + plot_h
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart quality-size" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        'aria-labelledby="quality-size-title quality-size-desc">',
        f'<title id="quality-size-title">{escape(heading)}</title>',
        f'<desc id="quality-size-desc">{escape(description)}</desc>',
        f'<line class="axis" x1="{MARGIN_LEFT}" y1="{bottom}" x2="{WIDTH - MARGIN_RIGHT}" y2="{bottom}" '
        'stroke="#595959"/>',
        f'<line class="axis" x1="{MARGIN_LEFT}" y1="{MARGIN_TOP}" x2="{MARGIN_LEFT}" y2="{bottom}" stroke="#595959"/>',
    ]
    for step in range(5):
        value = low + (high - low) * step / 4
        parts.append(
            f'<text class="tick" x="{MARGIN_LEFT - 6}" y="{y(value) + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#595959">{value:.2f}</text>'
        )
        size = top_size * step / 4
        parts.append(
            f'<text class="tick" x="{MARGIN_LEFT + plot_w * step / 4:.1f}" y="{bottom + 16}" font-size="11" '
            f'text-anchor="middle" fill="#595959">{size:.3g}</text>'
        )
    parts.append(
        f'<text class="axis-label" x="{MARGIN_LEFT + plot_w / 2:.1f}" y="{HEIGHT - 8}" font-size="12" '
        f'text-anchor="middle" fill="#1b1b1b">{escape(size_label)}</text>'
    )
    parts.append(
        f'<text class="axis-label" x="14" y="{MARGIN_TOP + plot_h / 2:.1f}" font-size="12" text-anchor="middle" '
        f'fill="#1b1b1b" transform="rotate(-90 14 {MARGIN_TOP + plot_h / 2:.1f})">{escape(accuracy_label)}</text>'
    )
    for point, px, py in zip(points, xs, ys, strict=True):
        if point.low is not None and point.high is not None:
            parts.append(
                f'<line class="interval" x1="{px:.1f}" y1="{y(point.high):.1f}" x2="{px:.1f}" '
                f'y2="{y(point.low):.1f}" stroke="#0b57a4" stroke-width="2"/>'
            )
        kind = "base" if point.base else "variant"
        fill = "#14213d" if point.base else "#0b57a4"
        parts.append(f'<circle class="point point-{kind}" cx="{px:.1f}" cy="{py:.1f}" r="5" fill="{fill}"/>')
    for label, point in zip(_place_labels(points, xs, ys), points, strict=True):
        parts.append(
            f'<text class="label label-{"base" if point.base else "variant"}" x="{label.x:.1f}" y="{label.y:.1f}" '
            f'font-size="{LABEL_FONT}" text-anchor="{label.anchor}" fill="#1b1b1b">{escape(label.text)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # every text above is escaped


def megabytes(size: int | None) -> str:
    return "–" if size is None else f"{size / MB:.2f} MB"


def page_context(session: Any, user: Any, repo: Any, lang: str) -> dict[str, Any]:
    """What ``repo/variants.html`` shows: the variants, the base's numbers and the plot."""
    from baton.variants import catalogue

    variants = catalogue.variants_of(session, user, repo)
    base = catalogue.base_summary(variants)
    points = plot_points(repo.repo_id, base, variants)
    return {
        "variants": variants,
        "base": base,
        "plot": quality_size_svg(points, lang),
        "megabytes": megabytes,
    }
