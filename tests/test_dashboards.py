"""Grafana in compose (docs/dashboards.md), checked without a Grafana: every dashboard of
dashboards/ against a JSON Schema of Grafana's dashboard model
(tests/data/grafana-dashboard.schema.json), its provisioning and the compose service;
and every panel's and variable's SQL expanded as Grafana's PostgreSQL datasource does
(`tests.fixtures.grafana`) and run on a real TimescaleDB that sentpipe migrated, filled
through `sentpipe ingest ndjson` and `sentpipe sentiment score`, and read as the
read-only role of dashboards/reader-role.sql: each query answers with the columns a
panel of its kind needs, and the figures are those of `sentiment.figures` over the
stored scores."""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import psycopg
import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sentiment_pipeline.db import rollup
from sentiment_pipeline.db.url import parse_database_url
from sentiment_pipeline.sentiment.figures import Sums
from sentiment_pipeline.service import RunFigures, RunMetrics, record_run
from tests.fixtures.cli import invoke
from tests.fixtures.databases import libpq_url
from tests.fixtures.grafana import Variable, expand, interval_seconds, quote_literal
from tests.fixtures.isolation import ROOT

DASHBOARDS = ROOT / "dashboards"
SCHEMA = ROOT / "tests" / "data" / "grafana-dashboard.schema.json"
PROVISIONING = DASHBOARDS / "provisioning"
DATASOURCE_UID = "sentpipe-timescaledb"
DATASOURCE_TYPE = "grafana-postgresql-datasource"
NOW = datetime.now(UTC).replace(microsecond=0)
START, END = NOW - timedelta(days=30), NOW + timedelta(minutes=5)
NUMBERS = (int, float, Decimal)


def _boards() -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARDS.glob("*.json"))
    }


BOARDS = _boards()
TARGETS = [
    pytest.param(name, panel, target, id=f"{name}:{panel['id']}:{target['refId']}")
    for name, board in BOARDS.items()
    for panel in board["panels"]
    for target in panel.get("targets", [])
]


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yml").read_text(encoding="utf-8"))
    return loaded


def _yaml(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


# --- the dashboard files ------------------------------------------------------------


def test_there_are_the_two_dashboards() -> None:
    assert set(BOARDS) == {"sentiment", "operations"}


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_every_dashboard_matches_the_schema_of_grafanas_model(name: str) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(BOARDS[name])


@pytest.mark.parametrize(
    "break_it",
    [
        lambda b: b.pop("uid"),
        lambda b: b.__setitem__("uid", "x" * 41),
        lambda b: b["panels"][0].pop("gridPos"),
        lambda b: b["panels"][0]["gridPos"].__setitem__("w", 25),
        lambda b: b["panels"][0]["targets"][0].__setitem__("format", "timeseries"),
        lambda b: b["panels"][0]["targets"][0].pop("rawSql"),
        lambda b: b["panels"][0].__setitem__("targets", []),
        lambda b: b["time"].__setitem__("from", "yesterday"),
        lambda b: b["templating"]["list"].append({"name": "x", "type": "query", "query": "q"}),
    ],
    ids=["uid", "uid-length", "gridPos", "width", "format", "rawSql", "targets", "time", "var"],
)
def test_the_schema_rejects_a_broken_dashboard(break_it: Any) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    board = json.loads(json.dumps(BOARDS["sentiment"]))
    break_it(board)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(board)


def test_uids_and_panel_ids_are_unique_and_panels_do_not_overlap() -> None:
    assert len({b["uid"] for b in BOARDS.values()}) == len(BOARDS)
    for name, board in BOARDS.items():
        panels = board["panels"]
        assert len({p["id"] for p in panels}) == len(panels), name
        cells: set[tuple[int, int]] = set()
        for panel in panels:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, (name, panel["title"])
            mine = {
                (x, y)
                for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])
            }
            assert not cells & mine, (name, panel["title"])
            cells |= mine


def test_every_query_uses_the_provisioned_datasource() -> None:
    for board in BOARDS.values():
        refs = [p["datasource"] for p in board["panels"]]
        refs += [t["datasource"] for p in board["panels"] for t in p["targets"]]
        refs += [v["datasource"] for v in board["templating"]["list"] if v["type"] == "query"]
        assert refs
        assert all(r == {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID} for r in refs)


def test_every_variable_a_query_names_is_declared_and_every_declared_one_is_used() -> None:
    for name, board in BOARDS.items():
        declared = {v["name"] for v in board["templating"]["list"]}
        texts = [t["rawSql"] for p in board["panels"] for t in p["targets"]]
        texts += [v["query"] for v in board["templating"]["list"] if v["type"] == "query"]
        used = set()
        for text in texts:
            for found in re.finditer(r"\$\{(\w+)|\$(\w+)|\[\[(\w+)", text):
                variable = next(g for g in found.groups() if g)
                if not variable.startswith("__"):
                    used.add(variable)
        assert used == declared, name


# --- provisioning and compose ---------------------------------------------------------


def test_the_provisioned_datasource_is_timescaledb_through_the_reader_role() -> None:
    files = sorted((PROVISIONING / "datasources").glob("*.yml"))
    assert len(files) == 1
    (source,) = _yaml(files[0])["datasources"]
    assert source["uid"] == DATASOURCE_UID and source["type"] == DATASOURCE_TYPE
    assert source["url"] == "timescaledb:5432"
    assert source["jsonData"]["timescaledb"] is True
    assert source["jsonData"]["database"] == "$GRAFANA_DB_NAME"
    assert source["user"] == "$GRAFANA_DB_USER"
    assert source["secureJsonData"]["password"] == "$GRAFANA_DB_PASSWORD"
    assert source["editable"] is False
    environment = _compose()["services"]["grafana"]["environment"]
    for name in ("GRAFANA_DB_NAME", "GRAFANA_DB_USER", "GRAFANA_DB_PASSWORD"):
        assert name in environment
    assert "${GRAFANA_DB_PASSWORD:?" in environment["GRAFANA_DB_PASSWORD"]


def _mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """{container path: (host path, mode)} of a service's volumes."""
    found = {}
    for volume in service["volumes"]:
        host, target, *mode = volume.split(":")
        found[target] = (host, mode[0] if mode else "rw")
    return found


def test_the_dashboard_provider_reads_the_mounted_dashboards_folder() -> None:
    files = sorted((PROVISIONING / "dashboards").glob("*.yml"))
    assert len(files) == 1
    (provider,) = _yaml(files[0])["providers"]
    assert provider["type"] == "file" and provider["allowUiUpdates"] is False
    mounts = _mounts(_compose()["services"]["grafana"])
    host, mode = mounts[provider["options"]["path"]]
    assert mode == "ro"
    assert (ROOT / host).resolve() == DASHBOARDS.resolve()
    provisioning, mode = mounts["/etc/grafana/provisioning"]
    assert mode == "ro" and (ROOT / provisioning).resolve() == PROVISIONING.resolve()
    home = _compose()["services"]["grafana"]["environment"][
        "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"
    ]
    folder, _, file = home.rpartition("/")
    assert folder == provider["options"]["path"] and (DASHBOARDS / file).is_file()
    # only dashboards are *.json in the mounted folder: Grafana loads each one
    assert {p.stem for p in DASHBOARDS.rglob("*.json")} == set(BOARDS)


def test_grafana_runs_in_the_dashboards_profile_on_loopback_with_required_credentials() -> None:
    compose = _compose()
    grafana = compose["services"]["grafana"]
    assert grafana["profiles"] == ["dashboards"]
    assert re.fullmatch(r"grafana/grafana-oss:11\.\d+\.\d+", grafana["image"])
    assert grafana["ports"] == ["127.0.0.1:${GRAFANA_PORT:-3000}:3000"]
    env = grafana["environment"]
    assert env["GF_SECURITY_ADMIN_USER"].startswith("${GRAFANA_ADMIN_USER:?")
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert "grafana-data" in compose["volumes"]
    assert all(
        mode == "ro"
        for target, (_, mode) in _mounts(grafana).items()
        if target != "/var/lib/grafana"
    )
    assert grafana["depends_on"]["grafana-reader"]["condition"] == "service_completed_successfully"
    reader = compose["services"]["grafana-reader"]
    assert reader["profiles"] == ["dashboards"] and reader["restart"] == "no"
    assert reader["image"] == compose["services"]["timescaledb"]["image"]
    assert reader["environment"]["GRAFANA_DB_PASSWORD"].startswith("${GRAFANA_DB_PASSWORD:?")
    assert reader["depends_on"]["db-init"]["condition"] == "service_completed_successfully"
    host, mode = _mounts(reader)[reader["command"][-1]]
    assert mode == "ro" and (ROOT / host).is_file()
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name in ("GRAFANA_ADMIN_USER", "GRAFANA_ADMIN_PASSWORD", "GRAFANA_DB_PASSWORD"):
        assert re.search(rf"^{name}=\S", example, re.MULTILINE), name
    for name in ("GRAFANA_DB_USER", "GRAFANA_PORT"):
        assert name in example


# --- the expansion itself ---------------------------------------------------------------


def test_the_expansion_follows_grafanas_postgres_datasource() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = datetime(2026, 1, 2, 6, 30, 0, 250000, tzinfo=UTC)
    variables = {
        "model": Variable("it's"),
        "source": Variable(["reddit", "hn"], multi=True),
        "one": Variable(["python"], multi=True),
    }
    sql = (
        "SELECT $__timeGroupAlias(t, $__interval), $__time(u), '$model', ${model:sqlstring}, "
        "[[model]] FROM x WHERE $__timeFilter(t) AND s IN ($source) AND o IN (${one}) "
        "AND $__timeFrom() < $__timeTo() AND $__unixEpochFilter(e) AND ${__interval_ms} > 0"
    )
    assert expand(sql, variables, start=start, end=end, interval="1h") == (
        "SELECT time_bucket('3600s',t) AS \"time\", u AS \"time\", 'it's', 'it''s', it's "
        "FROM x WHERE t BETWEEN '2026-01-01T00:00:00Z' AND '2026-01-02T06:30:00.25Z' "
        "AND s IN ('reddit','hn') AND o IN ('python') AND '2026-01-01T00:00:00Z' < "
        "'2026-01-02T06:30:00.25Z' AND e >= 1767225600 AND e <= 1767335400 AND 3600000 > 0"
    )
    plain = expand("$__timeGroup(t, '1d')", {}, start=start, end=end, timescaledb=False)
    assert plain == "floor(extract(epoch from t)/86400)*86400"
    with pytest.raises(ValueError, match="unknown macro"):
        expand("$__timeFilterr(t)", {}, start=start, end=end)
    with pytest.raises(ValueError, match="no value for"):
        expand("x = $nothing", {}, start=start, end=end)
    assert interval_seconds("'7d'") == 7 * 86400 and interval_seconds("100ms") == 0.1


# --- the queries on a real TimescaleDB ---------------------------------------------------

TEXTS = {
    "positive": "I love this, what a great and wonderful release, thank you!",
    "negative": "This is terrible, I hate it, an awful and broken mess.",
    "neutral": "The meeting is on Tuesday at the main office.",
}
CONTAINERS = [("reddit", "python"), ("reddit", "rust"), ("reddit", "cars"), ("hn", "top")]


def _events(count: int, first: int) -> list[dict[str, Any]]:
    """`count` events spread over the last 20 days, the containers and the three moods."""
    out = []
    for n in range(first, first + count):
        source, source_id = CONTAINERS[n % len(CONTAINERS)]
        mood = ("positive", "negative", "neutral", "positive", "negative")[n % 5]
        occurred = NOW - timedelta(days=n % 20, hours=n % 7, minutes=n % 50)
        payload = {"title": f"{TEXTS[mood]} #{n}"}
        out.append(
            {
                "id": f"{'t3' if source == 'reddit' else 'hn'}_{n:x}",
                "occurred_at": occurred.isoformat(),
                "source": source,
                "source_id": source_id,
                "event_type": "submission" if source == "reddit" else "story",
                "payload": payload,
            }
        )
    return out


def _ingest(env: dict[str, str], folder: Path, events: list[dict[str, Any]], name: str) -> None:
    path = folder / f"{name}.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    done = invoke("ingest", "ndjson", str(path), env=env)
    assert done.exit_code == 0, done.output


def _seed(url: str, folder: Path) -> None:
    env = {
        "SENTPIPE_DATABASE_URL": url,
        "SENTPIPE_DATA_DIR": str(folder / "data"),
        "SENTPIPE_SINKS": "database",
    }
    done = invoke("db", "init", env=env)
    assert done.exit_code == 0, done.output
    _ingest(env, folder, _events(160, 0), "first")
    done = invoke("sentiment", "score", "--model", "vader", env=env)
    assert done.exit_code == 0, done.output
    _ingest(env, folder, _events(12, 1000), "later")  # the scorer's backlog
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute(
            "INSERT INTO event_topics (id, occurred_at, topic, via) "
            "SELECT id, occurred_at, 'tesla', CASE WHEN length(id) % 2 = 0 THEN 'text' "
            "ELSE 'post' END FROM raw_events WHERE source_id = 'cars'"
        )
        connection.execute(
            "INSERT INTO event_topics (id, occurred_at, topic, via) "
            "SELECT id, occurred_at, 'o''brien', 'text' FROM raw_events "
            "WHERE source_id IN ('python', 'top')"
        )
        rollup.rebuild(connection, "postgresql")  # links written around sentpipe
    failed = RunFigures(
        counters={"events_inserted": 4, "events_spooled": 3, "events_dead_lettered": 2},
        target_label="subreddit",
    )
    run = RunMetrics("scrape", (NOW - timedelta(hours=2)).timestamp(), 30.0, 3, failed)
    assert record_run(parse_database_url(url), run) is None


@pytest.fixture(scope="module")
def seeded(timescale_module_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A TimescaleDB database that sentpipe migrated and filled (`_seed`), shared by
    this module's database tests."""
    _seed(timescale_module_url, tmp_path_factory.mktemp("dashboards"))
    return timescale_module_url


@pytest.fixture(scope="module")
def reader(seeded: str) -> Iterator[str]:
    """The URL of the read-only role that dashboards/reader-role.sql makes (through
    psql, as the grafana-reader service runs it), dropped afterwards."""
    if shutil.which("psql") is None:
        message = "psql (the PostgreSQL client, 15 or newer) runs dashboards/reader-role.sql"
        if os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    role = f"sp_grafana_{secrets.token_hex(4)}"
    password = "Gr'a f\"ana$1"
    owner = libpq_url(seeded)
    database = owner.rsplit("/", 1)[1]
    environment = {
        **os.environ,
        "GRAFANA_DB_USER": role,
        "GRAFANA_DB_PASSWORD": password,
        "PGDATABASE": database,
    }
    for _ in range(2):  # idempotent: the service runs it on every start
        done = subprocess.run(
            [
                "psql",
                owner,
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-f",
                str(DASHBOARDS / "reader-role.sql"),
            ],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    try:
        yield psycopg.conninfo.make_conninfo(owner, user=role, password=password)
    finally:
        with psycopg.connect(owner, autocommit=True) as connection:
            connection.execute(f'DROP OWNED BY "{role}"')
            connection.execute(f'DROP ROLE "{role}"')


def _run(conninfo: str, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    with psycopg.connect(conninfo, autocommit=True) as connection:
        cursor = connection.execute(sql)
        assert cursor.description is not None
        return [c.name for c in cursor.description], cursor.fetchall()


def _variables(conninfo: str, board: dict[str, Any], **chosen: Any) -> dict[str, Variable]:
    """Each variable's value, as Grafana resolves them in order: a query variable's
    options come from its own (expanded) query; the default is its first option, or
    every option for a multi-value variable with All; `chosen` overrides."""
    values: dict[str, Variable] = {}
    for variable in board["templating"]["list"]:
        multi = bool(variable.get("multi") or variable.get("includeAll"))
        if variable["type"] == "custom":
            options = [o.strip() for o in variable["query"].split(",")]
        else:
            sql = expand(variable["query"], values, start=START, end=END)
            columns, rows = _run(conninfo, sql)
            index = columns.index("__value") if "__value" in columns else 0
            options = [str(row[index]) for row in rows]
        assert options, variable["name"]
        value = chosen.get(variable["name"], options if multi else options[0])
        values[variable["name"]] = Variable(value, multi)
    return values


def _target_sql(conninfo: str, name: str, target: dict[str, Any], **options: Any) -> str:
    chosen = options.pop("chosen", {})
    variables = _variables(conninfo, BOARDS[name], **chosen)
    return expand(target["rawSql"], variables, start=START, end=END, **options)


def _is_time(value: Any) -> bool:
    return isinstance(value, (datetime, date, *NUMBERS))


@pytest.mark.timescale
@pytest.mark.parametrize(("name", "panel", "target"), TARGETS)
@pytest.mark.parametrize("timescaledb", [True, False], ids=["time_bucket", "floor"])
def test_every_panel_query_answers_in_the_shape_its_panel_needs(
    reader: str, name: str, panel: dict[str, Any], target: dict[str, Any], timescaledb: bool
) -> None:
    sql = _target_sql(reader, name, target, timescaledb=timescaledb)
    columns, rows = _run(reader, sql)
    assert rows, (panel["title"], sql)
    assert len(set(columns)) == len(columns), columns
    if target["format"] == "time_series":
        assert columns[0] == "time", panel["title"]
        times = [row[0] for row in rows]
        assert all(_is_time(t) for t in times)
        assert times == sorted(times), panel["title"]
        kinds = {
            column: {type(row[i]) for row in rows if row[i] is not None}
            for i, column in enumerate(columns[1:], start=1)
        }
        strings = [c for c, k in kinds.items() if k == {str}]
        assert strings in ([], ["metric"]), (panel["title"], kinds)
        values = [c for c in kinds if c not in strings]
        assert values and all(kinds[c] and kinds[c] <= set(NUMBERS) for c in values), kinds
    elif panel["type"] == "stat":
        assert any(isinstance(v, NUMBERS) for v in rows[0]), columns


@pytest.mark.timescale
def test_the_reader_role_can_read_but_not_write(reader: str) -> None:
    _, rows = _run(reader, "SELECT count(*) FROM raw_events")
    assert rows[0][0] == 172
    for statement in (
        "DELETE FROM run_metrics",
        "INSERT INTO sentiment_daily SELECT * FROM sentiment_daily",
        "CREATE TABLE grafana_was_here (x int)",
    ):
        with pytest.raises(psycopg.Error), psycopg.connect(reader, autocommit=True) as c:
            c.execute(statement)


def _scores(conninfo: str, where: str = "TRUE") -> dict[tuple[str, str], Sums]:
    """Per (source, source_id): the `Sums` of the stored scores (Python, not the rollup)."""
    _, rows = _run(
        conninfo,
        f"SELECT s.source, s.source_id, s.label, s.compound FROM sentiment_scores s WHERE {where}",
    )
    found: dict[tuple[str, str], Sums] = defaultdict(Sums)
    for source, source_id, label, compound in rows:
        one = Sums(
            1,
            int(label == "positive"),
            int(label == "neutral"),
            int(label == "negative"),
            compound,
            compound * compound,
        )
        found[(source, source_id)] = found[(source, source_id)] + one
    return found


def _panel(name: str, title: str) -> dict[str, Any]:
    (found,) = [p for p in BOARDS[name]["panels"] if p["title"] == title]
    return found


def _close(a: Any, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), b, abs_tol=1e-4)


@pytest.mark.timescale
@pytest.mark.parametrize(
    ("chosen", "where"),
    [
        ({}, "TRUE"),
        (
            {"topic": "tesla", "via": "text"},
            "EXISTS (SELECT 1 FROM event_topics t WHERE t.id = s.id "
            "AND t.topic = 'tesla' AND t.via = 'text')",
        ),
        (
            {"source": ["reddit"], "container": ["python", "rust"], "topic": "o'brien"},
            "s.source_id IN ('python', 'rust') AND EXISTS (SELECT 1 FROM event_topics t "
            "WHERE t.id = s.id AND t.topic = 'o''brien')",
        ),
    ],
    ids=["every-event", "topic-by-text", "containers-and-quoted-topic"],
)
def test_the_containers_table_has_the_figures_of_the_stored_scores(
    reader: str, chosen: dict[str, Any], where: str
) -> None:
    (target,) = _panel("sentiment", "Containers")["targets"]
    columns, rows = _run(reader, _target_sql(reader, "sentiment", target, chosen=chosen))
    expected = _scores(reader, where)
    assert expected
    got = {(row[0], row[1]): dict(zip(columns, row, strict=True)) for row in rows}
    assert set(got) == set(expected)
    for key, sums in expected.items():
        row = got[key]
        assert row["events"] == sums.events
        assert _close(row["net sentiment"], sums.net_sentiment)
        assert _close(row["mean compound"], sums.mean_compound)
        net, mean = sums.net_sentiment_ci95(), sums.mean_compound_ci95()
        assert _close(row["net 95% low"], net[0] if net else None), key
        assert _close(row["net 95% high"], net[1] if net else None), key
        assert _close(row["mean 95% low"], mean[0] if mean else None), key
        assert _close(row["mean 95% high"], mean[1] if mean else None), key


@pytest.mark.timescale
@pytest.mark.parametrize("interval", ["1d", "7d"])
def test_the_mean_band_per_bucket_is_that_of_the_scores_of_the_bucket(
    reader: str, interval: str
) -> None:
    (target,) = _panel("sentiment", "Mean compound with 95% interval")["targets"]
    columns, rows = _run(reader, _target_sql(reader, "sentiment", target, interval=interval))
    assert columns == ["time", "mean compound", "mean 95% low", "mean 95% high"]
    seconds = interval_seconds(interval)
    _, scores = _run(reader, "SELECT occurred_at, label, compound FROM sentiment_scores")
    buckets: dict[int, Sums] = defaultdict(Sums)
    origin = datetime(2000, 1, 3, tzinfo=UTC)  # time_bucket's origin
    for occurred, label, compound in scores:
        day = datetime.combine(occurred.astimezone(UTC).date(), datetime.min.time(), UTC)
        index = int((day - origin).total_seconds() // seconds)
        buckets[index] += Sums(1, int(label == "positive"), 0, 0, compound, compound * compound)
    assert len(rows) == len(buckets)
    for moment, mean, low, high in rows:
        sums = buckets[int((moment - origin).total_seconds() // seconds)]
        band = sums.mean_compound_ci95()
        assert _close(mean, sums.mean_compound)
        assert _close(low, band[0] if band else None) and _close(high, band[1] if band else None)


@pytest.mark.timescale
def test_volume_bars_add_up_to_the_scores_whatever_the_bucket(reader: str) -> None:
    (target,) = _panel("sentiment", "Scored events per bucket")["targets"]
    totals = []
    for interval in ("1d", "7d", "30d"):
        columns, rows = _run(reader, _target_sql(reader, "sentiment", target, interval=interval))
        assert columns == ["time", "positive", "neutral", "negative"]
        totals.append(tuple(sum(int(row[i]) for row in rows) for i in (1, 2, 3)))
    _, labels = _run(reader, "SELECT label, count(*) FROM sentiment_scores GROUP BY 1")
    counts = dict(labels)
    assert set(totals) == {(counts["positive"], counts.get("neutral", 0), counts["negative"])}


@pytest.mark.timescale
def test_the_operations_figures(reader: str) -> None:
    board = "operations"
    backlog = _run(
        reader, _target_sql(reader, board, _panel(board, "Scorer backlog")["targets"][0])
    )
    assert backlog[0] == ["events waiting", "oldest waiting"]
    assert backlog[1][0][0] == 12
    spool = _run(reader, _target_sql(reader, board, _panel(board, "Spool now")["targets"][0]))
    assert dict(spool[1])["scrape"] == 3 and dict(spool[1])["ingest_ndjson"] == 0
    ingested = _run(
        reader, _target_sql(reader, board, _panel(board, "Events ingested per hour")["targets"][0])
    )
    assert sum(row[2] for row in ingested[1]) == 172
    assert {row[1] for row in ingested[1]} == {"reddit", "hn"}
    runs = _run(reader, _target_sql(reader, board, _panel(board, "Runs")["targets"][0]))
    by_command = {row[0]: dict(zip(runs[0], row, strict=True)) for row in runs[1]}
    assert set(by_command) == {"ingest_ndjson", "sentiment_score", "scrape"}
    assert by_command["scrape"]["exit code"] == 3 and by_command["scrape"]["last success"] is None
    assert by_command["scrape"]["failed runs in range"] == 1
    assert by_command["sentiment_score"]["exit code"] == 0
    newest = _run(
        reader, _target_sql(reader, board, _panel(board, "Newest event age")["targets"][0])
    )
    ages = dict(newest[1])
    stored = _events(160, 0) + _events(12, 1000)
    assert set(ages) == {e["source"] for e in stored}
    for source, age in ages.items():
        occurred = max(
            datetime.fromisoformat(e["occurred_at"]) for e in stored if e["source"] == source
        )
        assert abs(age - (datetime.now(UTC) - occurred).total_seconds()) < 600, source
    dead = _run(
        reader, _target_sql(reader, board, _panel(board, "Dead letters per hour")["targets"][0])
    )
    assert sum(row[2] for row in dead[1]) == 2


@pytest.mark.timescale
@settings(max_examples=40, deadline=None)
@given(value=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")))
def test_a_sqlstring_value_reaches_the_database_unchanged(reader: str, value: str) -> None:
    assume(re.search(r"\$__\w+\(", value) is None)  # a macro in a value: Grafana expands it too
    sql = expand("SELECT ${v:sqlstring} AS v", {"v": Variable(value)}, start=START, end=END)
    assert quote_literal(value) in sql
    assert _run(reader, sql)[1] == [(value,)]
