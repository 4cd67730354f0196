"""Hacker News settings: where its two APIs live and how sentpipe names itself there.

`HackerNewsSettings` is a base of `settings.Settings` (`SENTPIPE_HN_*`). The endpoints
are settings so that a stand-in server (the fake API of the tests and the demo) can take
their place, as the Reddit URLs can. Nothing here imports `settings.py`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import NoDecode

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_LIST_LIMIT",
    "DEFAULT_REQUESTS_PER_HOUR",
    "DEFAULT_SEARCH_URL",
    "HN_LOCK",
    "LISTS",
    "HackerNewsSettings",
    "user_agent",
]

LISTS = ("top", "new", "best", "ask", "show", "job")  # the story lists (`<name>stories`)
DEFAULT_LIST_LIMIT = 100  # stories read per list and run
HN_LOCK = "scrape-hn.lock"  # in the data dir: the lock of `scrape hn` and `refresh hn`
DEFAULT_REQUESTS_PER_HOUR = 10_000  # Algolia's documented limit per IP (hn.algolia.com/api)

DEFAULT_API_URL = "https://hacker-news.firebaseio.com/v0"  # the official Firebase API
DEFAULT_SEARCH_URL = "https://hn.algolia.com/api/v1"  # Algolia's HN search and item trees


class HackerNewsSettings(BaseModel):
    """The Firebase item API base (`hn_api_url`), Algolia's search API base
    (`hn_search_url`), the User-Agent sent to both (`hn_user_agent`; None: the
    descriptive default of `user_agent`), the story lists `sentpipe scrape hn` reads
    without `--list` (`hn_lists`: YAML list, or comma-separated in `SENTPIPE_HN_LISTS`),
    how many stories of each list a run reads (`hn_list_limit`) and the pace of both
    APIs (`hn_requests_per_hour`, default Algolia's documented 10,000 an hour per IP; not
    a CLI flag: raise it only for a stand-in server, as the benchmarks do)."""

    hn_api_url: str = DEFAULT_API_URL
    hn_search_url: str = DEFAULT_SEARCH_URL
    hn_user_agent: str | None = None
    hn_lists: Annotated[list[str], NoDecode] = Field(default_factory=list)
    hn_list_limit: int = Field(default=DEFAULT_LIST_LIMIT, ge=1, le=500)
    hn_requests_per_hour: int = Field(default=DEFAULT_REQUESTS_PER_HOUR, ge=1)

    @field_validator("hn_lists", mode="before")
    @classmethod
    def _split_lists(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("hn_lists", mode="after")
    @classmethod
    def _known_lists(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in LISTS]
        if unknown:
            raise ValueError(f"unknown list {unknown[0]!r}: choose from {', '.join(LISTS)}")
        return list(dict.fromkeys(value))


def user_agent(settings: HackerNewsSettings) -> str:
    """The User-Agent for both HN APIs: `hn_user_agent`, else
    `sentpipe/<version> (sentiment research collector; Hacker News source)`.

    Neither API asks for a format (Reddit does, see `sources.reddit.client.user_agent`);
    a product token with the version lets their operators tell sentpipe's traffic
    apart. The project declares no home page in pyproject.toml, so none is named."""
    if settings.hn_user_agent and settings.hn_user_agent.strip():
        return settings.hn_user_agent.strip()
    from sentiment_pipeline import __version__

    return f"sentpipe/{__version__} (sentiment research collector; Hacker News source)"
