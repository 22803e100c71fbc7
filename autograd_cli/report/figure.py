"""The sweep figure: every backend's derivative over an interval, and its error in ULPs.

The input is a small framework-free contract (:class:`SweepFigureData` holding one
:class:`Series` per backend, all plain numpy arrays), so the sweep code, the tests and
anyone scripting gradcheck can draw the same figure without running a backend. Writing
it to a file (all or nothing) is :mod:`.plot_files`'s job.

matplotlib is imported only inside the functions that draw: ``gradcheck --help``, a
parse error or a run without ``--plot`` never pay for it. No
pyplot either: a bare ``Figure`` with an Agg canvas has no global state and needs no
display.

Large sweeps are decimated with a min/max envelope per bin (:func:`envelope`), never by
skipping points, so a single-point spike in 10^6 values still shows.

The error panel also shades the noise floor (what rounding alone may cost: errors under
it are not the backend's) and marks the points the verdict calls wrong or inaccurate,
so a large error that is still ok reads differently from one that fails. Both appear
only when the data has them: a clean sweep without a floor draws as it always did.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from autograd_cli.report.figure_data import (
    ULP_FLOOR,
    Series,
    SpecialMark,
    SweepFigureData,
    decimated,
    envelope,
    flagged,
    worst_per_bin,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Text

__all__ = ["LEGEND_INSIDE", "build_figure"]

#: Okabe-Ito colours (safe for colour-blind readers), then line styles and markers, so two
#: backends stay distinguishable in greyscale print and when their curves coincide.
_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442")
_LINESTYLES = ("-", "--", "-.", ":")
_MARKERS = ("o", "x", "s", "+", "^", "D", "v")
#: With several dtypes, a backend's ULP markers are told apart by their fill (so each
#: backend gets a marker that has one).
_FILLS = ("none", "full", "left", "bottom")
_FILLABLE = ("o", "X", "s", "P", "^", "D", "v")
_TITLE_SIZE = 14.0
_MIN_TITLE_SIZE = 9.0
#: NaN/inf markers: one per bin of this many across the axis, so a long run of NaNs is a
#: row of triangles rather than a smear, while every bin holding one is still marked.
_FLAG_BINS = 250
#: Series whose legends still fit inside the panels; beyond, legends go to the right.
LEGEND_INSIDE = 8

#: Special marks drawn at most (the first ones; the legend counts all their points).
_MAX_MARKS = 200
_SPECIAL_STYLE = {"undefined": ("#BB0000", "undefined"),
                  "nondifferentiable": ("#6A3D9A", "not differentiable"),
                  "overflow": ("#8C510A", "overflow"),
                  "underflow": ("#01665E", "underflow")}
#: Over- and underflow bands are hatched too, so they differ from the undefined band
#: (and each other) in greyscale; a single x gets its own line style.
_SPECIAL_HATCH = {"overflow": "////", "underflow": "\\\\\\\\"}
_SPECIAL_LINE: dict[str, Any] = {"overflow": (0, (1, 1.5)), "underflow": (0, (5, 1.5, 1, 1.5))}

#: The noise floor band: pale, under every point; a second dtype's is hatched.
_FLOOR_COLOR = "#9BD3AE"
_FLOOR_HATCHES = ("", "....", "////", "\\\\")
#: Wrong and inaccurate points: one style per tier over every backend (the backend's
#: own marker underneath says whose), red crosses and hollow orange triangles, which
#: differ in shape as well as colour.
_TIER_STYLE: dict[str, dict[str, Any]] = {
    "wrong": {"marker": "x", "ms": 7.5, "mew": 1.6, "color": "#E41A1C"},
    "inaccurate": {"marker": "^", "ms": 7.0, "mew": 1.2, "color": "#FF7F00", "mfc": "none"},
}


def _mathtext_ok(tex: str) -> bool:
    """Whether mathtext can typeset ``tex``; asked now, since a failure at draw time is fatal."""
    from matplotlib.mathtext import MathTextParser

    try:
        MathTextParser("path").parse(f"${tex}$")
    except Exception:
        return False
    return True


def _plain(text: str) -> str:
    """Text drawn literally: a '$' would otherwise open mathtext."""
    return text.replace("$", r"\$")


def _title_lines(data: SweepFigureData) -> list[tuple[str | None, str]]:
    """'f(x) = ...' and 'df/dx = ...' as (mathtext or None if it cannot parse, plain text)."""
    from autograd_cli.core.model import notation

    wrt_tex = data.wrt.replace("_", r"\_")
    f_tex = d_tex = None
    if data.expression_latex and _mathtext_ok(data.expression_latex):
        f_tex = rf"$f({wrt_tex}) = {data.expression_latex}$"
    top, below = _derivative_tex(data)
    if data.derivative_latex and _mathtext_ok(data.derivative_latex):
        d_tex = rf"$\frac{{{top}}}{{{below}}} = {data.derivative_latex}$"
    label = ",".join(data.partial or (data.wrt,))
    return [
        (f_tex, _plain(f"f({data.wrt}) = {data.expression}")),
        (d_tex, _plain(f"{notation(label)} = {data.derivative}")),
    ]


def _derivative_tex(data: SweepFigureData) -> tuple[str, str]:
    """The derivative's numerator and denominator in mathtext, with the order as a
    power: d²f over dx² for f'', dx dy for a mixed partial (each d a partial sign)."""
    from autograd_cli.core.model import powers

    partial = data.partial or (data.wrt,)

    def power(n: int) -> str:
        return "" if n == 1 else f"^{{{n}}}"

    escaped = [(name.replace("_", r"\_"), n) for name, n in powers(partial)]
    below = r"\,".join(rf"\partial {name}{power(n)}" for name, n in escaped)
    return rf"\partial{power(len(partial))} f", below


def _set_title(fig: Figure, lines: Sequence[tuple[str | None, str]]) -> Text:
    """The suptitle, fitted to the figure's width: typeset lines shrink down to a readable
    size, then give way to plain text wrapped over at most three lines (and cut with …).

    Widths are measured, not scaled: hinting makes text width far from proportional to
    font size.
    """
    import textwrap

    title = fig.suptitle("", fontsize=_MIN_TITLE_SIZE)
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    limit = 0.97 * fig.bbox.width

    def width(text: str) -> float:
        title.set_text(text)
        return float(title.get_window_extent(renderer).width)

    chosen: list[str] = []
    for tex, plain in lines:
        text = tex if tex is not None and width(tex) <= limit else plain
        chars = len(plain)
        while text is not tex and width(text) > limit and chars > 20:
            chars = max(20, int(chars * min(0.9, limit / width(text))))
            text = "\n".join(textwrap.wrap(plain, chars, max_lines=3, placeholder=" …"))
        chosen.append(text)
    size = _TITLE_SIZE
    for _ in range(5):
        title.set_fontsize(size)
        wide = width("\n".join(chosen))
        if wide <= limit or size <= _MIN_TITLE_SIZE:
            break
        size = max(_MIN_TITLE_SIZE, size * 0.97 * limit / wide)
    return title


def _fit_width(fig: Figure, text: Text, min_size: float = 6.0) -> None:
    """Shrink a text until it fits the figure's width (long labels would be cut)."""
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    limit = 0.97 * fig.bbox.width
    width = text.get_window_extent(renderer).width
    if width > limit:
        text.set_fontsize(max(min_size, float(text.get_fontsize()) * limit / width))


def build_figure(data: SweepFigureData, max_points: int = 4000) -> Figure:
    """The two-panel sweep figure: derivatives on top, ULP errors (log) below.

    Up to ``max_points`` points per curve are drawn as given; beyond that each curve is
    its min/max envelope over ``max_points // 2`` bins. Artists carry a ``gid``
    ("exact", "values", "derivative:<backend>", "ulp:<backend>", "nonfinite:<backend>",
    "special:<status>", "noise-floor" (several dtypes: "noise-floor:<dtype>"),
    "tier:wrong", "tier:inaccurate"; with series of several dtypes "<backend> <dtype>",
    e.g. "derivative:torch float32") so scripts and tests can find the data behind each
    curve.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    x = np.asarray(data.x, dtype=np.float64)
    outside = len(data.series) > LEGEND_INSIDE
    fig = Figure(figsize=(14, 7.5) if outside else (10, 7.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax_d, ax_e = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])

    _draw_derivatives(ax_d, data, x, max_points, outside=outside)
    _draw_errors(ax_e, data, x, max_points, outside=outside)
    _draw_special(ax_e, data.special)

    lo, hi = (float(np.nanmin(x)), float(np.nanmax(x))) if np.isfinite(x).any() else (0.0, 0.0)
    if lo < hi:
        pad = 0.01 * (hi - lo)
        ax_e.set_xlim(lo - pad, hi + pad)
    ax_e.set_xlabel(data.wrt)
    _set_title(fig, _title_lines(data))
    span = f"{data.wrt} from {lo:g} to {hi:g}" if lo < hi else f"{data.wrt} = {lo:g}"
    labels = _joined([_plain(label) for label in dict.fromkeys(s.label for s in data.series)])
    dtypes = _dtypes(data)
    meta = ax_d.set_title(
        f"{', '.join(dtypes) if len(dtypes) > 1 else data.dtype} · {x.size:,} points, {span}\n"
        f"{labels or 'no backend results'}"
        + "".join(f"\n{_plain(n)}" for n in data.notes),
        fontsize=9.5, color="0.25",
    )
    _fit_width(fig, meta)
    return fig


def _joined(labels: Sequence[str], width: int = 130) -> str:
    """The series' labels joined by " · ", broken between labels into lines of about
    ``width`` characters (one line of five backends ran off the figure's edge)."""
    lines: list[str] = []
    for label in labels:
        if lines and len(lines[-1]) + 3 + len(label) <= width:
            lines[-1] += " · " + label
        else:
            lines.append(label)
    return "\n".join(lines)


def _dtypes(data: SweepFigureData) -> list[str]:
    """The dtypes of the figure's series, in order (several: a precision comparison)."""
    return list(dict.fromkeys(s.dtype for s in data.series if s.dtype))


def _x_of(s: Series, x: np.ndarray) -> np.ndarray:
    return x if s.x is None else np.asarray(s.x, dtype=np.float64)


def _style(data: SweepFigureData, i: int) -> tuple[str, Any, str]:
    """Colour, line style and marker of the i-th series: each its own; with several
    dtypes, colour and marker per backend and line style per dtype."""
    dtypes = _dtypes(data)
    if len(dtypes) <= 1:
        return (_COLORS[i % len(_COLORS)], _LINESTYLES[i % len(_LINESTYLES)],
                _MARKERS[i % len(_MARKERS)])
    s = data.series[i]
    b = list(dict.fromkeys(t.backend for t in data.series)).index(s.backend)
    d = dtypes.index(s.dtype) if s.dtype in dtypes else 0
    return (_COLORS[b % len(_COLORS)], _LINESTYLES[d % len(_LINESTYLES)],
            _FILLABLE[b % len(_FILLABLE)])


def _draw_derivatives(ax: Axes, data: SweepFigureData, x: np.ndarray, max_points: int,
                      *, outside: bool = False) -> None:
    """Top panel: exact derivative as a wide pale band, each backend as a styled line on
    it; the legend right of the panel when ``outside`` (many series)."""
    from matplotlib.lines import Line2D

    def finite(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, dtype=np.float64)
        return np.where(np.isfinite(a), a, np.nan)

    ex, ey = decimated(x, finite(data.exact), max_points)
    handles = ax.plot(ex, ey, color="0.55", lw=5, alpha=0.45, solid_capstyle="butt",
                      label="exact (SymPy + mpmath)", gid="exact", zorder=1)
    count = max(len(data.series), 1)
    several = len(_dtypes(data)) > 1
    for i, s in enumerate(data.series):
        sx, sy = decimated(_x_of(s, x), finite(s.derivative), max_points)
        step = max(sx.size // 14, 1)
        color, ls, marker = _style(data, i)
        handles += ax.plot(
            sx, sy, color=color, ls=ls, lw=1.4, marker=marker, ms=6, mfc="none", mew=1.3,
            markevery=(i * step // count, step),
            label=_plain(s.name(several) if several else s.label),
            gid=f"derivative:{s.name(several)}", zorder=2 + i,
        )
    top, below = _derivative_tex(data)
    ax.set_ylabel(rf"${top}/{below}$")
    ax.grid(True, alpha=0.35)
    handles += _draw_special(ax, data.special)
    if data.values is not None:
        twin = ax.twinx()
        vx, vy = decimated(x, finite(data.values), max_points)
        handles += twin.plot(vx, vy, color="0.3", ls=(0, (5, 3)), lw=1.1,
                             label=f"f({_plain(data.wrt)}) (right axis)", gid="values",
                             zorder=1)
        twin.set_ylabel(f"f({_plain(data.wrt)})", color="0.3")
        twin.tick_params(axis="y", colors="0.3")
        # An invisible copy of f(x) here (add_artist: no autoscaling) so loc="best" avoids it.
        ax.add_artist(Line2D(vx, vy, transform=twin.transData, visible=False))
    if outside:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8.5,
                  framealpha=0.9, ncols=2 if len(handles) > 12 else 1)
    else:
        ax.legend(handles=handles, loc="best", fontsize=9, framealpha=0.9)


def _draw_special(ax: Axes, marks: Sequence[SpecialMark]) -> list[Any]:
    """Undefined / non-differentiable / overflow / underflow x: a dashed line at a
    single point, a band over a run (over- and underflow hatched); gid
    "special:<status>". Returns one legend handle per status (with its count), and
    per dtype where marks name one ("overflow (float32): 4 points")."""
    handles: list[Any] = []
    for status, dtype in dict.fromkeys((mark.status, mark.dtype) for mark in marks):
        color, word = _SPECIAL_STYLE.get(status, ("0.3", status))
        chosen = [m for m in marks if m.status == status and m.dtype == dtype]
        total = sum(m.points for m in chosen)
        hatch = _SPECIAL_HATCH.get(status)
        first: Any = None
        for mark in chosen[:_MAX_MARKS]:
            artist: Any
            if mark.start == mark.stop:
                artist = ax.axvline(mark.start, color=color,
                                    ls=_SPECIAL_LINE.get(status, (0, (3, 2))), lw=1.2,
                                    alpha=0.8, zorder=0.5, gid=f"special:{status}")
            elif hatch:
                artist = ax.axvspan(mark.start, mark.stop, facecolor=color, alpha=0.15,
                                    edgecolor=color, hatch=hatch, lw=0, zorder=0.5,
                                    gid=f"special:{status}")
            else:
                artist = ax.axvspan(mark.start, mark.stop, color=color, alpha=0.12, lw=0,
                                    zorder=0.5, gid=f"special:{status}")
            first = first or artist
        if first is not None:
            which = f" ({dtype})" if dtype else ""
            first.set_label(f"{word}{which}: {total:,} {'point' if total == 1 else 'points'} "
                            "(not judged)")
            handles.append(first)
    return handles


def _draw_errors(ax: Axes, data: SweepFigureData, x: np.ndarray, max_points: int,
                 *, outside: bool = False) -> None:
    """Bottom panel: |error| in ULPs on a log axis; exact results sit on the floor band,
    NaN/inf errors are triangles along the top edge, counted in the legend. Points in
    ``data.special`` have no error to show (their band or line says why). The noise
    floor, when given, is a pale band from the bottom up to it; wrong and inaccurate
    points are marked over their errors (legend entries only when there are some)."""
    ax.set_yscale("log")
    low = np.log10(ULP_FLOOR / 2.5)
    top = 1.0
    handles = []
    flags: list[tuple[Series, str, np.ndarray, np.ndarray]] = []
    several = len(_dtypes(data)) > 1
    dtypes = _dtypes(data)
    for i, s in enumerate(data.series):
        color, _, marker = _style(data, i)
        # Several dtypes: a backend's marker hollow in the first, filled in the second, ...
        fill = _FILLS[dtypes.index(s.dtype) % len(_FILLS)] if several and s.dtype else "none"
        sx_all = _x_of(s, x)
        unjudged = np.zeros(sx_all.shape, dtype=bool)
        for mark in data.special:
            if mark.dtype is None or mark.dtype == s.dtype:
                unjudged |= (sx_all >= mark.start) & (sx_all <= mark.stop)
        u = np.abs(np.asarray(s.ulp_error, dtype=np.float64))
        bad = ~np.isfinite(u) & ~unjudged
        judged = ~bad & ~unjudged
        shown = np.where(judged, np.maximum(u, ULP_FLOOR), np.nan)
        worst = float(np.max(u[judged])) if judged.any() else None
        top = max(top, worst or 0.0)
        summary = ("no finite error" if worst is None else "exact at every point"
                   if worst == 0 else f"max {worst:.3g} ULP")
        sx, sy = decimated(sx_all, shown, max_points)
        name = _plain(s.name(several))
        handles += ax.plot(sx, sy, ls="none", marker=marker, ms=3.5, fillstyle=fill,
                           mfc="none" if marker not in "x+" and fill == "none" else color,
                           mew=0.9, color=color, alpha=0.85, label=f"{name}: {summary}",
                           gid=f"ulp:{s.name(several)}", zorder=3 + i)
        if bad.any():
            flags.append((s, color, bad, sx_all))
    handles += [ax.axhline(0.5, color="black", ls=(0, (4, 2)), lw=1.0, alpha=0.8, zorder=20,
                           label="½ ULP (correctly rounded)")]
    floor_handles, floor_top = _draw_floors(ax, data, x, max_points, 10**low)
    handles += floor_handles
    top = max(top, floor_top)
    handles += _draw_tiers(ax, data, max_points)
    for i, (s, color, bad, sx_all) in enumerate(flags):
        fx = flagged(sx_all, bad, min(max_points, _FLAG_BINS))
        handles += ax.plot(fx, np.full(fx.size, 1.0 - 0.045 * i), ls="none", marker="v",
                           ms=7, color=color, mec="white", mew=0.5, clip_on=False,
                           transform=ax.get_xaxis_transform(), zorder=30,
                           label=f"{_plain(s.name(several))}: {int(bad.sum()):,} NaN/inf "
                           "(▼ at top)",
                           gid=f"nonfinite:{s.name(several)}")
    # Reserve room at the top for the NaN strip and the legend, so neither hides data.
    columns = (2 if len(handles) > 12 else 1) if outside else min(3, len(handles))
    legend_top = 1.0 - 0.045 * len(flags) - (0.02 if flags else 0.0)
    reserve = 1.0 - legend_top + 0.04
    if not outside:
        reserve += 0.075 * -(-len(handles) // columns)
    high = low + (np.log10(max(top, 1.0) * 1.5) - low) / max(1.0 - reserve, 0.3)
    ax.set_ylim(10**low, 10**high)
    ax.axhspan(10**low, ULP_FLOOR * 2.5, color="0.9", zorder=0, lw=0)
    ax.text(1.006, ULP_FLOOR, "exact or\n< 10$^{-3}$", transform=ax.get_yaxis_transform(),
            ha="left", va="center", fontsize=7.5, color="0.3", clip_on=False)
    ax.legend(handles=handles, loc="upper left",
              bbox_to_anchor=(1.01, 1.0) if outside else (0.0, legend_top),
              fontsize=8.5, framealpha=0.9, ncols=columns)
    unit = "ULPs of each series' own dtype" if several else f"ULPs of {data.dtype}"
    ax.set_ylabel(f"|error|, {unit}\n(log; < 10$^{{-3}}$ drawn at 10$^{{-3}}$)")
    ax.grid(True, which="major", alpha=0.35)


#: The band is a bound, drawn as the largest floor per bin: a few hundred bins read the
#: same as thousands and keep the PNG small (the floor in ULPs saw-tooths at every
#: power of two).
FLOOR_BINS = 400


def _draw_floors(ax: Axes, data: SweepFigureData, x: np.ndarray, max_points: int,
                 bottom: float) -> tuple[list[Any], float]:
    """The noise floor of each dtype as a pale band from the panel's bottom up to it
    (a floor under the bottom is a band of no height; NaN, a gap), so errors within
    it read as rounding's, not the backend's. Above :data:`FLOOR_BINS` points, the
    largest per bin (the band never hides under a thinned one). Returns the legend handles
    ("noise floor", with the dtype when several) and the highest floor drawn (0: none)."""
    handles: list[Any] = []
    top = 0.0
    several = len(data.floors) > 1
    for i, floor in enumerate(data.floors):
        fx = x if floor.x is None else np.asarray(floor.x, dtype=np.float64)
        fy = np.abs(np.asarray(floor.ulps, dtype=np.float64))
        fy = np.where(np.isfinite(fy), fy, np.nan)
        if not np.any(fy > 0):  # nothing to shade: no band, no legend entry
            continue
        top = max(top, float(np.nanmax(fy)))
        bins = min(max_points, FLOOR_BINS)
        if fx.size > bins:
            fx, _, fy = envelope(fx, fy, bins)
        which = f" ({floor.dtype})" if several and floor.dtype else ""
        hatch = _FLOOR_HATCHES[i % len(_FLOOR_HATCHES)] or None
        handles.append(ax.fill_between(
            fx, bottom, np.maximum(fy, bottom), facecolor=_FLOOR_COLOR, alpha=0.45,
            edgecolor="#4DAF6A" if hatch else "none", hatch=hatch, lw=0, zorder=0.8,
            label=f"noise floor{which}",
            gid=f"noise-floor:{floor.dtype}" if which else "noise-floor"))
    return handles, top


def _draw_tiers(ax: Axes, data: SweepFigureData, max_points: int) -> list[Any]:
    """Wrong and inaccurate points of every series, one artist per tier (gid
    "tier:<tier>") over the ULP markers, its legend counting every such point (those
    with a NaN/inf result too: they are the triangles at the top, not marked here).
    A series with more than ``max_points`` of a tier shows the worst of each of
    ``max_points`` runs of them."""
    handles: list[Any] = []
    for tier, style in _TIER_STYLE.items():
        chosen = [t for s in data.series for t in s.tiers if t.tier == tier]
        total = sum(t.total for t in chosen)
        if not total:
            continue
        xs, ys = [], []
        for t in chosen:
            tx = np.asarray(t.x, dtype=np.float64)
            ty = np.abs(np.asarray(t.ulps, dtype=np.float64))
            if tx.size > max_points:
                bins = np.arange(tx.size, dtype=np.int64) * max_points // tx.size
                _, tx, ty = worst_per_bin(bins, tx, ty)
            xs.append(tx)
            ys.append(np.maximum(ty, ULP_FLOOR))
        handles += ax.plot(np.concatenate(xs), np.concatenate(ys), ls="none", zorder=25,
                           label=f"{tier}: {total:,} {'point' if total == 1 else 'points'}",
                           gid=f"tier:{tier}", **style)
    return handles
