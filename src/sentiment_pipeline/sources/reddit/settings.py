"""Reddit's settings: the API client, the comment and refresh schedule, the targets.

Two pydantic models that `settings.Settings` takes as bases (it lists them where the
fields have always been, so `sentpipe config show` keeps its order): `RedditSettings`
(`SENTPIPE_REDDIT_*`, `comment_refresh_hours`, `refresh_*`, `deleted_content`) and
`RedditTargets` (the YAML file's `subreddits:` list of `SubredditTarget`). The names are
the public `SENTPIPE_*` and YAML names. Nothing here imports `settings.py`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

__all__ = [
    "CommentsFrom",
    "RedditSettings",
    "RedditTargets",
    "SortOrder",
    "SubredditTarget",
    "TimeFilter",
]

SortOrder = Literal["new", "hot", "top", "rising", "controversial"]
TimeFilter = Literal["hour", "day", "week", "month", "year", "all"]
CommentsFrom = Literal["listing", "trees", "auto"]


class SubredditTarget(BaseModel):
    """One scrape target from the YAML file's `subreddits:` list."""

    model_config = {"extra": "forbid"}

    name: str
    sort: SortOrder = "new"
    time_filter: TimeFilter = "day"
    limit: int | None = Field(default=None, ge=1)
    comments: bool = True
    comment_depth: int | None = Field(default=None, ge=0)
    more_comments: int = Field(default=32, ge=0)

    @field_validator("name")
    @classmethod
    def _clean_name(cls, value: str) -> str:
        name = value.strip()
        for prefix in ("/r/", "r/"):  # in any case: Reddit's own links say r/ or R/
            if name[: len(prefix)].lower() == prefix:
                name = name[len(prefix) :]
                break
        if not name or not all(c.isalnum() or c == "_" for c in name):
            raise ValueError(f"{value!r} is not a subreddit name (letters, digits, _)")
        return name


class RedditSettings(BaseModel):
    """The Reddit API client (`SENTPIPE_REDDIT_*`), how long comments are fetched again
    (`comment_refresh_hours`), where comments come from (`comments_from`, see
    docs/scrape.md), the request budget of `--every` (`max_requests_per_hour`),
    and `sentpipe refresh reddit`'s schedule and policy."""

    reddit_client_id: str | None = None
    reddit_client_secret: SecretStr | None = None
    reddit_user_agent: str | None = None
    reddit_username: str | None = None
    reddit_password: SecretStr | None = None
    reddit_oauth_url: str = "https://oauth.reddit.com"
    reddit_url: str = "https://www.reddit.com"

    comment_refresh_hours: float = Field(default=48.0, ge=0)
    comments_from: CommentsFrom = "auto"
    max_requests_per_hour: int = Field(default=3000, ge=1)  # --every's planned budget

    refresh_max_age: str = "72h"  # `sentpipe refresh`: revisit items up to this age
    refresh_schedule: str = "1h,24h,72h"  # ages at which an item is due again
    deleted_content: Literal["redact", "keep"] = "redact"  # see docs/refresh.md

    @field_validator("refresh_max_age", "refresh_schedule", mode="after")
    @classmethod
    def _durations(cls, value: str) -> str:
        from sentiment_pipeline.errors import ConfigError
        from sentiment_pipeline.timeparse import parse_duration

        for part in value.split(","):
            try:
                parse_duration(part.strip())
            except ConfigError as error:
                raise ValueError(error.reason) from None
        return value


class RedditTargets(BaseModel):
    """The subreddits to scrape, with their per-target options (YAML only)."""

    subreddits: list[SubredditTarget] = Field(default_factory=list)
