"""`sentpipe demo`: run the pipeline offline against the bundled fake Reddit and HN APIs."""

from __future__ import annotations

from typing import Annotated

import typer

from sentiment_pipeline.cli.console import print_json
from sentiment_pipeline.cli.state import settings_from


def demo(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run result as JSON.")] = False,
) -> None:
    """Run the whole pipeline offline against the bundled fake Reddit and Hacker News APIs.

    Scrapes a few generated subreddits through the real asyncpraw code path and two
    generated HN story lists through the real HN client into the database (embedded
    SQLite unless SENTPIPE_DATABASE_URL is set) and CSV files, scores what was stored
    (VADER) and ends with the daily sentiment report per subreddit and HN story kind.
    """

    from sentiment_pipeline.cli.console import is_terminal, log, out_console
    from sentiment_pipeline.cli.scrape import ScrapeProgress, render_hn, render_scrape
    from sentiment_pipeline.demo import run_demo

    settings = settings_from(ctx)
    if not as_json:
        log(
            "Starting the bundled fake Reddit and Hacker News APIs on 127.0.0.1 "
            "(test doubles, no network)"
        )
    with ScrapeProgress(enabled=not as_json):
        outcome = run_demo(settings)
    code = max(int(outcome.run.exit_code), int(outcome.hn.exit_code) if outcome.hn else 0)
    if as_json:
        data = outcome.run.to_dict()
        data["totals"] = [
            {"source_id": s, "event_type": e, "rows": n} for (s, e), n in outcome.totals.items()
        ]
        data["hackernews"] = None if outcome.hn is None else outcome.hn.to_dict()
        data["hn_totals"] = [
            {"source_id": s, "event_type": e, "rows": n} for (s, e), n in outcome.hn_totals.items()
        ]
        data["sentiment"] = (
            None
            if outcome.scores is None or outcome.report is None
            else {"score": outcome.scores.to_dict(), "report": outcome.report.to_dict()}
        )
        print_json(data)
        raise typer.Exit(code)
    render_scrape(outcome.run)
    if outcome.hn is not None:
        render_hn(outcome.hn)
    lines = [f"  r/{s} {e}s: {n:,}" for (s, e), n in sorted(outcome.totals.items())]
    hn_lines = [
        f"  HN {s} threads, {e} items: {n:,}" for (s, e), n in sorted(outcome.hn_totals.items())
    ]
    total = sum(outcome.totals.values())
    hn_total = sum(outcome.hn_totals.values())
    summary = [
        f"Stored in {outcome.database}: {total:,} Reddit events",
        *lines,
        f"and {hn_total:,} Hacker News events",
        *hn_lines,
        f"CSV files under {outcome.csv_dir}",
        "Run `sentpipe demo` again: it is incremental, so it finds nothing new.",
        "These events are generated, not real: before collecting for real, give the demo "
        "its own SENTPIPE_DATA_DIR, or remove the data dir's sentpipe.db and csv/ "
        "(docs/cli.md, `sentpipe demo`).",
    ]
    if is_terminal():
        out_console.print("\n".join(summary))
    else:
        for line in summary:
            log(line)
    if outcome.scores is not None and outcome.report is not None:
        from sentiment_pipeline.cli.sentiment import render_report, render_score

        out_console.print()
        render_score(outcome.scores)
        render_report(outcome.report)
        out_console.print(
            "More: `sentpipe sentiment report --bucket 1h`, `--plot chart.png`, "
            "`sentpipe export csv --columns id,text,sentiment_compound,sentiment_label`.",
            markup=False,
        )
    raise typer.Exit(code)
