"""The first screen's answer: per base model, its quants with the verdict, the quality kept (its
interval drawn as a bar), the speed against the baseline and the tokens a solve costs, and one
line in plain words under each. HTML for ``gr.HTML`` (no script); every submitted text escaped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Final

from arena.analysis import LeaderboardRow, spelling
from arena.tiers import TIERS
from arena.views._columns import VERDICT_HELP
from submissions.models import html_text as esc

BADGE_COLOURS: Final = {
    "degraded": "#b3261e",
    "equivalent": "#1b7f3b",
    "no detectable degradation": "#2f6f8f",
    "undecided": "#6b6b6b",
    "NOT COMPARABLE": "#a15c00",
}
"""Text colour of each verdict's badge (the badge always says the verdict in words)."""
BAR_MAX: Final = 120.0
"""The retention bar's scale ends here (or at the interval's end, when higher)."""

STYLE: Final = """<style>
.qer-cards{display:grid;gap:14px;font-size:14px}
.qer-cards .qer-card{border:1px solid var(--border-color-primary,#d0d0d0);border-radius:8px;
padding:10px 12px}
.qer-cards .qer-card h3{margin:0 0 2px 0;font-size:16px}
.qer-cards .qer-card .qer-sub{margin:0 0 8px 0;opacity:.8}
.qer-cards .qer-card table{width:100%;border-collapse:collapse;table-layout:fixed;border:0;
margin:0}
.qer-cards .qer-card th,.qer-cards .qer-card td{border:0}
.qer-cards .qer-card th{text-align:left;font-weight:600;opacity:.8;padding:4px 6px;font-size:12px;
cursor:help;text-decoration:underline dotted}
.qer-cards .qer-card td{padding:6px;vertical-align:top;
border-top:1px solid var(--border-color-primary,#e0e0e0)}
.qer-cards .qer-badge{font-weight:700;white-space:nowrap}
.qer-cards .qer-bar{position:relative;height:10px;margin-top:4px;border-radius:5px;
background:var(--background-fill-secondary,#eee)}
.qer-cards .qer-bar .ci{position:absolute;top:0;height:10px;background:#7aa6c8;
border-radius:5px;opacity:.7}
.qer-cards .qer-bar .pt{position:absolute;top:-3px;width:3px;height:16px;background:#1d3f5e}
.qer-cards .qer-bar .ref{position:absolute;top:-4px;width:1px;height:18px;background:#888}
.qer-cards .qer-reading{font-size:13px;opacity:.9;padding-top:0;border-top:none}
@media (max-width:700px){
.qer-cards table,.qer-cards tbody,.qer-cards tr,.qer-cards td{display:block;width:auto}
.qer-cards .qer-card thead{display:none}
.qer-cards .qer-card td{border-top:none;padding:2px 0}
.qer-cards .qer-card tr{border-top:1px solid var(--border-color-primary,#e0e0e0);padding:6px 0}
.qer-cards .qer-card td[data-label]::before{content:attr(data-label) ": ";font-weight:600;
opacity:.8}
}
</style>"""
HEAD: Final = ("Quant", "Verdict", "Quality kept vs baseline", "Speed", "Tokens per solve")
HEAD_HELP: Final[dict[str, str]] = {
    "Quant": "The quant label and its bits per weight; the baseline first, then from the most "
    "bits to the fewest.",
    "Verdict": VERDICT_HELP,
    "Quality kept vs baseline": "The puzzles it solved at its first answer, as a % of those "
    "its baseline solved among the same puzzles. The bar is the range the true value lies in "
    "95 times out of 100; the tick marks 100 %.",
    "Speed": "Generation speed from the solo speed probe, as a ratio to the baseline's.",
    "Tokens per solve": "Completion tokens (thinking included) spent per room solved, and "
    "the share of them spent thinking.",
}
"""Each header's explanation, shown on hover (the row below each quant says it in words too)."""
EMPTY: Final = (
    "<p><b>No results yet.</b> Register an endpoint in the <i>Submit</i> tab (or start the app "
    "with <code>--demo</code>): each base model needs its full-precision baseline and at least "
    "one quant.</p>"
)


NOT_PLAYED: Final = (
    "Not judged yet: it has not played its baseline on the same puzzles; the scheduler pairs "
    "them next."
)


def model_name(rows: Sequence[LeaderboardRow]) -> str:
    """A base model as its submitters spell it most often (not its internal key; the heatmap's
    rule, :func:`arena.analysis.spelling`)."""
    return spelling(r.base_model for r in rows)


def _percent(value: float) -> str:
    return f"{value:.0f} %"


SOLO_RUNS: Final = (
    "Counted on the first answers of solo runs (each model alone on the same puzzles; the "
    "matches against each other are separate)."
)


def reading(row: LeaderboardRow) -> str:
    """One line in plain words about a row's standing against its baseline."""
    if row.is_baseline and row.baseline_standing is not None:
        note = " Not confirmed by the operator yet." if row.baseline_review == "pending" else ""
        return "The reference: every quant of this model is compared with it." + note
    v = row.verdict
    if v is None:
        if row.baseline_standing == "disputed":
            return (
                "Two submissions claim to be the baseline: no verdict until the operator "
                "confirms one."
            )
        if row.baseline_standing is None:
            return (
                "No baseline for this model yet: register its full-precision version to get "
                "a verdict."
            )
        return NOT_PLAYED
    caution = "Provisional: the baseline is not confirmed yet." if v.provisional else ""
    if v.n_pairs == 0 and v.kind == "undecided":
        return " ".join(filter(None, [NOT_PLAYED, caution]))
    kept = ""
    if v.retention_pct is not None:
        kept = f"It solved {_percent(v.retention_pct)} as many of the same puzzles"
        if v.retention_ci is not None:
            kept += f" (95 % interval {v.retention_ci[0]:.0f} to {v.retention_ci[1]:.0f} %)"
        kept += "."
    where = SOLO_RUNS if v.source == "solo runs" else ""
    return " ".join(filter(None, [_verdict_words(v.kind, row), kept, where, caution]))


def _p(value: float | None) -> str:
    """A p-value for people."""
    if value is None:
        return "p not computed"
    return "p < 0.001" if value < 0.001 else f"p = {value:.2g}"


def _verdict_words(kind: str, row: LeaderboardRow) -> str:
    v = row.verdict
    assert v is not None
    if kind == "degraded":
        return (
            f"Worse than its baseline on {v.n_pairs} paired puzzles ({v.b} solved only by the "
            f"baseline, {v.c} only by this quant): unlikely to be chance ({_p(v.p_value)})."
        )
    if kind == "equivalent":
        return (
            f"As good as its baseline within ±{v.margin_pp:g} points, shown on {v.n_pairs} "
            "paired puzzles."
        )
    if kind == "no detectable degradation":
        hidden = f"about {v.detectable_drop_pp:.0f}" if v.detectable_drop_pp else "a small"
        return (
            f"No drop found in {v.n_pairs} paired puzzles; a drop smaller than {hidden} points "
            "could still hide."
        )
    if kind == "NOT COMPARABLE":
        return (
            "Not comparable: played with other settings than its baseline ("
            + ", ".join(v.differing)
            + ")."
        )
    budget = TIERS[v.tier].rounds * 6 if v.tier in TIERS else None
    so_far = f"{v.n_pairs} of up to {budget}" if budget else f"{v.n_pairs}"
    return (
        f"Too early to tell: {so_far} paired puzzles so far ({v.b} solved only by the baseline, "
        f"{v.c} only by this quant); play goes on until the test decides."
    )


def _badge(row: LeaderboardRow) -> str:
    if row.is_baseline and row.baseline_standing is not None:
        label = "baseline" if row.baseline_review != "pending" else "baseline (provisional)"
        return f'<span class="qer-badge">{label}</span>'
    v = row.verdict
    if v is None:
        text = "disputed baseline" if row.baseline_standing == "disputed" else "not judged yet"
        return f'<span class="qer-badge" style="color:#6b6b6b">{text}</span>'
    colour = BADGE_COLOURS.get(v.kind, "#6b6b6b")
    text = v.kind + (" (provisional)" if v.provisional else "")
    return f'<span class="qer-badge" style="color:{colour}">{esc(text)}</span>'


def _bar(pct: float | None, ci: tuple[float, float] | None, note: str | None = None) -> str:
    """The retention with its interval as a bar (0 to 120 %, a tick at 100 %); without one, why
    not (``note``: the row's retention note)."""
    if pct is None:
        return f"<small>{esc(note or 'not measured yet')}</small>"
    top = max(BAR_MAX, ci[1] if ci else pct, pct)

    def at(value: float) -> float:
        return max(0.0, min(100.0, 100.0 * value / top))

    shaded = ""
    text = _percent(pct)
    if ci is not None:
        left, width = at(ci[0]), at(ci[1]) - at(ci[0])
        shaded = f'<div class="ci" style="left:{left:.1f}%;width:{width:.1f}%"></div>'
        text += f" [{ci[0]:.0f}, {ci[1]:.0f}]"
    return (
        f'{text}<div class="qer-bar" title="95 % interval">{shaded}'
        f'<div class="ref" style="left:{at(100.0):.1f}%"></div>'
        f'<div class="pt" style="left:calc({at(pct):.1f}% - 1px)"></div></div>'
    )


def _tps(row: LeaderboardRow) -> tuple[float | None, str]:
    """Generation speed: the solo speed probe's, else its matches' (two contestants may share
    a machine: slower than alone)."""
    if row.speed is not None and row.speed.status == "done" and row.speed.tg_tps_mean:
        return row.speed.tg_tps_mean, "speed probe"
    return row.decode_tps, "matches"


def _speed(row: LeaderboardRow, baseline: LeaderboardRow | None) -> str:
    mine, source = _tps(row)
    if mine is None:
        return "not measured yet"
    text = f"{mine:.1f} tok/s"
    if baseline is not None and baseline is not row:
        theirs, their_source = _tps(baseline)
        if theirs and their_source == source:
            text = f"{mine / theirs:.2f}× baseline ({mine:.1f} tok/s)"
    return text + ("" if source == "speed probe" else " · from matches")


def _tokens(row: LeaderboardRow) -> str:
    if row.tokens_per_solved_room is None:
        return "no solve yet"
    text = f"{row.tokens_per_solved_room:,.0f}"
    if row.reasoning_share:
        text += f" ({row.reasoning_share * 100:.0f} % thinking)"
    return text


def _quant_cell(row: LeaderboardRow) -> str:
    shown = f"{esc(row.quant)} · {row.bits_per_weight:.2f} bpw"
    return f"<b>{shown}</b><br><small>#{row.submission_id} {esc(row.display_name)}</small>"


def _row_html(row: LeaderboardRow, baseline: LeaderboardRow | None) -> str:
    kept = (100.0, None) if row.is_baseline else (row.retention_pct, row.retention_ci)
    bar = _bar(*kept, row.retention_note)
    cells = [_quant_cell(row), _badge(row), bar, _speed(row, baseline), _tokens(row)]
    tds = "".join(f'<td data-label="{h}">{c}</td>' for h, c in zip(HEAD, cells, strict=True))
    return (
        f'<tr class="qer-row" data-submission="{row.submission_id}">{tds}</tr>'
        f'<tr><td class="qer-reading" colspan="5">{esc(reading(row))}</td></tr>'
    )


def _group_header(rows: Sequence[LeaderboardRow]) -> str:
    base = next((r for r in rows if r.is_baseline), None)
    name = esc(model_name(rows))
    if base is None:
        sub = "no baseline registered yet"
    else:
        standing = {"provisional": " (provisional)", "disputed": " (disputed)"}.get(
            base.baseline_standing or "", ""
        )
        sub = f"baseline: {esc(base.quant)}{standing}, #{base.submission_id}"
    profile = next((r.profile for r in rows if r.profile), None)
    calibration = next((r.calibration for r in rows if r.calibration is not None), None)
    if calibration is not None and calibration.status != "done":
        sub += (
            f" · calibrating the difficulty: {calibration.runs_played} of "
            f"{calibration.runs_planned} runs played"
        )
    elif profile:
        sub += f" · difficulty {esc(profile)}"
    return f'<h3>{name}</h3><p class="qer-sub">{sub}</p>'


def answer_cards(rows: Iterable[LeaderboardRow]) -> str:
    """One card per base model (by name), its quants from the most bits to the fewest."""
    groups: dict[str, list[LeaderboardRow]] = defaultdict(list)
    for row in rows:
        groups[row.base_model_key].append(row)
    if not groups:
        return STYLE + EMPTY
    cards = []
    for key in sorted(groups, key=lambda k: model_name(groups[k]).casefold()):
        members = sorted(
            groups[key], key=lambda r: (not r.is_baseline, -r.bits_per_weight, r.submission_id)
        )
        baseline = next((r for r in members if r.is_baseline), None)
        head = "".join(f'<th title="{esc(HEAD_HELP[h])}">{h}</th>' for h in HEAD)
        body = "".join(_row_html(r, baseline) for r in members)
        cards.append(
            f'<section class="qer-card">{_group_header(members)}'
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></section>"
        )
    return STYLE + f'<div class="qer-cards" id="answer-cards">{"".join(cards)}</div>'


__all__ = ["answer_cards", "model_name", "reading"]
