"""The web app's fixed texts: its title, the intro above the tabs and the About page."""

from __future__ import annotations

from arena.analysis import equivalence_margin
from arena.engine import SCORE_TABLE, SCORING_VERSION
from arena.settings import current
from rooms import load_rooms

TITLE = "Quant Escape Room"
"""The app's name: the page title, the API title and the intro's heading."""

INTRO = f"""# {TITLE}
**How much quality did you trade for that speed when you picked this quantization?**
Quants of the same base model play the same seeded six-room escape room, see each other's
answers and may hold or revise. Register your OpenAI-compatible endpoint in the *Submit* tab.
"""
"""Shown above the tabs."""


def about_markdown() -> str:
    """The About tab: how a match works, the rooms, the scoring table, how to read the charts
    and verdicts, and what is kept private."""
    rooms = "\n".join(
        f"{i}. **{room.name}** (`{room.id}`): {(room.__doc__ or '').strip().splitlines()[0]}"
        for i, room in enumerate(load_rooms().values(), 1)
    )
    points = "\n".join(
        f"| {rule.replace('_', ' ')} | {value:+d} |" for rule, value in SCORE_TABLE.items()
    )
    margin = round(100 * equivalence_margin(), 2)
    target = round(100 * current().scheduler.calibration_target, 1)
    return f"""## How a match works
Two quants of the same base model (same sampling settings) play six rooms in order, generated
from one seed so both see the same puzzles. Every answer is checked by code, never by an LLM.
After its first answer in a room each model is shown the other's answer and may revise or hold:

- ✅ **Held Ground**: right, and stayed right.
- ⚠️ **Manipulated**: right, then talked out of it. The key degradation signal.
- 🔁 **Self-Corrected**: wrong, then right.
- 🪤 **Trapped**: wrong, and stayed wrong.

A wrong final answer may be retried alone (costs points). Keys handed over on escape are needed
in the last room.

## The rooms
{rooms}

## Scoring (`{SCORING_VERSION}`)
| rule | points |
|---|---|
{points}

## Reading the charts and verdicts
- **Retention %**: a quant's first answers solved as a share of its baseline's, on **paired
  puzzles** only (the same room, seed and difficulty, played by both under the same settings),
  with a 95 % bootstrap interval over seeds. The baseline is the submission marked
  "full-precision baseline" for its base model.
- **Pareto frontier**: x is generation speed from the solo **speed probe** (llama-bench style,
  5 repetitions, mean ± sd; a point without a probe yet uses its matches' speed and says so), y is
  retention. Points on the gold line are not beaten on both at once by any other submission.
  Each base model has its own colour.
- **Bang per bit**: retention against file size and bits per weight (one panel per room), and
  speed against size.
- **Verdict** (leaderboard and *Verdicts* tab): flips both ways on paired puzzles are noise;
  flips one way are degradation (exact McNemar test, decided sequentially by an SPRT, so the
  scheduler stops a pair once it is clear). `degraded` gives the drop with its interval;
  `equivalent within ±{margin:g} pp` means the 95 % interval of the candidate's solve rate
  minus the baseline's lies entirely between -{margin:g} and +{margin:g} percentage points, so
  any loss is shown to be smaller than {margin:g} pp (not merely not found);
  `no detectable degradation at n=…` says how small a drop that many pairs could have shown;
  `NOT COMPARABLE` names the setting that differs and shows no number.
- **Calibration and difficulty profiles**: a *difficulty profile* gives every room its own
  level (0 to 10), chosen per base model by calibrating its baseline first, in solo runs that are
  never scored or counted on the leaderboard. The target is a {target:g} % baseline solve rate in
  every room, because a quant's losses show up as puzzles the baseline solves and the quant
  misses, and those are most frequent when the baseline solves a room a little more than half
  the time (a room far too easy or too hard for the baseline is just as easy or hard for its
  quants). "No signal" marks a room the baseline (almost) never solves even at level 0, or
  (almost) always solves at its hardest level: it cannot tell quants apart, so verdicts leave it
  out and name it.
- **A/A floor**: how often two plays of the same puzzle by the baseline itself disagree (served
  models are nondeterministic). A candidate's discordance is shown against it.
- **KL / top-1**: the KL probe compares next-token distributions of the candidate and the
  baseline on a fixed text set (approximate KL over the top-k tokens, nats per token) and how
  often their most likely token agrees. "probe unavailable" means the server offers no logprobs.
- **Truncation canary**: a quant that hits the token cap significantly more often than its
  baseline (Fisher exact test) is flagged: it rambles or loops instead of answering.
- **Ratings and contagion** (*Verdicts* tab): Bradley-Terry ratings over matches per base model,
  and how often each quant is talked out of a right answer by each other quant.
- **Tiers**: `smoke`, `standard` and `full` fix the seed list and counts; tiers compare with
  themselves only.
- Small samples swing a lot: read the intervals and the counts, not just the points.

## Privacy
Endpoint URLs, API keys and deletion tokens are never shown or published; API keys are
encrypted at rest. The REST API is documented at [`/docs`](/docs).
"""
