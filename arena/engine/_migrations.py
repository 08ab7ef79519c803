"""The database schema as named migrations, applied in order and recorded in
``schema_migrations``, each in its own transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime


def run_script(db: sqlite3.Connection, script: str) -> None:
    """Execute statements one by one inside the caller's transaction (``executescript`` would
    commit first, making a migration non-atomic)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            db.execute(pending)
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in migration: {pending.strip()[:80]!r}")


def m001_initial(db: sqlite3.Connection) -> None:
    run_script(
        db,
        """
        CREATE TABLE contestants (
            id INTEGER PRIMARY KEY,
            base_url TEXT NOT NULL,
            model TEXT NOT NULL,
            base_model TEXT NOT NULL,
            quant TEXT NOT NULL,
            bits_per_weight REAL,
            sampling TEXT NOT NULL,
            has_api_key INTEGER NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE matches (
            id TEXT PRIMARY KEY,
            seed INTEGER NOT NULL,
            difficulty INTEGER NOT NULL,
            adversarial TEXT NOT NULL,
            retries INTEGER NOT NULL,
            scoring_version TEXT NOT NULL,
            room_ids TEXT NOT NULL,
            settings TEXT NOT NULL,
            contestant_a INTEGER NOT NULL REFERENCES contestants(id),
            contestant_b INTEGER REFERENCES contestants(id),
            status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'interrupted')),
            started_at TEXT NOT NULL,
            finished_at TEXT,
            wall_seconds REAL,
            error TEXT,
            summary TEXT
        );
        CREATE INDEX matches_status ON matches(status);
        CREATE TABLE puzzles (
            match_id TEXT NOT NULL REFERENCES matches(id),
            room_index INTEGER NOT NULL,
            room_id TEXT NOT NULL,
            seed INTEGER NOT NULL,
            difficulty INTEGER NOT NULL,
            prompt TEXT NOT NULL,
            solution TEXT NOT NULL,
            key TEXT NOT NULL,
            par_seconds REAL NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (match_id, room_index)
        );
        CREATE TABLE rooms_played (
            match_id TEXT NOT NULL REFERENCES matches(id),
            room_index INTEGER NOT NULL,
            slot TEXT NOT NULL CHECK (slot IN ('a', 'b')),
            room_id TEXT NOT NULL,
            initial_solved INTEGER NOT NULL,
            final_solved INTEGER NOT NULL,
            escaped INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            retries_used INTEGER NOT NULL,
            points INTEGER NOT NULL,
            breakdown TEXT NOT NULL,
            time_to_solution_s REAL,
            tokens_to_solution INTEGER,
            PRIMARY KEY (match_id, room_index, slot)
        );
        CREATE TABLE calls (
            id INTEGER PRIMARY KEY,
            match_id TEXT NOT NULL REFERENCES matches(id),
            room_index INTEGER NOT NULL,
            slot TEXT NOT NULL CHECK (slot IN ('a', 'b')),
            phase TEXT NOT NULL,
            seq INTEGER NOT NULL,
            context_messages INTEGER NOT NULL,
            request_messages TEXT NOT NULL,
            response_text TEXT NOT NULL,
            reasoning_text TEXT,
            parsed_answer TEXT,
            solved INTEGER NOT NULL,
            verdict_reason TEXT NOT NULL,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            reasoning_tokens INTEGER,
            usage_source TEXT,
            finish_reason TEXT,
            ttft_s REAL,
            latency_s REAL,
            decode_tps REAL,
            attempts INTEGER NOT NULL,
            error_kind TEXT,
            error TEXT,
            started_at TEXT NOT NULL,
            UNIQUE (match_id, slot, seq)
        );
        CREATE INDEX calls_match ON calls(match_id, room_index);
        """,
    )


def m002_job_queue(db: sqlite3.Connection) -> None:
    """The scheduler's durable queue and named leases (see ``arena/queue.py``)."""
    run_script(
        db,
        """
        CREATE TABLE job_queue (
            id INTEGER PRIMARY KEY,
            dedupe_key TEXT NOT NULL UNIQUE,
            payload TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
            attempts INTEGER NOT NULL,
            max_attempts INTEGER NOT NULL,
            lease_owner TEXT,
            lease_expires_at REAL,
            match_id TEXT REFERENCES matches(id),
            last_error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX job_queue_status ON job_queue(status, id);
        CREATE TABLE leases (
            name TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            expires_at REAL NOT NULL
        );
        """,
    )


def m003_submissions(db: sqlite3.Connection) -> None:
    """Registered endpoints (see ``submissions/service.py``), submission attempts for the rate
    limit (a salted client hash, never an address), and a small key/value table."""
    run_script(
        db,
        """
        CREATE TABLE submissions (
            id INTEGER PRIMARY KEY,
            display_name TEXT NOT NULL,
            base_model TEXT NOT NULL,
            base_model_key TEXT NOT NULL,
            quant TEXT NOT NULL,
            bits_per_weight REAL NOT NULL,
            file_size_gb REAL,
            hardware TEXT NOT NULL,
            engine TEXT NOT NULL,
            base_url TEXT NOT NULL,
            model TEXT NOT NULL,
            api_key_encrypted BLOB,
            sampling TEXT NOT NULL,
            settings_class TEXT NOT NULL,
            is_baseline INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('active', 'paused', 'deleted')),
            status_reason TEXT,
            deletion_token_hash TEXT NOT NULL,
            client_hash TEXT NOT NULL,
            probe TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX submissions_live_unique
            ON submissions(base_url, model, settings_class) WHERE status != 'deleted';
        CREATE INDEX submissions_base_model ON submissions(base_model_key, status);
        CREATE TABLE submission_attempts (
            client_hash TEXT NOT NULL,
            at REAL NOT NULL
        );
        CREATE INDEX submission_attempts_client ON submission_attempts(client_hash, at);
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
    )


def m004_scheduling(db: sqlite3.Connection) -> None:
    """Links for the scheduler: a contestant played for a submission, a match played for a queued
    job (at most one ``done`` match per job), a submission's run of failed matches, and where a
    submission came from (``form``, ``api`` or ``demo``)."""
    run_script(
        db,
        """
        ALTER TABLE contestants ADD COLUMN submission_id INTEGER REFERENCES submissions(id);
        CREATE INDEX contestants_submission ON contestants(submission_id);
        ALTER TABLE matches ADD COLUMN job_id INTEGER REFERENCES job_queue(id);
        CREATE UNIQUE INDEX matches_one_done_per_job
            ON matches(job_id) WHERE status = 'done' AND job_id IS NOT NULL;
        ALTER TABLE submissions ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE submissions ADD COLUMN source TEXT NOT NULL DEFAULT 'form';
        """,
    )


def m005_imports(db: sqlite3.Connection) -> None:
    """Results imported from other tools (lm-evaluation-harness, llama-bench), attached to a
    submission or to a "reference" entry (a base model + quant with no endpoint). They are shown
    beside escape-room results, marked by source, and never mixed into escape-room scores."""
    run_script(
        db,
        """
        CREATE TABLE reference_entries (
            id INTEGER PRIMARY KEY,
            base_model TEXT NOT NULL,
            base_model_key TEXT NOT NULL,
            quant TEXT NOT NULL,
            bits_per_weight REAL,
            file_size_gb REAL,
            hardware TEXT NOT NULL DEFAULT '',
            engine TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            UNIQUE (base_model_key, quant, hardware, engine)
        );
        CREATE TABLE imported_results (
            id INTEGER PRIMARY KEY,
            submission_id INTEGER REFERENCES submissions(id),
            reference_id INTEGER REFERENCES reference_entries(id),
            source TEXT NOT NULL CHECK (source IN ('lm-eval', 'llama-bench')),
            task TEXT NOT NULL,
            metric TEXT NOT NULL,
            value REAL NOT NULL,
            stderr REAL,
            n INTEGER,
            details TEXT NOT NULL,
            file_sha256 TEXT NOT NULL,
            imported_at TEXT NOT NULL,
            CHECK ((submission_id IS NULL) != (reference_id IS NULL))
        );
        CREATE UNIQUE INDEX imported_results_once ON imported_results(
            file_sha256, task, metric, IFNULL(submission_id, 0), IFNULL(reference_id, 0)
        );
        """,
    )


def m006_probes(db: sqlite3.Connection) -> None:
    """Probe results per submission: the KL probe against its baseline (``kl``) and the solo
    speed probe (``speed``). ``result`` is the probe's JSON result (its own pydantic model);
    ``status`` is ``done``, ``unavailable`` (the server cannot answer this probe) or ``failed``.
    A probe played for a queued job keeps its ``job_id`` (at most one result per job)."""
    run_script(
        db,
        """
        CREATE TABLE probes (
            id INTEGER PRIMARY KEY,
            submission_id INTEGER NOT NULL REFERENCES submissions(id),
            kind TEXT NOT NULL CHECK (kind IN ('kl', 'speed')),
            baseline_id INTEGER REFERENCES submissions(id),
            probe_version TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('done', 'unavailable', 'failed')),
            result TEXT NOT NULL,
            job_id INTEGER REFERENCES job_queue(id),
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL
        );
        CREATE INDEX probes_submission ON probes(submission_id, kind);
        CREATE UNIQUE INDEX probes_one_per_job ON probes(job_id) WHERE job_id IS NOT NULL;
        """,
    )


def m007_profiles(db: sqlite3.Connection) -> None:
    """Difficulty profiles and calibration. ``matches.profile`` is the match's room id -> level
    map (JSON; NULL for matches stored before profiles existed: every room played
    ``matches.difficulty``, which is -1 when a profile mixes levels); ``matches.purpose`` tells
    calibration runs (never scored or paired) from measurements. ``calibrations`` holds one
    calibration per base-model group and baseline: the levels it found, the baseline's solve
    rates per level and the rooms without signal. ``submissions.context_tokens`` is the context
    window the submitter says the endpoint serves (a level whose prompt would not fit is never
    chosen for it)."""
    run_script(
        db,
        """
        ALTER TABLE matches ADD COLUMN profile TEXT;
        ALTER TABLE matches ADD COLUMN purpose TEXT NOT NULL DEFAULT 'measure'
            CHECK (purpose IN ('measure', 'calibration'));
        ALTER TABLE submissions ADD COLUMN context_tokens INTEGER;
        CREATE TABLE calibrations (
            id INTEGER PRIMARY KEY,
            base_model_key TEXT NOT NULL,
            settings_class TEXT NOT NULL,
            baseline_id INTEGER REFERENCES submissions(id),
            status TEXT NOT NULL CHECK (status IN ('running', 'done')),
            method TEXT NOT NULL,
            config TEXT NOT NULL,
            profile TEXT,
            solve_rates TEXT,
            dead_rooms TEXT,
            created_at TEXT NOT NULL,
            finished_at TEXT
        );
        CREATE UNIQUE INDEX calibrations_one_per_baseline
            ON calibrations(base_model_key, settings_class, baseline_id, method, config);
        """,
    )


def m008_server_identity(db: sqlite3.Connection) -> None:
    """What the server says it runs (``arena.client.server_info``): engine, version or build,
    the quant it loaded and its context window; asked at submission (``submissions``) and again
    before every match (``contestants``: what that match really played against). NULL: the
    server did not say."""
    run_script(
        db,
        """
        ALTER TABLE submissions ADD COLUMN server_engine TEXT;
        ALTER TABLE submissions ADD COLUMN server_version TEXT;
        ALTER TABLE submissions ADD COLUMN server_quant TEXT;
        ALTER TABLE submissions ADD COLUMN server_context_tokens INTEGER;
        ALTER TABLE contestants ADD COLUMN server_engine TEXT;
        ALTER TABLE contestants ADD COLUMN server_version TEXT;
        ALTER TABLE contestants ADD COLUMN server_quant TEXT;
        ALTER TABLE contestants ADD COLUMN server_context_tokens INTEGER;
        """,
    )


_BUMP = (
    "INSERT INTO board_versions (base_model_key, version) {rows} "
    "ON CONFLICT (base_model_key) DO UPDATE SET version = version + 1;"
)
"""Raise the board version of the base models in ``rows`` (a VALUES or a SELECT clause)."""
_MATCH_KEYS = (
    "SELECT s.base_model_key, 1 FROM contestants c JOIN submissions s ON s.id = c.submission_id "
    "WHERE c.id IN ({row}.contestant_a, {row}.contestant_b) AND 1"
)
_DONE = "(SELECT status FROM matches WHERE id = {row}.match_id) = 'done'"


def _trigger(name: str, event: str, table: str, when: str | None, *bumps: str) -> str:
    condition = f" WHEN {when}" if when else ""
    body = " ".join(_BUMP.format(rows=rows) for rows in bumps)
    return f"CREATE TRIGGER board_{name} AFTER {event} ON {table}{condition} BEGIN {body} END;"


_M009_SUBMISSION_COLUMNS = (
    "id", "display_name", "base_model", "base_model_key", "quant", "bits_per_weight",
    "file_size_gb", "hardware", "engine", "base_url", "settings_class", "is_baseline", "status",
    "status_reason", "server_engine", "server_version", "server_quant", "server_context_tokens",
)  # fmt: skip
"""The board's submissions columns when ``m009_board_versions`` made its triggers (a migration
never changes: later columns are added by the migration that adds them)."""
_M010_SUBMISSION_COLUMNS = (*_M009_SUBMISSION_COLUMNS, "baseline_review")
"""The board's submissions columns from ``m010_baseline_authority`` on."""
BOARD_SUBMISSION_COLUMNS = _M010_SUBMISSION_COLUMNS
"""The submissions columns a board shows or depends on: only updates of these raise its
version (not ``consecutive_failures``, written after every failed match of a flaky endpoint).
``tests/arena/board/test_versions.py`` makes every new column take a side."""
BOARD_IGNORED_SUBMISSION_COLUMNS = (
    "model", "api_key_encrypted", "sampling", "deletion_token_hash", "client_hash", "probe",
    "created_at", "updated_at", "consecutive_failures", "source", "context_tokens", "owner",
)  # fmt: skip
"""The submissions columns no board reads."""


_SUBMISSION_KEY = "VALUES ({row}.base_model_key, 1)"


def _submission_update_trigger(columns: tuple[str, ...]) -> str:
    """Updates of these submissions columns raise the board of the old and new base model."""
    return _trigger(
        "submission_up",
        "UPDATE OF " + ", ".join(columns),
        "submissions",
        None,
        _SUBMISSION_KEY.format(row="OLD"),
        _SUBMISSION_KEY.format(row="NEW"),
    )


def _board_triggers() -> list[str]:
    """Every write that changes what the leaderboard shows raises the version of the base
    models it touches: submissions, finished matches (and changes to their rooms and calls; a
    finished match's rows are written with or before its status), contestants' links, probes,
    calibrations; imported results raise the global key ``''``."""
    sub = _SUBMISSION_KEY
    probe = "SELECT base_model_key, 1 FROM submissions WHERE id = {row}.submission_id AND 1"
    played = (
        "SELECT s.base_model_key, 1 FROM matches m JOIN contestants c "
        "ON c.id IN (m.contestant_a, m.contestant_b) JOIN submissions s ON s.id = c.submission_id "
        "WHERE m.id = {row}.match_id AND 1"
    )
    done = "NEW.status = 'done' OR OLD.status = 'done'"
    out = [
        _trigger("submission_in", "INSERT", "submissions", None, sub.format(row="NEW")),
        _submission_update_trigger(_M009_SUBMISSION_COLUMNS),
        _trigger("submission_del", "DELETE", "submissions", None, sub.format(row="OLD")),
        _trigger(
            "match_in", "INSERT", "matches", "NEW.status = 'done'", _MATCH_KEYS.format(row="NEW")
        ),
        _trigger("match_up", "UPDATE", "matches", done, _MATCH_KEYS.format(row="NEW")),
        _trigger(
            "match_del", "DELETE", "matches", "OLD.status = 'done'", _MATCH_KEYS.format(row="OLD")
        ),
        _trigger(
            "contestant_up",
            "UPDATE OF submission_id",
            "contestants",
            None,
            probe.format(row="OLD"),
            probe.format(row="NEW"),
        ),
        _trigger("calibration_in", "INSERT", "calibrations", None, sub.format(row="NEW")),
        _trigger("calibration_up", "UPDATE", "calibrations", None, sub.format(row="NEW")),
        _trigger("calibration_del", "DELETE", "calibrations", None, sub.format(row="OLD")),
    ]
    for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        low = event.lower()[:2] if event != "DELETE" else "del"
        out.append(_trigger(f"probe_{low}", event, "probes", None, probe.format(row=row)))
        for table in ("rooms_played", "calls") if event != "INSERT" else ():
            out.append(_trigger(f"{table}_{low}", event, table, _DONE.format(row=row),
                                played.format(row=row)))  # fmt: skip
        for table in ("imported_results", "reference_entries"):
            out.append(_trigger(f"{table}_{low}", event, table, None, "VALUES ('', 1)"))
    return out


_BOARD_INDEXES = """
CREATE INDEX calls_board ON calls(match_id, slot, error_kind, completion_tokens, latency_s,
    ttft_s, finish_reason, reasoning_tokens);
CREATE INDEX rooms_played_board ON rooms_played(match_id, slot, room_index, room_id,
    initial_solved, escaped, outcome, points, time_to_solution_s, tokens_to_solution);
CREATE INDEX matches_started ON matches(started_at);
"""
"""Indexes of the public reads: covering indexes for the board (the numbers of a call or a room
without the long texts stored in the same rows: reading those pages made the calls the slowest
read), and the match list's newest-first order (a page of 50 without sorting every match)."""


def m009_board_versions(db: sqlite3.Connection) -> None:
    """A version per base model (``board_versions``), raised by triggers on every write that
    changes its leaderboard (see ``_board_triggers``): the leaderboard snapshot
    (``arena.board``) recomputes only the groups whose version moved, whoever wrote. And the
    covering indexes of its reads (``_BOARD_INDEXES``)."""
    run_script(
        db,
        "CREATE TABLE board_versions (base_model_key TEXT PRIMARY KEY, "
        "version INTEGER NOT NULL);\n" + "\n".join(_board_triggers()) + _BOARD_INDEXES,
    )


def m010_baseline_authority(db: sqlite3.Connection) -> None:
    """Who set a baseline: ``submissions.baseline_review`` is NULL for a candidate and
    ``pending``, ``confirmed`` or ``demoted`` for a baseline claim. Before it, the lowest-id live
    baseline of a group was its baseline: that one is ``confirmed``; any other live one of the
    same group (an older database could hold two) is demoted, with a line in the history.
    ``baseline_reviews``
    keeps every claim, confirmation and demotion with who made it; ``submissions.owner`` is the
    Hugging Face user who submitted (None: submitted without logging in). The board's update
    trigger watches the new review column."""
    script = """
        ALTER TABLE submissions ADD COLUMN baseline_review TEXT
            CHECK (baseline_review IN ('pending', 'confirmed', 'demoted'));
        ALTER TABLE submissions ADD COLUMN owner TEXT;
        CREATE INDEX submissions_owner ON submissions(owner) WHERE owner IS NOT NULL;
        CREATE TABLE baseline_reviews (
            id INTEGER PRIMARY KEY,
            submission_id INTEGER NOT NULL REFERENCES submissions(id),
            action TEXT NOT NULL CHECK (action IN ('claim', 'confirm', 'demote')),
            actor TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            at TEXT NOT NULL
        );
        UPDATE submissions SET baseline_review = 'confirmed' WHERE is_baseline = 1 AND id = (
            SELECT MIN(s.id) FROM submissions s WHERE s.is_baseline = 1
            AND s.status != 'deleted' AND s.base_model_key = submissions.base_model_key
            AND s.settings_class = submissions.settings_class);
        INSERT INTO baseline_reviews (submission_id, action, actor, note, at)
            SELECT id, 'demote', 'migration m010',
                'a second baseline of its group: the lowest id was the baseline',
                strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
            FROM submissions WHERE is_baseline = 1 AND baseline_review IS NULL
            AND status != 'deleted';
        UPDATE submissions SET baseline_review = 'demoted', is_baseline = 0
            WHERE is_baseline = 1 AND baseline_review IS NULL AND status != 'deleted';
        DROP TRIGGER board_submission_up;
        """
    run_script(db, script + _submission_update_trigger(_M010_SUBMISSION_COLUMNS))


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    m001_initial,
    m002_job_queue,
    m003_submissions,
    m004_scheduling,
    m005_imports,
    m006_probes,
    m007_profiles,
    m008_server_identity,
    m009_board_versions,
    m010_baseline_authority,
)
"""Applied in order; each applied name is recorded in ``schema_migrations``."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply pending migrations; return the names applied now."""
    db.execute("PRAGMA journal_mode = WAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
    )
    done = {row[0] for row in db.execute("SELECT name FROM schema_migrations")}
    applied = []
    for migration in MIGRATIONS:
        if migration.__name__ in done:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            migration(db)
            db.execute(
                "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                (migration.__name__, now()),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        applied.append(migration.__name__)
    return applied
