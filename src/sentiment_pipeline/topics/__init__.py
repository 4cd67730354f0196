"""Topics: which stored events are about what (docs/topics.md).

`tagger` holds the one rule that links an event to a topic (by its text, or by its
post); `store` the SQL of `event_topics` per backend; `match` re-matches stored events
after a topic is added or changed (`sentpipe topics match`) and sums them up for
`sentpipe topics list`. The writers (the database sinks, the CSV sink) link each event
as they store it, with the tagger built here from the settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sentiment_pipeline.sources.topic import topics_from
from sentiment_pipeline.topics.tagger import Link, Tagger, Via

if TYPE_CHECKING:
    from sentiment_pipeline.settings import Settings

__all__ = ["Link", "Tagger", "Via", "tagger_for"]


def tagger_for(settings: Settings) -> Tagger | None:
    """The tagger of the configured topics, or None when there is none. Raises
    `ConfigError` for a malformed query."""
    return Tagger(topics_from(settings.topics)) if settings.topics else None
