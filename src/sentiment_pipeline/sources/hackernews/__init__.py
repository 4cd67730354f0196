"""Hacker News as a source (`hackernews`): its events, text and settings.

- `settings.py`: `HackerNewsSettings` (`SENTPIPE_HN_*`: the Firebase and Algolia API
  bases, the user agent) and `user_agent`;
- `text.py`: HN's HTML as plain text (`html_to_text`) and the text rule `hn_text`;
- `payload.py`: event records from a Firebase item (`firebase_record`) and from an
  Algolia `items/{id}` tree (`algolia_records`); the story kinds (`story_kind`);
- `spec.py`: `SPEC`, the source's entry in the registry (`sources.source_spec`).

Pure code, no network yet (the scrape command comes with issue 25's later items).
See docs/hackernews.md.
"""
