"""A fake Hacker News API on loopback: a TEST DOUBLE, not a client of the real HN.

One aiohttp server speaks both shapes a HN source needs: the Firebase API under
``/v0`` (items, ``maxitem``, ``updates``, story lists) and the Algolia HN Search API
under ``/api/v1`` (``items/{id}`` trees, ``search``, ``search_by_date`` with the
1,000-hit cap). Items come from a deterministic generator (``seed``); faults and a
request log let tests count and break requests. See ``docs/fake-hn.md``.
"""

from __future__ import annotations

from .config import ROUTES, FakeHNConfig, FaultSpec
from .runner import RunningFakeHN, run_fake_hn, serve, serve_in_thread
from .server import FakeHN

__all__ = [
    "ROUTES",
    "FakeHN",
    "FakeHNConfig",
    "FaultSpec",
    "RunningFakeHN",
    "run_fake_hn",
    "serve",
    "serve_in_thread",
]
