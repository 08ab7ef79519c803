"""Quant Escape Room: the web app (a thin Gradio layer over ``arena`` and ``rooms``).

This is the engine-stage app: it shows the rooms and the matches stored by ``python -m arena
match``. Submissions, the scheduler, the leaderboard and the charts come with the Space issue.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import gradio as gr
import pandas as pd

from arena.store import Store
from rooms import load_rooms

DB_PATH = Path(os.environ.get("QER_DB", "data/arena.sqlite3"))

INTRO = """# Quant Escape Room
How much quality did you trade for that speed when you picked this quantization?
Two quants of the same model play the same seeded six-room escape room, see each other's
answers and may hold or revise. Play a match from a terminal:

```
python -m arena match --a http://127.0.0.1:8080/v1 --b http://127.0.0.1:8081/v1
```
"""


def rooms_table() -> pd.DataFrame:
    rows = [
        {"order": i + 1, "room": room.name, "id": room.id, "what": (room.__doc__ or "").strip()}
        for i, room in enumerate(load_rooms().values())
    ]
    return pd.DataFrame(rows)


MATCH_COLUMNS = [
    "started", "status", "contestant A", "contestant B", "seed", "difficulty", "mode",
    "A escaped / score", "B escaped / score",
]  # fmt: skip


def matches_table(store: Store, limit: int = 50) -> pd.DataFrame:
    rows = store.query(
        "SELECT m.id, m.status, m.started_at, m.seed, m.difficulty, m.adversarial, m.summary, "
        "a.base_model || ' ' || a.quant AS a_name, b.base_model || ' ' || b.quant AS b_name "
        "FROM matches m JOIN contestants a ON a.id = m.contestant_a "
        "LEFT JOIN contestants b ON b.id = m.contestant_b ORDER BY m.started_at DESC LIMIT ?",
        (limit,),
    )
    table = []
    for row in rows:
        summary = json.loads(row["summary"] or "{}")
        table.append(
            {
                "started": row["started_at"],
                "status": row["status"],
                "contestant A": row["a_name"],
                "contestant B": row["b_name"] or "(solo)",
                "seed": row["seed"],
                "difficulty": row["difficulty"],
                "mode": row["adversarial"],
                "A escaped / score": _cell(summary.get("a")),
                "B escaped / score": _cell(summary.get("b")),
            }
        )
    return pd.DataFrame(table, columns=MATCH_COLUMNS)


def _cell(summary: dict | None) -> str:
    if not summary:
        return ""
    return f"{summary['escaped']}/{summary['rooms']}, {summary['score']:+d}"


def build_app(store: Store) -> gr.Blocks:
    with gr.Blocks(title="Quant Escape Room") as demo:
        gr.Markdown(INTRO)
        with gr.Tab("Matches"):
            empty = gr.Markdown("No matches yet: play one with `python -m arena match ...`.")
            table = gr.Dataframe(value=matches_table(store), interactive=False, max_height=600)
            refresh = gr.Button("Refresh")

            def reload() -> tuple[pd.DataFrame, gr.Markdown]:
                frame = matches_table(store)
                return frame, gr.Markdown(visible=frame.empty)

            refresh.click(reload, outputs=[table, empty])
            demo.load(reload, outputs=[table, empty])
        with gr.Tab("Rooms"):
            gr.Dataframe(value=rooms_table(), interactive=False)
    return demo


def main() -> None:
    parser = argparse.ArgumentParser(description="Quant Escape Room web app")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--db", type=Path, default=DB_PATH)
    args = parser.parse_args()
    store = Store(args.db)
    build_app(store).launch(server_name=args.host, server_port=args.port)


if __name__ == "__main__":
    main()
