"""Shared fixtures: real database servers and the project's fake Reddit API."""

pytest_plugins = [
    "tests.fixtures.databases",
    "tests.fixtures.fake_reddit",
    "tests.fixtures.tcp_proxy",
]
