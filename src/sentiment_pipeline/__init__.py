"""sentpipe: collect Reddit posts and comments into TimescaleDB and CSV for research.

Importing the package stays cheap (no SQLAlchemy, asyncpraw or pydantic here) so that
`sentpipe --help`, shell completion and cron start fast.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
