"""`sentpipe sentiment score|report`: thin typer layer over sentiment_pipeline.sentiment."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from sentiment_pipeline.cli.console import print_json
from sentiment_pipeline.cli.options import Sources
from sentiment_pipeline.cli.service import Every, Jitter, MetricsFile, Outcome, serve
from sentiment_pipeline.cli.state import settings_from
from sentiment_pipeline.cli.topic_options import TopicNames, Via, ViaOption

app = typer.Typer(
    help="Score stored events (VADER or an ONNX model), report sentiment per subreddit, "
    "HN story kind, topic or language, and evaluate a model against hand labels.",
    no_args_is_help=True,
)

_SPARK = "▁▂▃▄▅▆▇█"

Subreddits = Annotated[
    list[str] | None,
    typer.Option(
        "--subreddit",
        "--source-id",
        metavar="NAME",
        help="Only this subreddit, in any case, r/ or not (repeatable).",
    ),
]
Since = Annotated[
    str | None,
    typer.Option(
        metavar="WHEN", help="From this UTC date/time on (2024-01-31, 2024-01-31T12:00Z, 7d)."
    ),
]
Until = Annotated[
    str | None, typer.Option(metavar="WHEN", help="Before this UTC date/time (same forms).")
]
Model = Annotated[
    str, typer.Option(metavar="MODEL", help="Sentiment model: vader, or onnx:DIR (a folder).")
]


class By(StrEnum):
    source = "source"
    subreddit = "subreddit"
    topic = "topic"
    language = "language"


@app.command("score")
def score(
    ctx: typer.Context,
    model: Model = "vader",
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, metavar="N", help="Events per transaction.")
    ] = 500,
    max_events: Annotated[
        int | None, typer.Option(min=1, metavar="N", help="Stop after this many events.")
    ] = None,
    max_duration: Annotated[
        str | None, typer.Option(metavar="DURATION", help="Stop after this long (30m, 2h).")
    ] = None,
    subreddit: Subreddits = None,
    since: Since = None,
    until: Until = None,
    rescore: Annotated[
        bool,
        typer.Option("--rescore", help="Score again events already processed (see docs)."),
    ] = False,
    workers: Annotated[
        int, typer.Option(min=1, max=64, metavar="N", help="Worker processes (PostgreSQL).")
    ] = 1,
    wait: Annotated[
        bool, typer.Option("--wait", help="SQLite: wait for a running scorer instead of exit 4.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The result as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be scored; write nothing.")
    ] = False,
    language: Annotated[
        list[str] | None,
        typer.Option(
            metavar="CODE",
            help="Score texts in this language (en, es; repeatable; 'any' for all). "
            "Default: the model's languages.",
        ),
    ] = None,
    every: Every = None,
    jitter: Jitter = None,
    metrics_file: MetricsFile = None,
) -> None:
    """Score every unprocessed event and mark it processed, one transaction per batch.

    With --every: score what arrived, again and again, until SIGTERM/SIGINT (then 0).
    """

    from sentiment_pipeline.sentiment import ScoreOptions, score_events
    from sentiment_pipeline.sentiment.language import check_languages
    from sentiment_pipeline.timeparse import parse_duration, parse_moment

    settings = settings_from(ctx)
    options = ScoreOptions(
        model=model,
        batch_size=batch_size,
        max_events=max_events,
        max_duration=(
            parse_duration(max_duration, "--max-duration").total_seconds() if max_duration else None
        ),
        source_ids=tuple(subreddit or ()),
        since=parse_moment(since, "--since") if since else None,
        until=parse_moment(until, "--until") if until else None,
        rescore=rescore,
        workers=workers,
        dry_run=dry_run,
        languages=check_languages(language or (), "--language", allow_any=True),
        threads=settings.scorer_threads,
    )

    def run_once(stop: Any) -> Outcome:
        from sentiment_pipeline.cli.render import catch_up_first
        from sentiment_pipeline.service import RunFigures

        caught = None if dry_run else catch_up_first(settings, quiet=quiet or as_json)
        with _Progress(enabled=not (quiet or as_json or dry_run)) as progress:
            result = score_events(
                settings.database,
                options,
                lock_path=settings.data_dir / "sentiment.lock",
                wait=wait,
                progress=progress,
                stop=None if stop is None else stop.is_set,
                migrate=settings.embedded_database,
            )
        if result.scored == 0 and not (rescore or dry_run):
            from sentiment_pipeline.sentiment.counts import other_model_note

            note = other_model_note(settings.database, model, result.model)
            result.notes.extend([note] if note else [])
        if as_json:
            print_json(result.to_dict())
        elif not quiet:
            render_score(result)
        figures = RunFigures(
            {
                "events_scored": result.scored,
                "events_skipped": result.skipped,
                "events_skipped_language": result.tally.language,
            }
        )
        return Outcome(0 if caught is None else int(caught.exit_code), figures)

    serve(
        ctx,
        "sentiment_score",
        run_once,
        every=every,
        jitter=jitter,
        metrics_file=metrics_file,
        metrics_dir=settings.metrics_dir,
        quiet=quiet,
        database=None if dry_run else settings.database,  # a dry run records nothing
    )


def render_score(result: Any) -> None:
    """The one-paragraph summary of a `ScoreResult` (notes first), on standard output;
    timestamped like every other line when it is not a terminal (cron logs)."""
    from sentiment_pipeline.cli.console import is_terminal, print_line

    stamp = "" if is_terminal() else datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ ")
    for note in result.notes:
        print_line(f"{stamp}Note: {note}")
    if result.dry_run:
        print_line(f"{stamp}Dry run: {result.waiting:,} events would be scored by {result.model}.")
    else:
        print_line(
            f"{stamp}Scored {result.scored:,} events, skipped {result.skipped:,} "
            f"({result.tally.no_text:,} no text, {result.tally.language:,} language) "
            f"with {result.model} in {result.seconds:.1f} s "
            f"({result.events_per_second:,.0f}/s, {result.workers} worker"
            f"{'' if result.workers == 1 else 's'}); {result.waiting:,} still waiting."
        )


class _Progress:
    """A rich progress line on a terminal; a timestamped line every 30 s otherwise."""

    def __init__(self, enabled: bool) -> None:
        from sentiment_pipeline.cli.console import is_terminal

        self.enabled = enabled
        self.rich = enabled and is_terminal()
        self.scored = self.skipped = 0
        self._last = time.monotonic()
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if self.rich:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            from sentiment_pipeline.cli.console import err_console

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn(
                    "scoring: {task.fields[scored]:,} scored, {task.fields[skipped]:,} skipped"
                ),
                TimeElapsedColumn(),
                console=err_console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("score", scored=0, skipped=0)
        return self

    def __call__(self, scored: int, skipped: int) -> None:
        self.scored += scored
        self.skipped += skipped
        if self._progress is not None:
            self._progress.update(self._task, scored=self.scored, skipped=self.skipped)
        elif self.enabled and time.monotonic() - self._last >= 30:
            from sentiment_pipeline.cli.console import log

            self._last = time.monotonic()
            log(f"scoring: {self.scored:,} scored, {self.skipped:,} skipped so far")

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


@app.command("report")
def report(
    ctx: typer.Context,
    model: Annotated[
        str,
        typer.Option(metavar="MODEL", help="Whose scores: vader, onnx:DIR or a stored model id."),
    ] = "vader",
    bucket: Annotated[str, typer.Option(metavar="[1h|1d|7d]", help="Bucket width (UTC).")] = "1d",
    source: Sources = None,
    subreddit: Subreddits = None,
    since: Since = None,
    until: Until = None,
    topic: TopicNames = None,
    via: ViaOption = Via.any,
    by: Annotated[
        list[By] | None,
        typer.Option(
            help="Group per subreddit (the default: per source id, an HN story kind "
            "for Hacker News), per source (reddit, hackernews), per topic (an event in "
            "two topics counts in both), per language of the text, or several (repeat --by).",
        ),
    ] = None,
    language: Annotated[
        list[str] | None,
        typer.Option(metavar="CODE", help="Only texts in this language (en, es; repeatable)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="The figures as JSON (shape in docs/sentiment.md).")
    ] = False,
    plot: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE.png|FILE.svg",
            dir_okay=False,
            help="Also draw net sentiment and mean compound per bucket per group, with "
            "95% intervals and the events per bucket (needs sentpipe[plot]).",
        ),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE.html",
            help="Also write the report as one self-contained HTML page: filters, chart, "
            "figures with 95% intervals, most positive and negative events (needs "
            "sentpipe[plot]).",
        ),
    ] = None,
) -> None:
    """Per subreddit (or topic) per bucket: events scored, mean compound, label shares."""
    from sentiment_pipeline.cli.console import print_line
    from sentiment_pipeline.sentiment import sentiment_report
    from sentiment_pipeline.timeparse import parse_moment

    settings = settings_from(ctx)
    _check_outputs(plot, html)
    result = sentiment_report(
        settings.database,
        model=model,
        bucket=bucket,
        since=parse_moment(since, "--since") if since else None,
        until=parse_moment(until, "--until") if until else None,
        source_ids=tuple(subreddit or ()),
        topics=tuple(topic or ()),
        via=via.value,
        by=tuple(b.value for b in by or [By.subreddit]),
        sources=tuple(source or ()),
        languages=tuple(language or ()),
    )
    written = _write_outputs(settings.database, result, plot, html)
    if as_json:
        print_json(result.to_dict())
        return
    render_report(result)
    for path in written:
        print_line(f"Wrote {path}")


def _same_file(one: Path, other: Path) -> bool:
    """Whether two paths name one file: the same resolved path (`./a`, `b/../a`,
    symlinks followed), or, both existing, the same inode (a hard link)."""
    try:
        if one.resolve() == other.resolve():
            return True
        return one.exists() and other.exists() and one.samefile(other)
    except (OSError, RuntimeError):  # a symlink loop: compared as written
        return one.absolute() == other.absolute()


def _check_outputs(plot: Path | None, html: Path | None) -> None:
    """The --plot and --html checks (format, matplotlib, one file each) before the
    report's query. Raises ConfigError."""
    from sentiment_pipeline.errors import ConfigError

    if plot is not None and html is not None and _same_file(plot, html):
        raise ConfigError(
            f"--plot {plot} and --html {html} are the same file", "give each its own file"
        )
    if plot is not None:
        from sentiment_pipeline.sentiment.plot import check_plot_path

        check_plot_path(plot)
    if html is not None:
        from sentiment_pipeline.sentiment.html import check_html_path

        check_html_path(html)


def _write_outputs(database: Any, result: Any, plot: Path | None, html: Path | None) -> list[Path]:
    """Draw --plot and write --html; the paths written."""
    written: list[Path] = []
    if plot is not None:
        from sentiment_pipeline.sentiment.plot import plot_report

        plot_report(result, plot)
        written.append(plot)
    if html is not None:
        from sentiment_pipeline.sentiment.html import write_html_report

        write_html_report(database, result, html)
        written.append(html)
    return written


def _spark(values: list[float]) -> str:
    return "".join(_SPARK[min(7, max(0, round((v + 1) / 2 * 7)))] for v in values)


def render_report(result: Any) -> None:
    """A `SentimentReport`: a rich table with a sparkline per group (a subreddit, a topic)
    on a terminal, tab-separated rows otherwise."""
    from sentiment_pipeline.cli import console

    if not result.rows:
        console.print_line(_empty_note(result))
        return
    if not console.is_terminal():
        _render_rows(result)
        return
    console.out_console.print(_table(result))


def _empty_note(result: Any) -> str:
    """Why a report has no rows: no scores, or no scored event linked to the topics; and
    where the model's scores under an older cleaning's id are, if any."""
    note = _empty_reason(result)
    if result.older:
        ids = ", ".join(result.older)
        note += (
            f" Scores under {ids} (an older text cleaning, docs/sentiment.md) are stored: "
            f"`sentpipe sentiment score --rescore` scores those events again as "
            f"{result.model}, `--model {result.older[0]}` reports them."
        )
    return note


def _empty_reason(result: Any) -> str:
    if result.topics:
        names = ", ".join(result.topics)
        return (
            f"No scores for {result.model} of events in topic {names} in this range "
            "(`sentpipe stats` lists the topics with events)."
        )
    if "topic" in result.by:
        return (
            f"No scores for {result.model} of events linked to a topic in this range: "
            "`sentpipe topics list` shows the topics and their links, `sentpipe topics "
            "match` links stored events to them."
        )
    given = [
        name
        for name, value in (
            ("--since", result.since),
            ("--until", result.until),
            ("--source", result.sources),
            ("--subreddit", result.source_ids),
            ("--language", result.languages),
        )
        if value
    ]
    if given:  # the filters, not a missing score run, may be why
        return (
            f"No scores for {result.model} match {', '.join(given)}: `sentpipe stats` "
            "shows what is stored and scored (sources, subreddits, first and last event)."
        )
    return f"No scores for {result.model}: run `sentpipe sentiment score`."


def _render_rows(result: Any) -> None:
    """Tab-separated rows: the group columns (source_id, topic), then the figures; written
    as is (rich would expand the tabs to spaces)."""
    from sentiment_pipeline.cli.console import print_line
    from sentiment_pipeline.sentiment.report import NOT_DETECTED, ReportRow

    keys = [
        k
        for k, name in (("source_id", "subreddit"), ("topic", "topic"), ("language", "language"))
        if name in result.by
    ]
    if ("source" in result.by and "subreddit" not in result.by) or result.mixed():
        keys.insert(0, "source")  # a source id alone would be ambiguous
    figures = ["bucket_start", "events", "mean_compound", "positive", "neutral", "negative"]
    lines = ["\t".join([*keys, *figures, "net_sentiment"])]
    fields = [ReportRow._fields.index(key) for key in keys]
    language = ReportRow._fields.index("language")
    starts: dict[Any, str] = {}  # a year of daily rows has 365 bucket starts
    for row in result.rows:
        start = starts.get(row.bucket)
        if start is None:
            start = starts[row.bucket] = row.bucket.isoformat()
        head = "".join(
            f"{row[i] or NOT_DETECTED}\t" if i == language else f"{row[i]}\t" for i in fields
        )
        lines.append(
            f"{head}{start}\t{row.events}\t{row.mean_compound:.4f}\t{row.positive:.4f}"
            f"\t{row.neutral:.4f}\t{row.negative:.4f}\t{row.net_sentiment:.4f}"
        )
    print_line("\n".join(lines))  # one write: a year of rows is tens of thousands of lines


def _table(result: Any) -> Any:
    """The terminal table: one line per group, with a sparkline of mean compound."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, title=f"Sentiment per {result.bucket} · {result.model}")
    label = result.group_heading()
    groups = result.by_group()
    widest = max(len(group) for group in groups)
    for name in (label, "buckets", "events", "mean compound", "pos", "neu", "neg", "trend"):
        if name == label:  # a group's name is never cut; the trend gives way first
            table.add_column(name, no_wrap=True, min_width=min(widest, 40))
        else:
            table.add_column(name, justify="left" if name == "trend" else "right")
    for group, rows in groups.items():
        events = sum(r.events for r in rows)
        mean = sum(r.mean_compound * r.events for r in rows) / events
        share = [
            sum(getattr(r, k) * r.events for r in rows) / events
            for k in ("positive", "neutral", "negative")
        ]
        table.add_row(
            group,
            str(len(rows)),
            f"{events:,}",
            f"{mean:+.3f}",
            *(f"{s:.0%}" for s in share),
            _spark([r.mean_compound for r in rows[-40:]]),
        )
    return table


@app.command("eval")
def evaluate(
    ctx: typer.Context,
    labels: Annotated[
        Path,
        typer.Option(
            "--labels",
            metavar="FILE.csv",
            dir_okay=False,
            help="id,label (stored events) or text,label (free texts) with labels positive, "
            "neutral or negative; a `sentiment sample` file once labelled.",
        ),
    ],
    model: Annotated[
        list[str] | None,
        typer.Option(
            metavar="MODEL",
            help="A model: vader, onnx:DIR or, for id,label, a stored model id "
            "such as vader-3.3.2 (repeatable; default: vader).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="The figures as JSON (shape in docs/sentiment.md).")
    ] = False,
) -> None:
    """Compare models with a person's labels: accuracy, macro-F1, per-class precision and
    recall, confusion matrix, Cohen's kappa (each model with the labels, and each pair)."""

    from sentiment_pipeline.sentiment.evaluate import evaluate_labels

    settings = settings_from(ctx)
    result = evaluate_labels(
        settings.database, labels, tuple(model or ("vader",)), threads=settings.scorer_threads
    )
    if as_json:
        print_json(result.to_dict())
        return
    render_eval(result)


def render_eval(result: Any) -> None:
    """An `EvalResult` as plain lines: the counts, then per model its figures and
    confusion matrix, then the kappa of each pair of models."""
    from sentiment_pipeline.cli.console import print_line
    from sentiment_pipeline.sentiment.eval import LABELS

    counts = ", ".join(f"{result.label_counts.get(label, 0)} {label}" for label in LABELS)
    rows = "row" if result.labelled == 1 else "rows"
    print_line(f"{result.path}: {result.labelled:,} labelled {rows} ({counts}).")
    if result.unlabelled:
        print_line(f"Not labelled yet (left out): {result.unlabelled:,} rows.")
    if result.missing:
        print_line(
            f"Not stored (left out): {result.missing:,} id{'' if result.missing == 1 else 's'}."
        )
    for m in result.models:
        figures = m.metrics
        print_line("")
        print_line(
            f"{m.model}: {figures.items:,} items, {m.unscored:,} unscored; accuracy "
            f"{figures.accuracy:.3f}, macro-F1 {figures.macro_f1:.3f}, "
            f"kappa with the labels {figures.kappa:.3f}"
        )
        print_line(f"  {'class':<10} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}")
        for c in figures.classes:
            print_line(
                f"  {c.label:<10} {c.precision:>9.3f} {c.recall:>7.3f} {c.f1:>6.3f} {c.support:>8,}"
            )
        print_line(f"  {'label/model':<14}" + "".join(f"{label:>10}" for label in LABELS))
        for label, row in zip(LABELS, figures.confusion, strict=True):
            print_line(f"  {label:<14}" + "".join(f"{n:>10,}" for n in row))
    if result.pairs:
        print_line("")
    for pair in result.pairs:
        print_line(f"kappa {pair.first} vs {pair.second}: {pair.kappa:.3f} ({pair.items:,} items)")


@app.command("sample")
def sample(
    ctx: typer.Context,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            metavar="FILE.csv",
            dir_okay=False,
            help="Where to write the sample (- for standard output).",
        ),
    ],
    n: Annotated[
        int, typer.Option("--n", min=1, max=1_000_000, metavar="N", help="Events to draw.")
    ] = 500,
    model: Annotated[
        str,
        typer.Option(
            metavar="MODEL",
            help="Whose scores: vader, onnx:DIR or a stored model id (vader-3.3.2).",
        ),
    ] = "vader",
    since: Since = None,
    until: Until = None,
    seed: Annotated[
        int, typer.Option(metavar="N", help="Seed: the same seed draws the same sample.")
    ] = 0,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="The strata and counts as JSON (docs/sentiment.md).")
    ] = False,
) -> None:
    """Draw a stratified sample of scored events (per source, source id and predicted
    label) into a CSV file with an empty label column, to label and give to `eval`."""
    import sys

    from sentiment_pipeline.cli.console import print_line
    from sentiment_pipeline.export import _refuse_existing
    from sentiment_pipeline.sentiment.sample import sample_events, write_sample
    from sentiment_pipeline.timeparse import parse_moment

    to_stdout = str(out) == "-"
    if not to_stdout:
        _refuse_existing([out], force)  # before reading anything
    result = sample_events(
        settings_from(ctx).database,
        n,
        model=model,
        since=parse_moment(since, "--since") if since else None,
        until=parse_moment(until, "--until") if until else None,
        seed=seed,
    )
    write_sample(sys.stdout.buffer if to_stdout else out, result.rows, force=True)
    result.path = str(out)
    if as_json:  # with -o -, the CSV is standard output: the JSON goes to standard error
        print_json(result.to_dict(), stderr=to_stdout)
        return
    print_line(
        f"Wrote {len(result.rows):,} of {result.population:,} events scored by "
        f"{result.model} from {len(result.strata):,} strata to "
        f"{'standard output' if to_stdout else out} (seed {seed}); "
        "fill its label column, then `sentpipe sentiment eval --labels` it.",
        stderr=to_stdout,
    )


@app.command("rollup")
def rollup(
    ctx: typer.Context,
    rebuild: Annotated[
        bool,
        typer.Option(
            "--rebuild",
            help="Recompute the daily rollup from the scores (after rows were written "
            "around sentpipe; scorers wait meanwhile).",
        ),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            metavar="WHEN",
            help="With --rebuild: only the UTC days from this date/time's on (2024-01-31, 30d).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The state as JSON.")] = False,
) -> None:
    """What the daily rollup reports read holds; --rebuild recomputes it."""

    from sentiment_pipeline.cli.console import out_console
    from sentiment_pipeline.errors import ConfigError
    from sentiment_pipeline.sentiment.rollup import rebuild_rollup, rollup_state
    from sentiment_pipeline.timeparse import parse_moment

    settings = settings_from(ctx)
    if since is not None and not rebuild:
        raise ConfigError("--since only applies to --rebuild", "add --rebuild, or drop --since")
    moment = parse_moment(since, "--since") if since else None
    state = (
        rebuild_rollup(settings.database, moment) if rebuild else rollup_state(settings.database)
    )
    if as_json:
        print_json(state.to_dict())
        return
    days = f"{state.first_day} to {state.last_day}" if state.first_day is not None else "no days"
    line = f"sentiment_daily: {state.rows:,} rows, {days}, models: {', '.join(state.models) or '-'}"
    if state.rebuilt:
        start = f"from {state.since}" if state.since is not None else "every day"
        line = f"Rebuilt {start} in {state.seconds:.1f} s. {line}"
    out_console.print(line, markup=False)
