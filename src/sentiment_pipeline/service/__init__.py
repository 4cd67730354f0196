"""Service mode: repeat a command's run on a schedule (`--every`) and leave Prometheus
metrics after each run (`--metrics-file`, `SENTPIPE_METRICS_DIR`).

After each run the figures are also recorded as one row of the database's `run_metrics`
(`record.py`, best effort), which the Grafana dashboards read.

One mechanism for every long-running command (`scrape reddit`, `sentiment score`,
`refresh reddit`, `ingest ndjson`, `ingest reddit-dump`): `schedule.py` holds the loop
and the stop flag, `metrics.py` the metrics file, `progress.py` the file kept current
while a backfill runs. The CLI side (`cli/service.py`) wraps a command's run function in both.
Nothing here imports `prometheus_client` until a metrics file is written.
"""

from sentiment_pipeline.service.metrics import (
    RunFigures,
    RunMetrics,
    check_metrics_path,
    figures_from_hn_scrape,
    figures_from_refresh,
    figures_from_run,
    last_success,
    metrics_path,
    parse_metrics,
    render_metrics,
    write_metrics,
)
from sentiment_pipeline.service.progress import BackfillGauges
from sentiment_pipeline.service.record import record_run
from sentiment_pipeline.service.schedule import Schedule, StopFlag, run_every

__all__ = [
    "BackfillGauges",
    "RunFigures",
    "RunMetrics",
    "Schedule",
    "StopFlag",
    "check_metrics_path",
    "figures_from_hn_scrape",
    "figures_from_refresh",
    "figures_from_run",
    "last_success",
    "metrics_path",
    "parse_metrics",
    "record_run",
    "render_metrics",
    "run_every",
    "write_metrics",
]
