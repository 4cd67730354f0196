"""Topics: a name plus a query over what posts and comments say (docs/topics.md).

- `query.py`: the query language: `parse` (text -> `Query`, or a `ConfigError` naming
  the position), `render` (the canonical text back) and `Matcher` (one compiled query,
  run on many texts: a cheap literal prefilter, then whole-word matching).

A leaf: nothing here imports the pipeline, the database, the sources or the CLI.
"""
