"""Settings precedence (CLI > env > .env > YAML > default), masking and origins."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sentiment_pipeline.db.url import ENCODE_HINT as HINT
from sentiment_pipeline.db.url import mask_url, parse_database_url
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.settings import load_settings, setting_origins
from tests.fixtures.cli import invoke
from tests.fixtures.isolation import ROOT


def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "sentpipe.yml"
    config.write_text("batch_size: 10\nflush_interval: 9\nqueue_size: 7\nmax_payload_bytes: 4096\n")
    (tmp_path / ".env").write_text(
        "SENTPIPE_BATCH_SIZE=20\nSENTPIPE_FLUSH_INTERVAL=8\nSENTPIPE_QUEUE_SIZE=6\n"
    )
    monkeypatch.setenv("SENTPIPE_BATCH_SIZE", "30")
    monkeypatch.setenv("SENTPIPE_FLUSH_INTERVAL", "5")
    settings = load_settings(config, batch_size=40)
    assert settings.batch_size == 40  # CLI flag
    assert settings.flush_interval == 5  # env beats .env and YAML
    assert settings.queue_size == 6  # .env beats YAML
    assert settings.max_payload_bytes == 4096  # YAML beats default
    assert settings.db_retry_seconds == 60  # default
    origins = setting_origins(config, batch_size=40)
    assert origins["batch_size"] == "cli"
    assert origins["flush_interval"] == "env"
    assert origins["queue_size"] == ".env"
    assert origins["max_payload_bytes"].startswith("yaml")
    assert origins["db_retry_seconds"] == "default"


def test_config_from_env_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.yml"
    config.write_text("subreddits:\n  - name: Python\n    sort: top\n    time_filter: week\n")
    monkeypatch.setenv("SENTPIPE_CONFIG", str(config))
    settings = load_settings()
    assert settings.subreddits[0].name == "Python"
    assert settings.subreddits[0].sort == "top"


def test_missing_config_file_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("--config", str(tmp_path / "nope.yml"), "config", "show")
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_invalid_value_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTPIPE_BATCH_SIZE", "lots")
    with pytest.raises(ConfigError, match="batch_size"):
        load_settings()


def test_sinks_accept_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTPIPE_SINKS", "timescale, csv")
    assert load_settings().sinks == ["timescale", "csv"]


def test_default_database_is_sqlite_in_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTPIPE_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings()
    assert settings.database.backend == "sqlite"
    assert settings.database.sqlite_path == tmp_path / "data" / "sentpipe.db"
    assert settings.csv_path == tmp_path / "data" / "csv"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@h:5433/d", "postgresql+psycopg://u:p@h:5433/d"),
        ("postgres://u:p@h/d", "postgresql+psycopg://u:p@h/d"),
        ("postgresql+psycopg://u:p@h/d", "postgresql+psycopg://u:p@h/d"),
        ("sqlite:///rel.db", "sqlite:///rel.db"),
        ("sqlite:////abs/x.db", "sqlite:////abs/x.db"),
    ],
)
def test_database_urls(given: str, expected: str) -> None:
    assert parse_database_url(given).sqlalchemy == expected


@pytest.mark.parametrize("bad", ["mysql://h/db", "just-a-path", "sqlite://"])
def test_bad_database_urls(bad: str) -> None:
    with pytest.raises(ConfigError):
        parse_database_url(bad)


def test_mask_url() -> None:
    assert mask_url("postgresql://me:s3cret@db:5432/x") == "postgresql://me:***@db:5432/x"
    assert mask_url("sqlite:///x.db") == "sqlite:///x.db"


def test_config_show_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTPIPE_DATABASE_URL", "postgresql://me:hunter2@db:5432/x")
    monkeypatch.setenv("SENTPIPE_REDDIT_CLIENT_SECRET", "very-secret-value")
    monkeypatch.setenv("SENTPIPE_REDDIT_PASSWORD", "pw-123456")
    for args in (["config", "show"], ["config", "show", "--json"]):
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        assert "hunter2" not in result.output
        assert "very-secret-value" not in result.output
        assert "pw-123456" not in result.output
    data = json.loads(invoke("config", "show", "--json").output)
    assert data["database_url"] == {"value": "postgresql://me:***@db:5432/x", "source": "env"}
    assert data["reddit_client_secret"]["value"] == "********"
    assert data["batch_size"] == {"value": 5000, "source": "default"}


def test_env_example_documents_every_setting() -> None:
    from sentiment_pipeline.settings import Settings

    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        if name == "subreddits":
            continue
        assert f"SENTPIPE_{name.upper()}" in example, name
    assert "SENTPIPE_CONFIG" in example


# --- the database URL: one parser -------------------------------------------------


CASE_36 = "Zq9@ss%2F/w:d#?x"


@pytest.mark.parametrize(
    ("given", "parts"),
    [
        ("postgresql://u:p@h:5433/d", ("u", "p", "h", 5433, "d")),
        (
            "postgresql://u:Zq9%40ss%252F%2Fw%3Ad%23%3Fx@h/d",
            ("u", "Zq9@ss%2F/w:d#?x", "h", None, "d"),
        ),
        ("postgresql://u:p:with:colons@h/d", ("u", "p:with:colons", "h", None, "d")),
        ("postgresql://me%40corp:pw@[::1]:5432/my%20db", ("me@corp", "pw", "::1", 5432, "my db")),
        (
            "postgresql://%2Fvar%2Frun%2Fpostgresql/d",
            (None, None, "/var/run/postgresql", None, "d"),
        ),
        ("postgresql:///d", (None, None, None, None, "d")),
        ("POSTGRES://u@h", ("u", None, "h", None, None)),
        ("postgresql://u:p%C3%A9@h/d", ("u", "pé", "h", None, "d")),
    ],
)
def test_database_url_parts(given: str, parts: tuple[object, ...]) -> None:
    url = parse_database_url(given)
    assert (url.username, url.password, url.host, url.port, url.database) == parts
    assert parse_database_url(url.sqlalchemy) == url  # the canonical form parses back
    assert parse_database_url(url.libpq) == url


REFUSED = [
    ("postgresql://u:Kp7@mmq8@h/d", "the password in SENTPIPE_DATABASE_URL holds an unencoded `@`"),
    ("postgresql://u:Tr4/uuv9@h/d", "the password in SENTPIPE_DATABASE_URL holds an unencoded `/`"),
    ("postgresql://u:Wx2#yyz3@h/d", "the password in SENTPIPE_DATABASE_URL holds an unencoded `#`"),
    ("postgresql://u:Lm3?rr7t@h/d", "the password in SENTPIPE_DATABASE_URL holds an unencoded `?`"),
    ("postgresql://u:Bn5%zzk1@h/d", "holds a `%` not followed by two hex digits"),
    ("postgresql://u:Bn5%C3k1@h/d", "is not UTF-8 once percent-decoded"),
    ("postgresql://u:Bn5%00k1@h/d", "holds a NUL character"),
    ("postgresql://us/er:pw@h/d", "the user name in SENTPIPE_DATABASE_URL holds an unencoded `/`"),
    ("postgresql://u:pw@h:54x2/d", "the port in SENTPIPE_DATABASE_URL is not a number"),
    ("postgresql://u:pw@h:99999/d", "the port in SENTPIPE_DATABASE_URL is not a number"),
    ("postgresql://u:Secr3tpw/d", "the port in SENTPIPE_DATABASE_URL is not a number"),
    ("postgresql://u:pw@h/d#frag", "holds an unencoded `#` after the host"),
    ("postgresql://u:pw@h/d?x=%zz", "holds a `%` not followed by two hex digits"),
    ("user:Secr3tpw@h/d", "SENTPIPE_DATABASE_URL is not a URL"),
    ("Secr3tpw", "SENTPIPE_DATABASE_URL is not a URL"),
    ("sqlite:////tmp/x.db?mode=ro", "has a `?` query"),
    ("sqlite:////tmp/100%.db", "holds a `%` not followed by two hex digits"),
    ("sqlite:///:memory:", "an in-memory SQLite database keeps nothing"),
]


@pytest.mark.parametrize(("given", "reason"), REFUSED)
def test_refused_database_url_is_exit_2_without_its_secret(given: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_database_url(given)
    assert reason in caught.value.reason
    for secret in ("Kp7", "mmq8", "Tr4", "uuv9", "Wx2", "yyz3", "Lm3", "rr7t", "Bn5", "Secr3t"):
        assert secret not in caught.value.one_line()
    result = invoke("stats", env={"SENTPIPE_DATABASE_URL": given})
    assert result.exit_code == 2, result.output
    assert reason in " ".join(result.stderr.split())
    assert not any(s in result.output for s in ("Kp7", "mmq8", "Tr4", "uuv9", "Bn5", "Secr3t"))


def test_refused_password_hint_says_to_percent_encode() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_database_url("postgresql://u:Kp7@mmq8@h/d")
    assert caught.value.hint == (
        "percent-encode the password in SENTPIPE_DATABASE_URL (for example `@` as `%40`)"
    )


def test_masking_uses_the_same_split() -> None:
    assert mask_url("postgresql://u:Kp7@mmq8@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert mask_url("postgresql://u:Tr4/uuv9@h/d") == "postgresql://u:***@h/d"
    assert mask_url("postgresql://Tr4/uuv9@h/d") == "postgresql://***@h/d"  # no `:`
    assert mask_url("postgresql://u:Secr3tpw/d") == "postgresql://u:***/d"  # `@` missing
    assert mask_url("postgresql://h/d?password=Secr3t&a=b") == "postgresql://h/d?password=***&a=b"
    assert mask_url("user:Secr3tpw@h/d") == "***"  # not a URL: all of it
    assert mask_url("") == ""


_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=20)


@settings(max_examples=300, deadline=None)
@given(user=_TEXT, password=_TEXT, database=_TEXT)
def test_percent_encoded_parts_round_trip_through_every_driver(
    user: str, password: str, database: str
) -> None:
    """Whatever the user, password and database name, their percent-encoded URL gives
    the same three values to sentpipe, libpq (psycopg's conninfo parser) and SQLAlchemy."""
    from psycopg.conninfo import conninfo_to_dict
    from sqlalchemy.engine import make_url

    from sentiment_pipeline.db.engine import engine_url

    written = f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@db.example:5432"
    url = parse_database_url(f"{written}/{quote(database, safe='')}")
    assert (url.username or "", url.password, url.database or "") == (user, password, database)
    libpq = conninfo_to_dict(url.libpq)
    assert (libpq.get("user", ""), libpq.get("password", "")) == (user, password)
    assert libpq.get("dbname", "") == database
    engine = engine_url(url)
    assert (engine.username or "", engine.password, engine.database or "") == (
        user,
        password,
        database,
    )
    parsed = make_url(url.sqlalchemy)
    assert (parsed.username or "", parsed.password) == (user, password)
    expected = f"postgresql+psycopg://{quote(user, safe='')}:***@db.example:5432"
    assert url.masked == expected + (f"/{quote(database, safe='')}" if database else "")


_REFUSALS = {
    *(f"the password in SENTPIPE_DATABASE_URL holds an unencoded `{c}`" for c in "@/?#"),
    "the password in SENTPIPE_DATABASE_URL holds a `%` not followed by two hex digits",
    "the password in SENTPIPE_DATABASE_URL is not UTF-8 once percent-decoded",
    "the password in SENTPIPE_DATABASE_URL holds a NUL character (`%00`)",
}


@settings(max_examples=300, deadline=None)
@given(password=st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30))
def test_any_raw_password_is_masked_and_refused_or_read_whole(password: str) -> None:
    """A password written raw, whatever it holds, is never shown by `mask_url`; it is
    either refused with one of a few fixed messages (so none holds any of it) or read
    as exactly that password, percent-decoded."""
    text = f"postgresql://u:{password}@h:5432/d"
    assert mask_url(text) == "postgresql://u:***@h:5432/d"
    try:
        url = parse_database_url(text)
    except ConfigError as error:
        assert error.reason in _REFUSALS
        assert error.hint == HINT
        return
    assert (url.username, url.host, url.port, url.database) == ("u", "h", 5432, "d")
    assert url.password == unquote(password, errors="strict")


@settings(max_examples=200, deadline=None)
@given(secret=st.text(min_size=4, max_size=20), before=st.text(), after=st.text())
def test_scrub_removes_every_form_of_the_password(secret: str, before: str, after: str) -> None:
    from sentiment_pipeline.db.url import scrub, url_secrets

    assume(secret.lower() not in "sentpipe")
    forms = url_secrets(f"postgresql://u:{quote(secret, safe='')}@h/d")
    for shown in (
        secret,
        quote(secret, safe=""),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
    ):
        assert shown not in scrub(f"{before}{shown}{after}", forms)


def test_scrub_leaves_sentpipe_and_short_secrets_alone() -> None:
    from sentiment_pipeline.db.url import scrub, url_secrets

    text = "run `sentpipe db init` first; user sentpipe, password sentpipe; pw abc"
    assert scrub(text, url_secrets("postgresql://sentpipe:sentpipe@h/d")) == text
    assert scrub(text, url_secrets("postgresql://u:abc@h/d")) == text  # under 4 characters
    assert scrub("a Kp7@mmq8 b", url_secrets("postgresql://u:Kp7@mmq8@h/d")) == "a *** b"


# --- configuration files are checked, not guessed ---------------------------------


@pytest.mark.parametrize(
    ("document", "found"),
    [
        ("- python\n- datascience\n", "a list"),
        ("subreddits python\n", "a string"),
        ("42\n", "a number"),
        ("true\n", "true/false"),
    ],
)
def test_yaml_top_level_must_be_a_mapping(tmp_path: Path, document: str, found: str) -> None:
    config = tmp_path / "sentpipe.yml"
    config.write_text(document, encoding="utf-8")
    for args in (("config", "show"), ("stats",)):
        result = invoke("--config", str(config), *args)
        assert result.exit_code == 2, result.output
        message = " ".join(result.stderr.split())
        assert f"YAML config '{config}' must be a mapping of settings, found {found}" in message
        assert "Internal error" not in result.output


@pytest.mark.parametrize("document", ["", "# all commented out\n", "---\n"])
def test_an_empty_yaml_file_holds_no_settings(tmp_path: Path, document: str) -> None:
    config = tmp_path / "sentpipe.yml"
    config.write_text(document, encoding="utf-8")
    result = invoke("--config", str(config), "config", "show", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["batch_size"] == {"value": 5000, "source": "default"}


_SUBREDDIT = "subreddits:\n  - name: python\n"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("subreditts: []\n", "unknown setting `subreditts` in {} (did you mean `subreddits`?)"),
        ("batch_sise: 10\n", "unknown setting `batch_sise` in {} (did you mean `batch_size`?)"),
        (
            "SENTPIPE_BATCH_SIZE: 1\n",
            "setting `SENTPIPE_BATCH_SIZE` in {} (did you mean `batch_size`?)",
        ),
        ("zzzzzz: 1\n", "unknown setting `zzzzzz` in {}. Fix or remove it"),
        (
            _SUBREDDIT + "    sor: top\n",
            "key `sor` in subreddits item 1 in {} (did you mean `sort`?)",
        ),
        (_SUBREDDIT + "  - name: b\n    limt: 5\n", "`limt` in subreddits item 2 in {} (did you"),
    ],
)
def test_unknown_yaml_key_names_the_closest_known_one(
    tmp_path: Path, document: str, message: str
) -> None:
    config = tmp_path / "sentpipe.yml"
    config.write_text(document, encoding="utf-8")
    result = invoke("--config", str(config), "config", "show")
    assert result.exit_code == 2, result.output
    assert message.format(config) in " ".join(result.stderr.split())


def test_yaml_keys_keep_matching_case_insensitively(tmp_path: Path) -> None:
    config = tmp_path / "sentpipe.yml"
    config.write_text("Batch_Size: 7\nsubreddits:\n  - name: python\n", encoding="utf-8")
    settings = load_settings(config)
    assert settings.batch_size == 7
    assert [t.name for t in settings.subreddits] == ["python"]


def test_yaml_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "sentpipe.yml"
    config.write_bytes("data_dir: /tmp/caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_settings(config)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    document=st.one_of(
        st.lists(st.integers() | st.text(), min_size=1),
        st.text(min_size=1),
        st.integers(),
        st.floats(allow_nan=False),
        st.booleans(),
    )
)
def test_any_non_mapping_yaml_is_refused_naming_the_file(tmp_path: Path, document: object) -> None:
    import yaml

    config = tmp_path / "any.yml"
    config.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert caught.value.reason.startswith(f"YAML config '{config}' must be a mapping of settings")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=20))
def test_any_unknown_yaml_key_is_refused_by_name(tmp_path: Path, key: str) -> None:
    import yaml

    from sentiment_pipeline.settings import Settings

    assume(key.lower() not in Settings.model_fields)
    config = tmp_path / "any.yml"
    config.write_text(yaml.safe_dump({key: 1}), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert caught.value.reason.startswith(f"unknown setting `{key}` in {config}")


def test_dotenv_unknown_sentpipe_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SENTPIPE_DATABSE_URL=sqlite:///x.db\n", encoding="utf-8")
    result = invoke("config", "show")
    assert result.exit_code == 2, result.output
    assert (
        "unknown setting `SENTPIPE_DATABSE_URL` in .env (did you mean `SENTPIPE_DATABASE_URL`?)"
        in " ".join(result.stderr.split())
    )


def test_dotenv_names_of_other_tools_are_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "TIMESCALE_PASSWORD=x\nSENTPIPE_TEST_TIMESCALE_URL=postgresql://h/d\n"
        "SENTPIPE_TSDB_PORT=54329\nSENTPIPE_DEBUG=0\nsentpipe_batch_size=9\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SENTPIPE_SOMETHING_ELSE", "1")  # the environment: still ignored
    assert load_settings().batch_size == 9


def test_unknown_key_in_subreddits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTPIPE_SUBREDDITS", '[{"name": "python", "sortt": "top"}]')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.reason == "unknown key `sortt` in subreddits item 1 (did you mean `sort`?)"
