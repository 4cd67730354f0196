"""Settings from CLI flags, `SENTPIPE_*` environment variables, `.env` and a YAML file.

Precedence, highest first: CLI flag > environment > `.env` (working directory) >
YAML (`--config FILE` or `SENTPIPE_CONFIG`) > default. The names are a public contract.

Files are checked, not guessed: a YAML file must be a mapping of known settings (and
`subreddits:` items of known keys), and a `SENTPIPE_*` name in `.env` must be a setting
(or a name sentpipe's tools read); otherwise `ConfigError` names the key and the closest
known one. Unknown `SENTPIPE_*` environment variables are ignored (tools and tests set
their own). `load_settings` parses the database URL (its password is noted for scrubbing
first), so a URL sentpipe refuses fails every command the same way, with exit 2.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from sentiment_pipeline.db.url import (
    DatabaseURL,
    note_configured_url,
    parse_database_url,
    sqlite_database,
)
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.sources.hackernews.settings import HackerNewsSettings
from sentiment_pipeline.sources.reddit.settings import (
    RedditSettings,
    RedditTargets,
    SubredditTarget,
)
from sentiment_pipeline.sources.topic import TopicSettings, topics_from

if TYPE_CHECKING:
    from pydantic_settings.sources.types import Traversable

__all__ = [
    "CheckedYamlSource",
    "Settings",
    "SubredditTarget",
    "check_yaml",
    "load_settings",
    "setting_origins",
]

ENV_PREFIX = "SENTPIPE_"
DOTENV_FILE = ".env"

# `SENTPIPE_*` names in `.env` that are no setting but are read elsewhere: by sentpipe
# itself (SENTPIPE_CONFIG, SENTPIPE_DEBUG) or by the repository's scripts and tests.
_DOTENV_OTHERS = ("SENTPIPE_CONFIG", "SENTPIPE_DEBUG")
_DOTENV_TOOL_PREFIXES = ("SENTPIPE_TEST_", "SENTPIPE_TSDB_", "SENTPIPE_PG_", "SENTPIPE_BASE_")

_yaml_file: ContextVar[Path | None] = ContextVar("sentpipe_yaml_file", default=None)


def _default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("sentpipe", appauthor=False))


class _Storage(BaseModel):
    """Where the data goes: the database, the data folder, the CSV folder."""

    database_url: SecretStr | None = None
    data_dir: Path = Field(default_factory=_default_data_dir)
    csv_dir: Path | None = None


class _Pipeline(BaseModel):
    """How records are written: the sinks, batches, queue, limits, retries, metrics."""

    sinks: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["database", "csv"])
    batch_size: int = Field(default=5000, ge=1, le=100_000)
    flush_interval: float = Field(default=2.0, gt=0)
    queue_size: int = Field(default=10_000, ge=1)
    max_payload_bytes: int = Field(default=1_048_576, ge=1024)
    db_retry_seconds: float = Field(default=60.0, ge=0)
    # `ingest ndjson` / `reddit-dump` files: parsing processes beside the writer; None
    # ("auto"): `parallel.default_workers()`; 0: parse in the main process.
    parse_workers: int | None = Field(default=None, ge=0, le=64)
    metrics_dir: Path | None = None
    # `sentiment score`: threads of a scorer's own pool (onnxruntime) per scoring process;
    # None: all CPUs with one worker, CPUs // N with --workers N.
    scorer_threads: int | None = Field(default=None, ge=1, le=256)


# The bases in reverse order of their fields (pydantic lists a base's fields before a
# later one's): storage, Reddit's client and refresh settings, Hacker News's, the
# pipeline, Reddit's targets, the order `config show` prints. A source's settings live
# in its package.
class Settings(
    RedditTargets, _Pipeline, HackerNewsSettings, RedditSettings, _Storage, BaseSettings
):
    """Effective configuration of one sentpipe invocation."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=DOTENV_FILE,
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    # name -> query and scope (sources/topic.py, docs/topics.md); YAML or JSON in env
    topics: Annotated[dict[str, TopicSettings], NoDecode] = Field(default_factory=dict)

    @field_validator("database_url", mode="after")
    @classmethod
    def _note_password(cls, value: SecretStr | None) -> SecretStr | None:
        """Note the URL's password (`db.url.note_configured_url`) as soon as it is read,
        so that no message, not even the URL's refusal, can show it."""
        note_configured_url(value.get_secret_value() if value is not None else "")
        return value

    @field_validator("sinks", mode="before")
    @classmethod
    def _split_sinks(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("topics", mode="before")
    @classmethod
    def _topics_json(cls, value: Any) -> Any:
        """`SENTPIPE_TOPICS` (and `.env`) hold JSON; empty means none."""
        if value is None:  # `topics:` with nothing under it
            return {}
        if not isinstance(value, str):
            return value
        if not value.strip():
            return {}
        try:
            return json.loads(value)
        except ValueError as error:
            raise ValueError(
                f"SENTPIPE_TOPICS is not JSON ({error}); write it as "
                '{"tesla": {"query": "tesla", "subreddits": ["cars"]}}, or use topics: in '
                "the YAML file"
            ) from None

    @field_validator("data_dir", "csv_dir", "metrics_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv_settings]
        yaml_path = _yaml_file.get()
        if yaml_path is not None:
            sources.append(CheckedYamlSource(settings_cls, yaml_file=yaml_path))
        return tuple(sources)

    # Derived values -------------------------------------------------------------------

    @property
    def embedded_database(self) -> bool:
        """True when no database URL is given (unset or blank): `database` is then the
        embedded SQLite default `<data dir>/sentpipe.db`, which writing commands migrate
        themselves. An explicit URL, even to the same file, is never migrated unasked."""
        return self.database_url is None or not self.database_url.get_secret_value().strip()

    @property
    def database(self) -> DatabaseURL:
        """The database to use: `SENTPIPE_DATABASE_URL`, or the embedded SQLite default."""
        if self.embedded_database or self.database_url is None:
            return sqlite_database(self.data_dir.absolute() / "sentpipe.db")
        return parse_database_url(self.database_url.get_secret_value())

    @property
    def csv_path(self) -> Path:
        return self.csv_dir if self.csv_dir is not None else self.data_dir / "csv"

    @property
    def dead_letter_dir(self) -> Path:
        return self.data_dir / "dead-letter"

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def journal_dir(self) -> Path:
        """The follower journals (`pipeline.journal`): rows the CSV sink may still owe."""
        return self.data_dir / "journal"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "scrape.lock"


# --- checking the files -------------------------------------------------------------


_YAML_KINDS = {bool: "true/false", int: "a number", float: "a number", str: "a string"}
_YAML_KINDS |= {list: "a list"}


def _unknown(what: str, guess: str, known: Iterable[str]) -> ConfigError:
    """The error "unknown <what> (did you mean `closest`?)": `guess` is the name as
    normalised for matching against `known` (no suggestion when nothing is close)."""
    names = list(known)
    close = [guess] if guess in names else difflib.get_close_matches(guess, names, n=1)
    suggestion = f" (did you mean `{close[0]}`?)" if close else ""
    return ConfigError(
        f"unknown {what}{suggestion}", "fix or remove it; docs/configuration.md lists the settings"
    )


def check_yaml(data: object, path: Path) -> dict[str, Any]:
    """`data` (a YAML file's document) if it is a mapping of known settings whose
    `subreddits:` items hold only known keys. Raises `ConfigError` naming the file, and
    for an unknown key the key and the closest known one. An empty (or comment-only)
    file holds no settings: nothing to refuse."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"YAML config {str(path)!r} must be a mapping of settings, found "
            f"{_YAML_KINDS.get(type(data), 'a ' + type(data).__name__)}",
            "write one `name: value` per line (docs/configuration.md)",
        )
    fields = list(Settings.model_fields)
    for key in data:
        if not isinstance(key, str) or key.lower() not in fields:
            guess = str(key).lower().removeprefix("sentpipe_")
            raise _unknown(f"setting `{key}` in {path}", guess, fields)
    _check_targets(next((v for k, v in data.items() if k.lower() == "subreddits"), None), path)
    _check_topics(next((v for k, v in data.items() if k.lower() == "topics"), None), path)
    return data


def _check_topics(topics: object, path: Path) -> None:
    """Each `topics:` entry that is a mapping holds only `TopicSettings` keys (other
    shapes are left to pydantic's validation, `_topic_problem`)."""
    for name, entry in topics.items() if isinstance(topics, dict) else ():
        for key in entry if isinstance(entry, dict) else ():
            if key not in TopicSettings.model_fields:
                where = f"key `{key}` in topic {name} in {path}"
                raise _unknown(where, str(key), TopicSettings.model_fields)


def _check_targets(targets: object, path: Path) -> None:
    """Each `subreddits:` item holds only `SubredditTarget` keys (other shapes are left
    to pydantic's validation)."""
    for number, item in enumerate(targets if isinstance(targets, list) else [], start=1):
        for key in item if isinstance(item, dict) else ():
            if key not in SubredditTarget.model_fields:
                where = f"key `{key}` in subreddits item {number} in {path}"
                raise _unknown(where, str(key), SubredditTarget.model_fields)


class CheckedYamlSource(YamlConfigSettingsSource):
    """pydantic-settings' YAML source, reading the file through `check_yaml`."""

    def _read_file(self, file_path: Path | Traversable) -> dict[str, Any]:
        import yaml

        path = Path(str(file_path))
        try:
            with file_path.open(encoding="utf-8") as handle:
                data = yaml.safe_load(handle)
        except UnicodeDecodeError:
            raise ConfigError(
                f"cannot read YAML config {str(path)!r}: not UTF-8 text", "save it as UTF-8"
            ) from None
        return check_yaml(data, path)


def _check_dotenv() -> None:
    """Every `SENTPIPE_*` name in `.env` is a setting or read elsewhere (see
    `_DOTENV_OTHERS`); other names (e.g. compose's `TIMESCALE_PASSWORD`) are left alone."""
    if not Path(DOTENV_FILE).is_file():
        return
    from dotenv import dotenv_values

    known = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    for name in dotenv_values(DOTENV_FILE):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in known or upper in _DOTENV_OTHERS:
            continue
        if not upper.startswith(_DOTENV_TOOL_PREFIXES):
            raise _unknown(f"setting `{name}` in {DOTENV_FILE}", upper, sorted(known))


# --- loading -----------------------------------------------------------------------


def _resolve_yaml(config_file: Path | None) -> Path | None:
    """`--config` wins; then `SENTPIPE_CONFIG` from the environment, then from `.env`."""
    if config_file is not None:
        path = config_file
    elif os.environ.get(f"{ENV_PREFIX}CONFIG"):
        path = Path(os.environ[f"{ENV_PREFIX}CONFIG"])
    else:
        from dotenv import dotenv_values

        value = (
            dotenv_values(DOTENV_FILE).get(f"{ENV_PREFIX}CONFIG")
            if Path(DOTENV_FILE).is_file()
            else None
        )
        if not value:
            return None
        path = Path(value)
    path = path.expanduser()
    if not path.is_file():
        raise ConfigError(
            f"config file {str(path)!r} does not exist",
            "pass an existing YAML file with --config or fix SENTPIPE_CONFIG",
        )
    return path


@contextmanager
def _yaml_context(path: Path | None) -> Iterator[None]:
    token = _yaml_file.set(path)
    try:
        yield
    finally:
        _yaml_file.reset(token)


def _describe(error: ValidationError) -> str:
    found = error.errors()
    first = next((e for e in found if e["type"] == "extra_forbidden"), found[0])  # a typo first
    loc = first["loc"]
    if first["type"] == "extra_forbidden" and len(loc) == 3 and isinstance(loc[1], int):
        where = f"key `{loc[2]}` in {loc[0]} item {loc[1] + 1}"
        return _unknown(where, str(loc[2]), SubredditTarget.model_fields).reason
    if loc and loc[0] == "topics" and len(loc) >= 2:
        return _topic_problem(first["type"], loc, first["msg"])
    where = ".".join(str(part) for part in loc) or "settings"
    return f"invalid setting {where}: {first['msg'].removeprefix('Value error, ')}"


def _invalid(
    error: ValidationError, config_file: Path | None, given: dict[str, Any]
) -> ConfigError:
    """The ConfigError for a bad value: which setting, the value (never a secret's) and
    where it came from (`SENTPIPE_X in .env`), so the user knows what to change."""
    first = error.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else ""
    field = Settings.model_fields.get(name)
    if field is None or first["type"] == "extra_forbidden" or name == "topics":
        return ConfigError(
            _describe(error), "check the SENTPIPE_* variables, .env and the YAML file"
        )
    try:
        origin = setting_origins(config_file, **given).get(name, "default")
    except Exception:  # the same bad value again: say less rather than fail here
        origin = "default"
    variable = f"SENTPIPE_{name.upper()}"
    place = {
        "cli": "on the command line",
        "env": f"from {variable} in the environment",
        ".env": f"from {variable} in .env",
    }.get(origin, f"from `{name}:` in the YAML file" if origin.startswith("yaml") else "")
    secret = "SecretStr" in str(field.annotation)
    value = (
        ""
        if secret or not isinstance(first.get("input"), str | int | float)
        else (f" = {first['input']!r}")
    )
    message = first["msg"].removeprefix("Value error, ")
    return ConfigError(
        f"invalid setting {name}{value}{' ' + place if place else ''}: {message}",
        f"fix or unset {variable}" if origin in ("env", ".env") else "fix the value",
    )


def _topic_problem(kind: str, loc: tuple[Any, ...], message: str) -> str:
    """One `topics:` entry's problem in the words of the file (docs/topics.md)."""
    name = loc[1]
    if kind == "extra_forbidden" and len(loc) == 3:
        return _unknown(
            f"key `{loc[2]}` in topic {name}", str(loc[2]), TopicSettings.model_fields
        ).reason
    if kind == "missing" and loc[2:] == ("query",):
        return f"topic {name} has no `query:`"
    if len(loc) == 2:
        return f"topic {name} must be a mapping of `query:` and, optionally, `subreddits:`"
    where = ".".join(map(str, loc[2:]))
    return f"invalid topic {name}, `{where}`: {message.removeprefix('Value error, ')}"


def load_settings(
    config_file: Path | None = None, *, check_database: bool = True, **overrides: Any
) -> Settings:
    """Build settings; `overrides` are CLI flags (None means 'not given').

    Raises `ConfigError` for a bad value, YAML file or `.env` name, and (unless
    `check_database=False`, for `config show`) for a database URL sentpipe refuses."""
    given = {key: value for key, value in overrides.items() if value is not None}
    yaml_path = _resolve_yaml(config_file)
    _check_dotenv()
    try:
        with _yaml_context(yaml_path):
            settings = Settings(**given)
    except ValidationError as error:
        raise _invalid(error, config_file, given) from error
    except Exception as error:  # YAML syntax errors and the like
        if yaml_path is not None and type(error).__module__.startswith("yaml"):
            raise ConfigError(
                f"cannot read YAML config {str(yaml_path)!r}: {error}".splitlines()[0],
                "fix the YAML syntax",
            ) from error
        raise
    if check_database:
        _ = settings.database  # parses the URL: ConfigError when refused
        topics_from(settings.topics)  # ConfigError naming a topic's malformed query
    return settings


def setting_origins(config_file: Path | None = None, **overrides: Any) -> dict[str, str]:
    """Where each field's effective value came from: cli, env, .env, yaml or default."""
    given = {key: value for key, value in overrides.items() if value is not None}
    yaml_path = _resolve_yaml(config_file)
    layers: list[tuple[str, dict[str, Any]]] = [
        ("cli", InitSettingsSource(Settings, init_kwargs=given)()),
        ("env", EnvSettingsSource(Settings)()),
        (".env", DotEnvSettingsSource(Settings, env_file=DOTENV_FILE)()),
    ]
    if yaml_path is not None:
        layers.append((f"yaml ({yaml_path})", CheckedYamlSource(Settings, yaml_path)()))
    origins: dict[str, str] = {}
    for name in Settings.model_fields:
        origins[name] = next((label for label, values in layers if name in values), "default")
    return origins
