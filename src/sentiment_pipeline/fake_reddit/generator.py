"""Deterministic post and comment generation.

Everything derives from ``random.Random(f"{seed}:{name}:...")`` so the same
spec always yields the same ids, times and text; comment trees are built on
first access because a 5000-post load-test subreddit should start instantly.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from . import hostile, ids, rich, text
from .config import SubredditSpec
from .models import CommentNode, CommentTree, Post


@dataclass(frozen=True)
class SubredditIdentity:
    """The stable naming facts every generated thing repeats."""

    name: str
    block: int
    seed: int
    comments_per_post: int
    hostile: bool

    @property
    def fullname(self) -> str:
        """The ``t5_`` fullname."""
        return ids.fullname(ids.SUBREDDIT_KIND, ids.subreddit_id(self.block))

    @classmethod
    def of(cls, spec: SubredditSpec, block: int) -> SubredditIdentity:
        """Build the identity of ``spec`` placed in id block ``block``."""
        return cls(spec.name, block, spec.seed, spec.comments_per_post, spec.hostile)


def _rng(ident: SubredditIdentity, *parts: object) -> random.Random:
    return random.Random(":".join(str(p) for p in (ident.seed, ident.name.lower(), *parts)))


def timeline(spec: SubredditSpec, count: int, newest: float) -> list[float]:
    """Creation times, oldest first, ending at ``newest`` with jittered gaps."""
    rng = random.Random(f"{spec.seed}:{spec.name.lower()}:timeline")
    times = [newest]
    for _ in range(count - 1):
        gap = spec.post_interval_seconds * (0.2 + 1.6 * rng.random())
        times.append(times[-1] - gap)
    return [float(int(t)) for t in reversed(times)]


def slug(title: str) -> str:
    """The permalink slug of a title: its first six words, lower-case, joined by ``_``."""
    words = re.findall(r"[a-z0-9]+", title.lower())[:6]
    return "_".join(words) or "post"


def _comment_count(rng: random.Random, mean: int) -> int:
    return rng.randint(0, 2 * mean) if mean > 0 else 0


def make_post(
    ident: SubredditIdentity,
    index: int,
    created_utc: float,
    comment_id_start: int,
    now: float,
    stickied: bool = False,
    override: dict[str, Any] | None = None,
) -> Post:
    """Generate post number ``index`` of a subreddit."""
    rng = _rng(ident, "post", index)
    post_id = ids.post_id(ident.block, index)
    title = text.title(rng)
    is_self = rng.random() < 0.75
    body = text.body(rng) if is_self else ""
    score = max(0, int(rng.paretovariate(1.1) * 3) - 2)
    fate = rng.random()
    author = text.author(rng)
    data: dict[str, Any] = {
        "id": post_id,
        "name": ids.fullname(ids.POST_KIND, post_id),
        "title": title,
        "selftext": body,
        "author": author,
        "author_fullname": ids.fullname(ids.ACCOUNT_KIND, ids.to_base36(rng.randint(36**5, 36**7))),
        "author_flair_text": None,
        "subreddit": ident.name,
        "subreddit_id": ident.fullname,
        "subreddit_name_prefixed": f"r/{ident.name}",
        "subreddit_type": "public",
        "created": created_utc,
        "created_utc": created_utc,
        "edited": float(int(created_utc + rng.randint(60, 7200))) if rng.random() < 0.1 else False,
        "score": score,
        "ups": score,
        "downs": 0,
        "upvote_ratio": round(rng.uniform(0.5, 1.0), 2),
        "num_comments": _comment_count(rng, ident.comments_per_post),
        "num_crossposts": 0,
        "permalink": f"/r/{ident.name}/comments/{post_id}/{slug(title)}/",
        "url": "",
        "domain": f"self.{ident.name}" if is_self else "example.com",
        "is_self": is_self,
        "is_video": False,
        "over_18": rng.random() < 0.03,
        "spoiler": rng.random() < 0.02,
        "stickied": stickied,
        "pinned": False,
        "locked": stickied,
        "archived": False,
        "hidden": False,
        "link_flair_text": text.flair(rng),
        "link_flair_css_class": None,
        "link_flair_richtext": [],
        "author_flair_richtext": [],
        "distinguished": "moderator" if stickied else None,
        "removed_by_category": None,
        "thumbnail": "self" if is_self else "default",
        "gilded": 0,
        "gildings": {},
        "all_awardings": [],
        "total_awards_received": 0,
    }
    data["url"] = (
        f"https://www.reddit.com{data['permalink']}"
        if is_self
        else f"https://example.com/{slug(title)}"
    )
    if data["link_flair_text"]:
        data["link_flair_css_class"] = str(data["link_flair_text"]).lower().replace(" ", "-")
        data["link_flair_richtext"] = rich.flair_richtext(str(data["link_flair_text"]))
    if fate < 0.04:
        hostile.apply(
            data,
            {
                "author": "[deleted]",
                "selftext": "[deleted]",
                "removed_by_category": "deleted",
                hostile.DROP: ["author_fullname"],
            },
        )
    elif fate < 0.07:
        hostile.apply(data, {"selftext": "[removed]", "removed_by_category": "moderator"})
    if override:
        hostile.apply(data, override)
        if data.get("is_gallery"):
            data["url"] = f"https://www.reddit.com/gallery/{post_id}"
    return Post(
        id=post_id,
        index=index,
        created_utc=created_utc,
        score=score,
        num_comments=int(data["num_comments"]),
        stickied=stickied,
        comment_id_start=comment_id_start,
        data=data,
    )


def _pick_parent(rng: random.Random, nodes: list[CommentNode]) -> CommentNode | None:
    """Top-level 30% of the time, else a recent comment (which grows deep threads)."""
    if not nodes or rng.random() < 0.3:
        return None
    back = min(len(nodes) - 1, int(rng.expovariate(0.35)))
    return nodes[len(nodes) - 1 - back]


def make_comment_tree(ident: SubredditIdentity, post: Post, now: float) -> CommentTree:
    """Generate exactly ``post.num_comments`` comments for ``post``, none after ``now``."""
    rng = _rng(ident, "comments", post.index)
    roots: list[CommentNode] = []
    nodes: list[CommentNode] = []
    for offset in range(post.num_comments):
        cid = ids.comment_id(ident.block, post.comment_id_start + offset)
        parent = _pick_parent(rng, nodes)
        parent_time = parent.created_utc if parent else post.created_utc
        created = float(int(min(now, parent_time + rng.uniform(20, 3600))))
        node = make_comment(rng, ident, post, cid, parent, created)
        (parent.children if parent else roots).append(node)
        nodes.append(node)
    return CommentTree(roots=roots, by_id={n.id: n for n in nodes})


def make_comment(
    rng: random.Random,
    ident: SubredditIdentity,
    post: Post,
    cid: str,
    parent: CommentNode | None,
    created: float,
) -> CommentNode:
    """One comment (t1) of ``post``, a reply to ``parent`` or top-level, from ``rng``."""
    author = text.author(rng)
    body = (hostile.comment_body(rng) if ident.hostile else None) or text.body(rng, 2) or "ok"
    score = int(rng.gauss(3, 6))
    data: dict[str, Any] = {
        "id": cid,
        "name": ids.fullname(ids.COMMENT_KIND, cid),
        "parent_id": parent.name if parent else post.name,
        "link_id": post.name,
        "author": author,
        "author_fullname": ids.fullname(ids.ACCOUNT_KIND, ids.to_base36(rng.randint(36**5, 36**7))),
        "body": body,
        "created": created,
        "created_utc": created,
        "edited": float(int(created + rng.randint(30, 900))) if rng.random() < 0.1 else False,
        "score": score,
        "ups": score,
        "downs": 0,
        "controversiality": 1 if rng.random() < 0.05 else 0,
        "subreddit": ident.name,
        "subreddit_id": ident.fullname,
        "subreddit_name_prefixed": f"r/{ident.name}",
        "permalink": f"{post.data.get('permalink', '')}{cid}/",
        "is_submitter": author == post.data.get("author"),
        "stickied": False,
        "distinguished": None,
        "score_hidden": False,
        "collapsed": False,
        "locked": False,
        "archived": False,
        "author_flair_richtext": [],
        "gilded": 0,
        "gildings": {},
        "all_awardings": [],
        "total_awards_received": 0,
    }
    fate = rng.random()
    if fate < 0.05:
        hostile.apply(
            data,
            {"author": "[deleted]", "body": "[deleted]", hostile.DROP: ["author_fullname"]},
        )
    elif fate < 0.08:
        hostile.apply(
            data,
            {"author": "[deleted]", "body": "[removed]", hostile.DROP: ["author_fullname"]},
        )
    return CommentNode(
        id=cid,
        parent_name=str(data["parent_id"]),
        depth=parent.depth + 1 if parent else 0,
        score=score,
        created_utc=created,
        data=data,
    )


def make_about(ident: SubredditIdentity, created_utc: float, post_count: int) -> dict[str, Any]:
    """The ``t5`` data of ``GET /r/{name}/about``."""
    rng = _rng(ident, "about")
    return {
        "id": ident.fullname.split("_", 1)[1],
        "name": ident.fullname,
        "display_name": ident.name,
        "display_name_prefixed": f"r/{ident.name}",
        "title": f"{ident.name} (fake subreddit, test double)",
        "public_description": "Generated by sentiment_pipeline.fake_reddit.",
        "description": text.paragraph(rng, 2),
        "subscribers": rng.randint(1_000, 5_000_000) + post_count,
        "active_user_count": rng.randint(10, 5_000),
        "created": created_utc,
        "created_utc": created_utc,
        "over18": False,
        "quarantine": False,
        "subreddit_type": "public",
        "lang": "en",
        "url": f"/r/{ident.name}/",
    }
