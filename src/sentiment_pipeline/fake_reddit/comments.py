"""Comment tree rendering: budgeted trees, ``more`` stubs and morechildren.

Reddit never sends a whole big thread at once: it renders a budget of comments,
collapses the rest into ``more`` objects (resolved via /api/morechildren) and
cuts deep chains with "continue this thread" stubs (``count: 0``, resolved via
``GET /comments/{id}/_/{comment_id}``). asyncpraw's ``replace_more`` depends on
every comment appearing exactly once across those answers; this module keeps
that invariant by giving each comment exactly one home.

``listing_item`` renders a comment for the subreddit comment listing
(``/r/{sub}/comments``), which carries its post's context as well.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import things
from .models import JSON, CommentNode, CommentTree, Post


@dataclass
class _Budget:
    left: int


def _sort_key(sort: str | None) -> tuple[bool, str]:
    if sort == "new":
        return True, "created_utc"
    if sort == "old":
        return False, "created_utc"
    return (
        True,
        "score",
    )  # confidence/top/best/controversial/qa all approximate to score


def sort_nodes(nodes: list[CommentNode], sort: str | None) -> list[CommentNode]:
    """Order siblings the way ``sort`` would show them (stable on id)."""
    reverse, attr = _sort_key(sort)
    by_id = sorted(nodes, key=lambda n: n.id)
    return sorted(by_id, key=lambda n: float(getattr(n, attr)), reverse=reverse)


def _preorder(nodes: list[CommentNode], sort: str | None) -> list[CommentNode]:
    out: list[CommentNode] = []
    stack = list(reversed(sort_nodes(nodes, sort)))
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(sort_nodes(node.children, sort)))
    return out


@dataclass(frozen=True)
class TreeShape:
    """How much of a tree one answer shows."""

    budget: int
    max_depth: int
    sort: str | None


def _render_forest(
    nodes: list[CommentNode], depth: int, parent: str, budget: _Budget, shape: TreeShape
) -> list[JSON]:
    out: list[JSON] = []
    ordered = sort_nodes(nodes, shape.sort)
    for i, node in enumerate(ordered):
        if budget.left <= 0:
            hidden = [n.id for n in _preorder(ordered[i:], shape.sort)]
            out.append(things.more(parent, hidden, depth))
            break
        budget.left -= 1
        out.append(_render_comment(node, depth, budget, shape))
    return out


def _render_comment(node: CommentNode, depth: int, budget: _Budget, shape: TreeShape) -> JSON:
    if not node.children:
        replies: JSON | str = ""
    elif depth + 1 >= shape.max_depth:
        replies = things.comment_listing([things.more(node.name, [], depth + 1)])
    else:
        kids = _render_forest(node.children, depth + 1, node.name, budget, shape)
        replies = things.comment_listing(kids)
    return things.thing("t1", things.copied(node.data, depth=depth, replies=replies))


def render_tree(tree: CommentTree, link_name: str, shape: TreeShape) -> JSON:
    """The comment listing of ``GET /comments/{id}/``."""
    children = _render_forest(tree.roots, 0, link_name, _Budget(shape.budget), shape)
    return things.comment_listing(children)


def render_focus(node: CommentNode, shape: TreeShape) -> JSON:
    """Listing of ``GET /comments/{id}/_/{comment_id}``: one comment and its replies."""
    return things.comment_listing([_render_comment(node, 0, _Budget(shape.budget), shape)])


def more_children(tree: CommentTree, wanted: list[str], sort: str | None, batch: int) -> list[JSON]:
    """Flat things for /api/morechildren, parents first; leftovers become a ``more``."""
    wanted_set = set(wanted)
    nodes = [n for n in _preorder(tree.roots, sort) if n.id in wanted_set]
    shown, rest = nodes[:batch], nodes[batch:]
    out = [things.thing("t1", things.copied(n.data, depth=n.depth, replies="")) for n in shown]
    if rest:
        out.append(things.more(rest[0].parent_name, [n.id for n in rest], rest[0].depth))
    return out


REDDIT_URL = "https://www.reddit.com"  # Reddit makes ``link_permalink`` absolute


# Fields of Reddit's comment-listing items that are the same for every comment a
# logged-out reader sees (recorded answers of /r/{sub}/comments.json, 2022 and 2026);
# the stored comment's own fields win. ``body_html`` is left out: the fake renders no
# markdown.
def _constants() -> JSON:
    """A fresh dict (fresh empty lists) per item; a literal is the fastest way."""
    return {
        "approved_at_utc": None,
        "approved_by": None,
        "associated_award": None,
        "author_flair_background_color": None,
        "author_flair_css_class": None,
        "author_flair_template_id": None,
        "author_flair_text": None,
        "author_flair_text_color": None,
        "author_flair_type": "text",
        "author_is_blocked": False,
        "author_patreon_flair": False,
        "author_premium": False,
        "awarders": [],
        "banned_at_utc": None,
        "banned_by": None,
        "can_gild": False,
        "can_mod_post": False,
        "collapsed_because_crowd_control": None,
        "collapsed_reason": None,
        "collapsed_reason_code": None,
        "comment_type": None,
        "likes": None,
        "mod_note": None,
        "mod_reason_by": None,
        "mod_reason_title": None,
        "mod_reports": [],
        "no_follow": True,
        "num_reports": None,
        "removal_reason": None,
        "report_reasons": None,
        "saved": False,
        "send_replies": True,
        "top_awarded_type": None,
        "treatment_tags": [],
        "unrepliable_reason": None,
        "user_reports": [],
        # in every generated comment, not in those ``changes.grow`` adds:
        "author_flair_richtext": [],
        "controversiality": 0,
        "gildings": {},
        "all_awardings": [],
        "total_awards_received": 0,
    }


LISTING_CONSTANTS: JSON = _constants()


def listing_item(node: CommentNode, post: Post) -> JSON:
    """A t1 thing of the comment listing: the comment's own fields as its tree shows
    them (no ``depth``, ``replies: ""``) plus its post's context, as Reddit sends it."""
    data = _constants()
    data.update(things.copied(node.data))
    data["replies"] = ""
    data.pop("depth", None)
    link = post.data
    data.update(
        {
            "link_id": post.name,
            "link_title": link.get("title"),
            "link_author": link.get("author"),
            "link_permalink": REDDIT_URL + str(link.get("permalink", "")),
            "link_url": link.get("url"),
            "num_comments": post.num_comments,
            "over_18": bool(link.get("over_18", False)),
            "quarantine": False,  # quarantined subreddits are never listed
            "subreddit_type": link.get("subreddit_type", "public"),
        }
    )
    data.setdefault("subreddit_name_prefixed", f"r/{data.get('subreddit')}")
    data.setdefault("is_submitter", data.get("author") == link.get("author"))
    return things.thing("t1", data)
