"""Hacker News as a source (`hackernews`): its events, text, settings and collector.

- `settings.py`: `HackerNewsSettings` (`SENTPIPE_HN_*`: the Firebase and Algolia API
  bases, the user agent, the lists a scrape reads) and `user_agent`;
- `text.py`: HN's HTML as plain text (`html_to_text`) and the text rule `hn_text`;
- `payload.py`: event records from a Firebase item (`firebase_record`) and from an
  Algolia `items/{id}` tree (`algolia_records`); the story kinds (`story_kind`);
- `client.py`: `HNClient`, both APIs paced, retried and counted;
- `search.py`: a topic's query as Algolia's search (`topic_search`);
- `collect.py`: `hn_records`, the records of a run over lists and topics;
- `spec.py`: `SPEC`, the source's entry in the registry (`sources.source_spec`).

The job that runs it is `scrape.hackernews` (`sentpipe scrape hn`). See
docs/hackernews.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentiment_pipeline.sources.hackernews.collect import hn_records

__all__ = ["hn_records"]


def __getattr__(name: str) -> Any:
    if name == "hn_records":  # imported when used: the registry needs only spec.py
        from sentiment_pipeline.sources.hackernews.collect import hn_records

        return hn_records
    raise AttributeError(name)
