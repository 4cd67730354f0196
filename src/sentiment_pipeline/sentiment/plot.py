"""`sentiment report --plot`: mean compound per bucket, one line per group (subreddit,
topic), with the event counts below. matplotlib is the optional extra `sentpipe[plot]`,
imported lazily."""

from __future__ import annotations

from pathlib import Path

from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.sentiment.report import SentimentReport

__all__ = ["check_plot_path", "plot_report"]

_FORMATS = (".png", ".svg")


def check_plot_path(path: Path) -> None:
    """ConfigError unless `path` ends in .png or .svg and matplotlib is installed."""
    if path.suffix.lower() not in _FORMATS:
        raise ConfigError(f"--plot {path}: unsupported format", "use a .png or .svg file name")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError(
            "--plot needs matplotlib, which is not installed",
            "pip install 'sentpipe[plot]'",
        ) from None


def plot_report(report: SentimentReport, path: Path) -> None:
    """Draw the report to `path` (.png or .svg); raises ConfigError as check_plot_path."""
    check_plot_path(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (top, bottom) = plt.subplots(
        2, 1, sharex=True, figsize=(10, 6), gridspec_kw={"height_ratios": [3, 1]}
    )
    groups = report.by_group()
    for label, rows in groups.items():
        times = [r.bucket for r in rows]
        top.plot(times, [r.mean_compound for r in rows], marker=".", label=label)
        bottom.plot(times, [r.events for r in rows], label=label)
    top.axhline(0, color="grey", linewidth=0.5)
    top.set_ylim(-1, 1)
    top.set_ylabel("mean compound")
    top.set_title(f"Sentiment per {report.bucket} ({report.model})")
    if groups:
        top.legend(loc="upper left", fontsize="small")
    bottom.set_ylabel("events")
    figure.autofmt_xdate()
    try:
        figure.savefig(path)
    except OSError as error:
        raise ConfigError(
            f"cannot write {path}: {error.strerror}", "choose a writable path"
        ) from None
    finally:
        plt.close(figure)
