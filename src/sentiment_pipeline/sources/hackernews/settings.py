"""Hacker News settings: where its two APIs live and how sentpipe names itself there.

`HackerNewsSettings` is a base of `settings.Settings` (`SENTPIPE_HN_*`). The endpoints
are settings so that a stand-in server (the fake API of the tests and the demo) can take
their place, as the Reddit URLs can. Nothing here imports `settings.py`.
"""

from __future__ import annotations

from pydantic import BaseModel

__all__ = ["DEFAULT_API_URL", "DEFAULT_SEARCH_URL", "HackerNewsSettings", "user_agent"]

DEFAULT_API_URL = "https://hacker-news.firebaseio.com/v0"  # the official Firebase API
DEFAULT_SEARCH_URL = "https://hn.algolia.com/api/v1"  # Algolia's HN search and item trees


class HackerNewsSettings(BaseModel):
    """The Firebase item API base (`hn_api_url`), Algolia's search API base
    (`hn_search_url`), and the User-Agent sent to both (`hn_user_agent`; None: the
    descriptive default of `user_agent`)."""

    hn_api_url: str = DEFAULT_API_URL
    hn_search_url: str = DEFAULT_SEARCH_URL
    hn_user_agent: str | None = None


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
