"""`sentpipe demo`: run the pipeline offline against the bundled fake Reddit API."""

from __future__ import annotations

from typing import Annotated

import typer

from sentiment_pipeline.cli.state import settings_from


def demo(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run result as JSON.")] = False,
) -> None:
    """Run the whole pipeline offline against the bundled fake Reddit API.

    Scrapes a few generated subreddits through the real asyncpraw code path into the
    database (embedded SQLite unless SENTPIPE_DATABASE_URL is set) and CSV files, scores
    what was stored (VADER) and ends with the per-subreddit daily sentiment report.
    """
    import json

    from sentiment_pipeline.cli.console import is_terminal, log, out_console
    from sentiment_pipeline.cli.scrape import ScrapeProgress, render_scrape
    from sentiment_pipeline.demo import run_demo

    settings = settings_from(ctx)
    if not as_json:
        log("Starting the bundled fake Reddit API on 127.0.0.1 (a test double, no network)")
    with ScrapeProgress(enabled=not as_json):
        outcome = run_demo(settings)
    if as_json:
        data = outcome.run.to_dict()
        data["totals"] = [
            {"source_id": s, "event_type": e, "rows": n} for (s, e), n in outcome.totals.items()
        ]
        data["sentiment"] = (
            None
            if outcome.scores is None or outcome.report is None
            else {"score": outcome.scores.to_dict(), "report": outcome.report.to_dict()}
        )
        out_console.print_json(json.dumps(data))
        raise typer.Exit(int(outcome.run.exit_code))
    render_scrape(outcome.run)
    lines = [f"  r/{s} {e}s: {n:,}" for (s, e), n in sorted(outcome.totals.items())]
    total = sum(outcome.totals.values())
    summary = [
        f"Stored in {outcome.database}: {total:,} Reddit events",
        *lines,
        f"CSV files under {outcome.csv_dir}",
        "Run `sentpipe demo` again: it is incremental, so it finds nothing new.",
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
    raise typer.Exit(int(outcome.run.exit_code))
