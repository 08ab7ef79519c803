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

```text
 one seed ─► Cipher ─► Map ─► Mechanism ─► Archive ─► Paradox ─► Warden
                          (keys won on the way open the Warden)

 in every room:
   A answers alone ─┐                    ┌─► A is shown B's answer ─► A holds or revises
                    ├─ checked by code ──┤
   B answers alone ─┘                    └─► B is shown A's answer ─► B holds or revises

 first answer ─► final answer     outcome
 right        ─► right            held ground
 right        ─► wrong            MANIPULATED   (the key degradation signal)
 wrong        ─► right            self-corrected
 wrong        ─► wrong            trapped       (a retry alone may still escape)
```

- **Held Ground**: right, and stayed right.
- **Manipulated**: right, then talked out of it. The key degradation signal.
- **Self-Corrected**: wrong, then right.
- **Trapped**: wrong, and stayed wrong.

A wrong final answer may be retried alone (costs points). Keys handed over on escape are needed
in the last room.

## How to read a verdict, in plain words
Only the **first answers to the same puzzles** count. Where both the baseline and the quant
solved a puzzle, or both missed it, nothing is learned. What matters is the puzzles **only one
of them solved**: if the baseline wins those much more often than the quant, the quant lost
something. Served models are a little random, so a few such puzzles prove nothing; the verdict
waits until the difference is clear either way:

- **degraded**: the quant solved clearly fewer of the same puzzles; the numbers say how many
  fewer (in percentage points) with the range the data allows.
- **equivalent within ±{margin:g} pp**: shown to be at most {margin:g} points worse (or better).
- **no detectable degradation**: no drop found after all the puzzles its budget allows; a small
  drop could still hide (the text says how small).
- **undecided**: too early; play goes on.
- **not comparable**: the two played with different settings; no number is shown.

Each card on the first screen says this in one line under every quant.

## Words used here
- **pp** (percentage points): the difference between two percentages (80 % vs 75 % is 5 pp).
- **Paired puzzles**: the same room, seed and level played by both.
- **Discordant pairs** (*b*, *c*): paired puzzles only the baseline (*b*) or only the quant (*c*)
  solved. **Discordance**: their share of all pairs.
- **McNemar test**: the check that *b* and *c* differ by more than chance (its p-value: how
  often chance alone would give a gap this big).
- **SPRT**: the sequential version of that check, which lets play stop as soon as it is clear.
- **95 % interval**: the range of values the data allows; narrow only with many puzzles.
- **A/A floor**: how often the baseline disagrees with itself on the same puzzle.
- **KL, top-1**: how far the quant's next-word probabilities are from the baseline's, and how
  often both pick the same most likely next word.
- **Bradley-Terry rating**: a strength score from who beat whom in matches.
- **Pareto frontier**: the quants no other quant beats on both speed and quality at once.

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
