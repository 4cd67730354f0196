"""Items that change over time, and ``GET /api/info`` that shows them as they are now.

Tests age a fake subreddit's posts and comments the way Reddit's do: scores and comment
counts grow, authors edit (``edited`` becomes the edit time), delete (author and text
``[deleted]``) or moderators and admins remove (text ``[removed]`` or a ``[ Removed by
Reddit … ]`` sentence, ``removed_by_category``).
``hide`` makes an item absent from ``/api/info`` (as for a private or banned subreddit).
Every change goes through the store's lock; the listing and comment routes show it too.
"""

from __future__ import annotations

from typing import Any

from . import ids, things
from .models import JSON, CommentNode, Post
from .store import Store, SubredditState

MAX_INFO_IDS = 100


class ItemNotFound(KeyError):
    """A fullname the fake does not serve."""


def _post(store: Store, fullname: str) -> tuple[SubredditState, Post]:
    kind, base36 = ids.split_fullname(fullname)
    found = store.find_post(base36) if kind == ids.POST_KIND else None
    if found is None:
        raise ItemNotFound(fullname)
    return found


def _comment(store: Store, fullname: str) -> tuple[SubredditState, Post, CommentNode] | None:
    """Find a comment; builds the trees of its subreddit's posts on first use."""
    kind, base36 = ids.split_fullname(fullname)
    if kind != ids.COMMENT_KIND:
        return None
    owner = store.comment_owner.get(base36)
    if owner is not None:
        state, post = owner
        return state, post, state.tree(post, store.config.clock()).by_id[base36]
    now = store.config.clock()
    for state in store.subreddits.values():
        for post in state.posts:
            built = state.trees.get(post.id)
            if built is None:
                if not post.num_comments:
                    continue
                first = post.comment_id_start
                start = ids.comment_id(state.ident.block, first)
                end = ids.comment_id(state.ident.block, first + post.num_comments - 1)
                if not (len(start), start) <= (len(base36), base36) <= (len(end), end):
                    continue
                built = state.tree(post, now)
            if base36 in built.by_id:
                for cid in built.by_id:
                    store.comment_owner[cid] = (state, post)
                return state, post, built.by_id[base36]
    return None


def _data(store: Store, fullname: str) -> tuple[str, JSON]:
    """The kind and the live ``data`` dict of a post or comment (not a copy)."""
    store.catch_up()  # a live item may be due
    kind, _ = ids.split_fullname(fullname)
    if kind == ids.POST_KIND:
        return kind, _post(store, fullname)[1].data
    found = _comment(store, fullname)
    if found is None:
        raise ItemNotFound(fullname)
    return kind, found[2].data


def info(store: Store, fullnames: list[str]) -> JSON:
    """The ``/api/info`` listing: the items found, in the order asked; others left out."""
    children: list[JSON] = []
    with store.lock:
        for name in fullnames:
            if name in store.hidden:
                continue
            try:
                kind, data = _data(store, name)
            except (ItemNotFound, ValueError):
                continue
            children.append(things.thing(kind, things.copied(data)))
    return things.listing(children)


def grow(store: Store, fullname: str, score: int | None = None, comments: int = 0) -> list[str]:
    """Set an item's score and add ``comments`` new top-level comments (posts only, created
    now, also in the comment listing); returns the new comments' fullnames."""
    with store.lock:
        kind, data = _data(store, fullname)
        if score is not None:
            data["score"] = data["ups"] = score
        if not comments:
            return []
        if kind != ids.POST_KIND:
            raise ValueError("only posts gain comments")
        state, post = _post(store, fullname)
        now = store.config.clock()
        state.tree(post, now)
        added: list[str] = []
        for _ in range(comments):
            cid = ids.comment_id(state.ident.block, state.take_comment_number())
            node = CommentNode(
                id=cid,
                parent_name=post.name,
                depth=0,
                score=1,
                created_utc=float(int(now)),
                data=_new_comment(cid, post, now),
            )
            state.attach(post, node)
            added.append(node.name)
        return added


def _new_comment(cid: str, post: Post, now: float) -> JSON:
    created = float(int(now))
    return {
        "id": cid,
        "name": ids.fullname(ids.COMMENT_KIND, cid),
        "parent_id": post.name,
        "link_id": post.name,
        "author": "late_commenter",
        "author_fullname": "t2_latecomer",
        "body": f"a late comment on {post.name}",
        "created": created,
        "created_utc": created,
        "edited": False,
        "score": 1,
        "ups": 1,
        "downs": 0,
        "subreddit": post.data.get("subreddit"),
        "subreddit_id": post.data.get("subreddit_id"),
        "permalink": f"{post.data.get('permalink', '')}{cid}/",
        "stickied": False,
        "distinguished": None,
        "score_hidden": False,
        "collapsed": False,
        "locked": False,
        "archived": False,
        "gilded": 0,
    }


def _reindex(store: Store, kind: str, fullname: str) -> None:
    """A post's text changed: the search index must see the new words."""
    if kind == ids.POST_KIND:
        state, post = _post(store, fullname)
        state.text_changed(post)


def edit(store: Store, fullname: str, text: str, title: str | None = None) -> None:
    """The author edits: new selftext (post) or body (comment), ``edited`` = now."""
    with store.lock:
        kind, data = _data(store, fullname)
        data["selftext" if kind == ids.POST_KIND else "body"] = text
        if title is not None and kind == ids.POST_KIND:
            data["title"] = title
        data["edited"] = float(int(store.config.clock()))
        _reindex(store, kind, fullname)


def delete(store: Store, fullname: str) -> None:
    """The author deletes the item: author and text ``[deleted]``, as Reddit shows it."""
    with store.lock:
        kind, data = _data(store, fullname)
        data["author"] = "[deleted]"
        data.pop("author_fullname", None)
        if kind == ids.POST_KIND:
            data["selftext"] = "[deleted]"
            data["removed_by_category"] = "deleted"
        else:
            data["body"] = "[deleted]"
        _reindex(store, kind, fullname)


def remove(
    store: Store,
    fullname: str,
    category: str = "moderator",
    text: str = "[removed]",
    title: str | None = None,
) -> None:
    """A moderator (or Reddit's admins) removes the item: its text becomes ``text``
    (``[removed]``; an admin removal shows a ``[ Removed by Reddit … ]`` sentence, a post's
    ``title`` too); posts get ``removed_by_category`` and comments lose their author, as
    Reddit shows them to other users."""
    with store.lock:
        kind, data = _data(store, fullname)
        if kind == ids.POST_KIND:
            data["selftext"] = text
            data["removed_by_category"] = category
            if title is not None:
                data["title"] = title
        else:
            data["body"] = text
            data["author"] = "[deleted]"
            data.pop("author_fullname", None)
        _reindex(store, kind, fullname)


def hide(store: Store, *fullnames: str) -> None:
    """Leave these items out of ``/api/info`` answers (a private or banned subreddit)."""
    with store.lock:
        store.hidden.update(fullnames)


def info_ids(query: Any) -> list[str]:
    """The ``id`` parameter (comma-separated fullnames), duplicates removed."""
    raw = str(query.get("id") or "")
    return list(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
