"""No secret in any output: the database URL's password, written raw or percent-encoded.

Case 36 (a password holding `@ / # ? %`): the raw forms are refused with exit 2 and the
"percent-encode" hint, printing no part of the password; the percent-encoded form logs in
to the real servers. Properties: for random passwords over printable ASCII and Unicode,
no output (`config show`, `db init`/`db status`/`stats`, ingest and sentiment runs, the
connection-error paths, logs, dead letters, CSV and metrics files) holds any 4-character
piece of the password. A piece that also shows up when the same commands run with
another password is ordinary text (a word, a number, a path), not a leak: such passwords
are discarded (`assume`). CI runs a fixed, derandomized set of examples.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from hypothesis import Phase, assume, given, settings
from hypothesis import strategies as st
from psycopg import sql

from sentiment_pipeline.db.url import DatabaseURL, parse_database_url
from tests.fixtures.cli import invoke
from tests.fixtures.events import ndjson_line

SENTPIPE = Path(sys.executable).with_name("sentpipe")
IN_CI = os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}
HINT = "percent-encode the password in SENTPIPE_DATABASE_URL (for example `@` as `%40`)"

# password | two fragments of it that must never be printed (case 36's run.sh)
CASE_36 = [
    ("Kp7@mmq8", "Kp7", "mmq8"),
    ("Tr4/uuv9", "Tr4", "uuv9"),
    ("Wx2#yyz3", "Wx2", "yyz3"),
    ("Lm3?rr7t", "Lm3", "rr7t"),
    ("Bn5%zzk1", "Bn5", "zzk1"),
]
CASE_36_PASSWORD = "Zq9@ss%2F/w:d#?x"  # its percent-encoded form must log in


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _flat(text: str) -> str:
    return " ".join(text.split())


# --- what counts as a leak -----------------------------------------------------------


def _pieces(password: str) -> set[str]:
    """Every 4-character piece of the password (the whole of a shorter one)."""
    if len(password) <= 4:
        return {password}
    return {password[i : i + 4] for i in range(len(password) - 3)}


def _forms(piece: str) -> set[str]:
    """A piece as output could hold it: as is, JSON-escaped, repr-escaped, URL-encoded."""
    return {
        piece,
        json.dumps(piece)[1:-1],
        json.dumps(piece, ensure_ascii=False)[1:-1],
        repr(piece)[1:-1],
        quote(piece, safe=""),
    }


def _found(password: str, texts: list[str]) -> set[str]:
    """The pieces of `password` that occur, in any form, in any of `texts`."""
    return {
        piece
        for piece in _pieces(password)
        if any(form in text for form in _forms(piece) for text in texts)
    }


_VOLATILE = set("0123456789.:-+ TZ\n")  # timestamps, durations, counts: differ run to run


def _ordinary(password: str, control: list[str]) -> bool:
    """No piece of `password` is text the commands print anyway: it neither occurs in
    the outputs of the same commands run with another password, nor is made only of the
    characters of timestamps and counts."""
    volatile = any(set(piece) <= _VOLATILE for piece in _pieces(password))
    return not volatile and not _found(password, control)


def _files(folder: Path) -> list[str]:
    """The text of every file under `folder` (dead letters, CSV, spool, metrics)."""
    return [
        path.read_bytes().decode("utf-8", "replace")
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    ]


def _run(*args: str, env: dict[str, str]) -> tuple[int, str]:
    result = invoke(*args, env=env)
    return result.exit_code, result.stdout + result.stderr


# --- case 36: the raw forms, no server needed -----------------------------------------


@pytest.mark.parametrize(("password", "first", "second"), CASE_36)
def test_raw_special_character_is_refused_printing_no_part_of_it(
    password: str, first: str, second: str
) -> None:
    env = {"SENTPIPE_DATABASE_URL": f"postgresql://sp_case36:{password}@127.0.0.1:5432/case36"}
    shown = invoke("config", "show", "--json", env=env)
    assert shown.exit_code == 2, shown.output
    data = json.loads(shown.stdout)  # the settings, then the refusal on stderr
    assert data["database_url"] == {
        "value": "postgresql://sp_case36:***@127.0.0.1:5432/case36",
        "source": "env",
    }
    assert data["database (effective)"]["value"] is None
    for args in (
        ("config", "show"),
        ("stats",),
        ("db", "init"),
        ("db", "status"),
        ("export", "csv", "-o", "-"),
    ):
        result = invoke(*args, env=env)
        assert result.exit_code == 2, (args, result.output)
        assert HINT.lower() in _flat(result.stderr).lower(), (args, result.stderr)
        assert first not in result.output and second not in result.output, result.output
    assert first not in shown.output and second not in shown.output


@pytest.mark.parametrize(("password", "first", "second"), CASE_36)
def test_installed_command_refuses_raw_special_character(
    password: str, first: str, second: str, tmp_path: Path
) -> None:
    url = f"postgresql://sp_case36:{password}@127.0.0.1:5432/case36"
    env = {**os.environ, "SENTPIPE_DATABASE_URL": url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [str(SENTPIPE), "stats"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("Error: the password in SENTPIPE_DATABASE_URL holds ")
    assert HINT.lower() in done.stderr.lower()
    assert "Internal error" not in done.stderr
    assert first not in done.stdout + done.stderr and second not in done.stdout + done.stderr


# --- driver text and the error boundary ----------------------------------------------

_PW = "Secr3t\nPw:/@x"  # with a line break: its first part must not survive the cut


def test_driver_messages_are_scrubbed_before_their_first_line_is_cut() -> None:
    """Whatever a driver echoes back (raw, percent-encoded, inside `repr`), the mapped
    error holds no part of the password, connecting or not, wrapped by SQLAlchemy or not."""
    import sqlalchemy.exc

    from sentiment_pipeline.db.errors import map_postgres_error

    url = parse_database_url(f"postgresql://u:{quote(_PW, safe='')}@127.0.0.1:9/d")
    echoed = f"failed for {_PW!r} or {quote(_PW, safe='')} or {_PW} at the end"
    for error in (
        psycopg.OperationalError(echoed),
        sqlalchemy.exc.OperationalError("SELECT 1", None, psycopg.OperationalError(echoed)),
    ):
        for connecting in (True, False):
            for retry in (True, False):
                mapped = map_postgres_error(url, error, connecting=connecting, retry=retry)
                assert mapped is not error
                assert "Secr" not in str(mapped) and "3t" not in str(mapped), str(mapped)
                assert "failed for '***' or *** or ***" in str(mapped)


def test_internal_error_line_is_scrubbed_of_the_configured_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sentiment_pipeline.cli.boundary import print_error
    from sentiment_pipeline.db.url import note_configured_url
    from sentiment_pipeline.errors import ConfigError

    note_configured_url(f"postgresql://u:{quote(_PW, safe='')}@h/d")
    try:
        print_error(ValueError(f"could not use {_PW} here"))
        print_error(ConfigError(f"a reason quoting {quote(_PW, safe='')}", "a hint"))
    finally:
        note_configured_url("")
    printed = capsys.readouterr().err
    assert "Internal error: ValueError: could not use *** here" in printed
    assert "Error: a reason quoting ***. A hint" in printed
    assert "Secr" not in printed


def test_a_url_option_libpq_rejects_is_a_config_error() -> None:
    port = _closed_port()
    env = {"SENTPIPE_DATABASE_URL": f"postgresql://u:Secr3tpw@127.0.0.1:{port}/d?foo=bar"}
    for args in (("stats",), ("db", "init")):
        result = invoke(*args, env=env)
        assert result.exit_code == 2, (args, result.output)
        assert "libpq cannot use SENTPIPE_DATABASE_URL" in result.stderr
        assert "foo" in result.stderr and "Secr3t" not in result.output


# --- case 36: the percent-encoded form logs in -----------------------------------------


class _Role:
    """A throwaway login role that owns one test database (see `_throwaway_role`)."""

    def __init__(self, database: DatabaseURL, admin: DatabaseURL) -> None:
        self.name = f"sp_secret_{secrets.token_hex(4)}"
        self.database = database
        self.admin = admin

    def set_password(self, password: str) -> None:
        with psycopg.connect(self.admin.libpq, autocommit=True) as conn:
            statement = sql.SQL("ALTER ROLE {} PASSWORD {}")
            conn.execute(statement.format(sql.Identifier(self.name), sql.Literal(password)))

    def url(self, password: str) -> str:
        """The URL that logs in as this role with `password`, percent-encoded."""
        where = f"{self.database.host_port}/{self.database.database}"
        return f"postgresql://{self.name}:{quote(password, safe='')}@{where}"


@contextmanager
def _throwaway_role(database: DatabaseURL) -> Iterator[_Role]:
    """Create a role owning `database` (dropped after, with the database). Raises
    `psycopg.errors.InsufficientPrivilege` where the test user may not create roles."""
    admin = parse_database_url(database.sqlalchemy.rsplit("/", 1)[0] + "/postgres")
    role = _Role(database, admin)
    name, owner = sql.Identifier(str(database.database)), sql.Identifier(role.name)
    with psycopg.connect(admin.libpq, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(owner))
        try:
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(name, owner))
            yield role
        finally:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(owner))


def _encoded_login(stack: ExitStack, database: DatabaseURL, password: str) -> str:
    """A URL logging in to `database` with `password` percent-encoded, as a throwaway
    role. The plain PostgreSQL test server's user may not create roles (`LOGIN CREATEDB`,
    scripts/postgres-local): there its own user and password, every byte encoded."""
    try:
        role = stack.enter_context(_throwaway_role(database))
    except psycopg.errors.InsufficientPrivilege:
        user = "".join(f"%{byte:02X}" for byte in (database.username or "").encode())
        secret = "".join(f"%{byte:02X}" for byte in (database.password or "").encode())
        return f"postgresql://{user}:{secret}@{database.host_port}/{database.database}"
    role.set_password(password)
    return role.url(password)


@pytest.mark.parametrize("server", ["timescale", "postgres"])
def test_percent_encoded_password_logs_in(
    server: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    database = parse_database_url(str(request.getfixturevalue(f"{server}_url")))
    with ExitStack() as stack:
        url = _encoded_login(stack, database, CASE_36_PASSWORD)
        env = {"SENTPIPE_DATABASE_URL": url, "SENTPIPE_DATA_DIR": str(tmp_path)}
        outputs = []
        for args in (("db", "init"), ("db", "status"), ("stats",)):
            code, output = _run(*args, env=env)
            assert code == 0, (args, output)
            outputs.append(output)
        assert json.loads(invoke("db", "status", "--json", env=env).stdout)["table_exists"]
        done = subprocess.run(
            [str(SENTPIPE), "db", "status"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout + done.stderr)
        assert not _found(CASE_36_PASSWORD, outputs), outputs


# --- properties --------------------------------------------------------------------

_ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)  # printable ASCII
_CHARS = st.one_of(
    st.sampled_from("@/?#%:"),  # what generated passwords hold and URLs must encode
    _ASCII,
    _ASCII,
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),  # any Unicode
)
PASSWORDS = st.text(_CHARS, min_size=6, max_size=24)
CONTROL = "Ctl-Password-Other"
_NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]
# Raw passwords are refused for different reasons, each with its own wording: the
# ordinary output of each (the control password written raw with that fault).
RAW_CONTROLS = (
    [CONTROL]
    + [f"Ctl{fault}Password" for fault in "@/?#"]
    + [
        "Ctl%zzPassword",  # a `%` without two hex digits
        "Ctl%C3Password",  # not UTF-8 once decoded
        "Ctl%00Password",  # NUL
    ]
)


def _no_server_outputs(url: str, data_dir: Path) -> list[str]:
    env = {"SENTPIPE_DATABASE_URL": url, "SENTPIPE_DATA_DIR": str(data_dir)}
    outputs = []
    for args in (("config", "show"), ("config", "show", "--json"), ("db", "init"), ("stats",)):
        code, output = _run(*args, env=env)
        # 0: `config show` of a valid URL; 2: refused; 3: the closed port
        assert code in (0, 2, 3) and "Internal error" not in output, (args, output)
        outputs.append(output)
    return outputs


def test_no_output_holds_the_password_without_a_server(tmp_path: Path) -> None:
    """Percent-encoded (valid) or raw (refused, or taken as written): no piece of a
    random password is shown by `config show` (plain and `--json`) or by the errors of
    `db init` and `stats` aimed at a closed port."""
    port = _closed_port()

    def url(secret: str, encoded: bool) -> str:
        written = quote(secret, safe="") if encoded else secret
        return f"postgresql://sp_user:{written}@127.0.0.1:{port}/sp_db"

    controls = {
        True: _no_server_outputs(url(CONTROL, True), tmp_path),
        False: [out for c in RAW_CONTROLS for out in _no_server_outputs(url(c, False), tmp_path)],
    }

    @settings(max_examples=25, derandomize=IN_CI, deadline=None)
    @given(password=PASSWORDS, encoded=st.booleans())
    def check(password: str, encoded: bool) -> None:
        assume(_ordinary(password, controls[encoded]))
        outputs = _no_server_outputs(url(password, encoded), tmp_path)
        assert not _found(password, outputs), outputs

    check()


def _server_outputs(url: str, folder: Path) -> list[str]:
    """Every command's output and every file written, logged in with `url` (each run
    in a fresh `folder`: data dir, dead letters, CSV sink, metrics file)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    source = folder / "in.ndjson"
    source.write_text(f"{ndjson_line(1)}\n{{broken\n", encoding="utf-8")
    env = {"SENTPIPE_DATABASE_URL": url, "SENTPIPE_DATA_DIR": str(folder / "data")}
    outputs = []
    for args in (
        ("config", "show", "--json"),
        ("db", "init"),
        ("db", "status"),
        ("stats", "--json"),
        ("ingest", "ndjson", str(source), "--json"),  # the dead letter
        ("ingest", "ndjson", str(source)),  # progress and log lines
        ("sentiment", "score", "--metrics-file", str(folder / "data" / "m.prom")),
        ("export", "csv", "-o", "-"),
    ):
        code, output = _run(*args, env=env)
        assert code in (0, 1), (args, output)  # 1: the dead letter
        outputs.append(output)
    assert (folder / "data" / "m.prom").is_file()
    assert list((folder / "data" / "dead-letter").glob("*.ndjson"))
    return outputs + _files(folder / "data")


def _refused(url: str, folder: Path) -> str:
    """The output of a login the server refuses (`url` holds the wrong password)."""
    env = {"SENTPIPE_DATABASE_URL": url, "SENTPIPE_DATA_DIR": str(folder)}
    code, output = _run("db", "status", env=env)
    assert code == 2 and "refused the login" in output, output
    return output


@pytest.mark.timescale
def test_no_output_holds_the_password_on_a_real_server(timescale_url: str, tmp_path: Path) -> None:
    """Logged in to TimescaleDB with a random password (percent-encoded), and refused
    with it: no piece of it in any output or written file. The control runs twice first
    (migrating, then as every later run finds the database)."""
    with _throwaway_role(parse_database_url(timescale_url)) as role:
        role.set_password(CONTROL)
        control = _server_outputs(role.url(CONTROL), tmp_path / "run")
        control += _server_outputs(role.url(CONTROL), tmp_path / "run")
        role.set_password(CONTROL + "-not")
        control.append(_refused(role.url(CONTROL), tmp_path / "refused"))

        # no shrinking: each example runs ~20 commands; the outputs are in the assertion
        @settings(max_examples=6, derandomize=IN_CI, deadline=None, phases=_NO_SHRINK)
        @given(password=PASSWORDS)
        def check(password: str) -> None:
            assume(not password.startswith(CONTROL) and _ordinary(password, control))
            role.set_password(CONTROL)
            refused = _refused(role.url(password), tmp_path / "refused")
            role.set_password(password)
            outputs = _server_outputs(role.url(password), tmp_path / "run")
            assert not _found(password, [*outputs, refused]), [*outputs, refused]

        check()
