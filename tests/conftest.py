"""Shared fixtures: isolation from the checkout's environment (autouse), real database
servers, the project's fake Reddit API. Helpers to import: ``tests.fixtures.events``
(the event builder, the rows-stored reader), ``tests.fixtures.cli`` (the CLI invoker),
``tests.fixtures.isolation.ROOT`` (the checkout, for repository files)."""

pytest_plugins = [
    "tests.fixtures.isolation",
    "tests.fixtures.databases",
    "tests.fixtures.fake_reddit",
    "tests.fixtures.tcp_proxy",
]
