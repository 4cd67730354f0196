"""Hacker News benchmark: requests for a whole thread, and (to come) the scrape's events/s.

Run: .venv/bin/python bench/hn.py

  (a) A story with N comments (N = 10, 100, 1,000; the fake HN API's `huge_thread`,
      one fake per N, no deleted or dead items): the requests to read it whole through
      Algolia's `items/{id}` (one) against the Firebase API, which gives one item per
      request, walked through `kids` (N + 1, and as many more as there are deleted or
      dead items under it). Both through sentpipe's `HNClient` (the same pacing and
      retries), counted by its request meter, and the live comments each returns
      (Algolia leaves out dead items with their replies, which the Firebase walk still
      reaches).
"""

from __future__ import annotations

import asyncio
from typing import Any

from sentiment_pipeline.fake_hn import FakeHNConfig, serve_in_thread
from sentiment_pipeline.sources.hackernews.client import HNClient

SIZES = (10, 100, 1000)
UNPACED = 100_000_000  # requests an hour: the fake has no limit, and requests are counted


def _count_nodes(node: dict[str, Any]) -> set[int]:
    """Ids of the comments under an `items/{id}` node that have an author (live)."""
    found: set[int] = set()
    for child in node.get("children") or []:
        if child.get("author"):
            found.add(int(child["id"]))
        found |= _count_nodes(child)
    return found


async def _firebase_walk(client: HNClient, story: int) -> set[int]:
    """Every live comment under `story`, one `item/{id}` request per item."""
    found: set[int] = set()
    pending = [story]
    while pending:
        items = await asyncio.gather(*(client.item(ident) for ident in pending[:32]))
        pending = pending[32:]
        for item in items:
            if item is None:
                continue
            pending.extend(int(kid) for kid in item.get("kids") or [])
            if item.get("type") == "comment" and not item.get("deleted") and not item.get("dead"):
                found.add(int(item["id"]))
    return found


async def _one(size: int) -> tuple[int, int, int, int, int]:
    config = FakeHNConfig(seed=size, stories=5, huge_thread=size, deleted_share=0.0, dead_share=0.0)
    with serve_in_thread(config) as fake:
        stories = [item for item in fake.fake.store.items.values() if item.type == "story"]
        ident = next(item.id for item in stories if item.descendants == size)
        async with HNClient(
            fake.api_url, fake.search_url, "sentpipe-bench/1", per_hour=UNPACED
        ) as client:
            tree = await client.thread(ident)
            algolia = client.requests.total()
            via_thread = _count_nodes(tree or {})
        async with HNClient(
            fake.api_url, fake.search_url, "sentpipe-bench/1", per_hour=UNPACED
        ) as client:
            via_items = await _firebase_walk(client, ident)
            firebase = client.requests.total()
    return size, len(via_thread), len(via_items), algolia, firebase


def main() -> None:
    print("(a) requests to read a story with N comments whole (fake HN API):")
    print("        N   items/{id} (Algolia): requests, comments", end="")
    print("   item/{id} walk (Firebase): requests, comments")
    for size, by_tree, by_items, algolia, firebase in [asyncio.run(_one(n)) for n in SIZES]:
        print(
            f"    {size:>5,}   {algolia:>10,} {by_tree:>10,}   {firebase:>33,} {by_items:>9,}"
            f"   ({firebase / algolia:,.0f}x the requests)"
        )


if __name__ == "__main__":
    main()
