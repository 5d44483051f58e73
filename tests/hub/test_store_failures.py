"""Whether a failed write is the environment's (kept and retried) or an item's (refused alone), and the
reason it is counted under (``failures``)."""

import sqlite3
from typing import NamedTuple

import pytest

from fleetmon.hub.store.failures import REASONS, describe, environmental_reason, failure_reason


def sqlite_error(kind: type[sqlite3.Error], code: int, name: str, message: str = "failed") -> sqlite3.Error:
    """An exception as the sqlite3 module raises it: the result code and its name ride on the exception."""
    error = kind(message)
    error.sqlite_errorcode, error.sqlite_errorname = code, name
    return error


class Case(NamedTuple):
    name: str
    error: BaseException
    reason: str | None  # None: not the environment's, so the item's (or a bug's)


CASES = [
    Case("disk full", sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_FULL, "SQLITE_FULL"), "disk_full"),
    # extended codes carry the primary code in their low byte: an I/O error is one whatever the call
    Case("a write the disk refused", sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_IOERR_WRITE,
                                                  "SQLITE_IOERR_WRITE"), "io_error"),
    Case("an fsync that failed", sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_IOERR_FSYNC,
                                              "SQLITE_IOERR_FSYNC"), "io_error"),
    Case("a read-only database", sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_READONLY_DBMOVED,
                                              "SQLITE_READONLY_DBMOVED"), "read_only"),
    # no permission on the file is the same fault to an operator as a read-only one
    Case("no permission", sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_PERM, "SQLITE_PERM"), "read_only"),
    Case("the file cannot be opened", sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_CANTOPEN,
                                                   "SQLITE_CANTOPEN"), "cant_open"),
    # another process holds the database: it lets go in time
    Case("busy", sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_BUSY_SNAPSHOT, "SQLITE_BUSY_SNAPSHOT"),
         "locked"),
    Case("locked table", sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_LOCKED, "SQLITE_LOCKED"), "locked"),
    Case("a lock protocol race", sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_PROTOCOL,
                                              "SQLITE_PROTOCOL"), "locked"),
    # a damaged file never heals by retrying: the writer moves it aside (corrupt is still environmental)
    Case("a corrupt page", sqlite_error(sqlite3.DatabaseError, sqlite3.SQLITE_CORRUPT_INDEX, "SQLITE_CORRUPT_INDEX"),
         "corrupt"),
    Case("not a database", sqlite_error(sqlite3.DatabaseError, sqlite3.SQLITE_NOTADB, "SQLITE_NOTADB"), "corrupt"),
    Case("SQLite out of memory", sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_NOMEM, "SQLITE_NOMEM"),
         "out_of_memory"),
    # Python's own: memory comes back, the batch is worth keeping
    Case("Python out of memory", MemoryError(), "out_of_memory"),
    # an item's: a NOT NULL or UNIQUE column it violates stays violated however often it is retried
    Case("a constraint", sqlite_error(sqlite3.IntegrityError, sqlite3.SQLITE_CONSTRAINT_NOTNULL,
                                      "SQLITE_CONSTRAINT_NOTNULL"), None),
    Case("a value too big", sqlite_error(sqlite3.DataError, sqlite3.SQLITE_TOOBIG, "SQLITE_TOOBIG"), None),
    Case("a type mismatch", sqlite_error(sqlite3.IntegrityError, sqlite3.SQLITE_MISMATCH, "SQLITE_MISMATCH"), None),
    # the generic error of a wrong statement: a bug, not the disk
    Case("an SQL error", sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_ERROR, "SQLITE_ERROR"), None),
    # only SQLite's result code tells; an sqlite3 exception without one (raised by the module itself) does not
    Case("an sqlite3 error without a code", sqlite3.ProgrammingError("Cannot operate on a closed database."), None),
    # conversions of one item's values: an integer sqlite3 cannot bind, a value json cannot dump
    Case("an integer too large to bind", OverflowError("Python int too large to convert to SQLite INTEGER"), None),
    Case("a value of the wrong type", TypeError("Object of type set is not JSON serializable"), None),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_failure_is_the_environments_by_its_result_code(case):
    assert environmental_reason(case.error) == case.reason


def test_the_result_code_is_read_from_sqlite3_exceptions_only():
    """An attribute of the same name on some other exception is no result code."""
    impostor = ValueError("not from SQLite")
    impostor.sqlite_errorcode = sqlite3.SQLITE_FULL
    assert environmental_reason(impostor) is None


def test_real_sqlite_errors_carry_the_codes_the_table_reads(tmp_path):
    """The cases above build exceptions by hand; SQLite itself raises them like this."""
    path = str(tmp_path / "db")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (v NOT NULL)")
    holder.execute("BEGIN EXCLUSIVE")
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    with pytest.raises(sqlite3.OperationalError) as locked:
        other.execute("INSERT INTO t VALUES (1)")
    holder.execute("ROLLBACK")
    with pytest.raises(sqlite3.IntegrityError) as refused:
        other.execute("INSERT INTO t VALUES (NULL)")
    holder.close()
    other.close()
    assert (environmental_reason(locked.value), environmental_reason(refused.value)) == ("locked", None)


class ReasonCase(NamedTuple):
    name: str
    error: BaseException
    filesystem_read_only: bool
    reason: str
    text: str
    asks_the_filesystem: bool


FULL = sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_FULL, "SQLITE_FULL", "database or disk is full")
CANT_OPEN = sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_CANTOPEN, "SQLITE_CANTOPEN",
                         "unable to open database file")
IO_ERROR = sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_IOERR_WRITE, "SQLITE_IOERR_WRITE", "disk I/O error")
READ_ONLY = sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_READONLY, "SQLITE_READONLY",
                         "attempt to write a readonly database")
RO = "; the filesystem is read-only"

REASON_CASES = [
    # SQLite cannot open the file on a read-only mount; it does not say that the mount is why
    ReasonCase("cannot open on a read-only mount", CANT_OPEN, True, "read_only",
               "unable to open database file (SQLITE_CANTOPEN)" + RO, True),
    ReasonCase("an I/O error on a read-only mount", IO_ERROR, True, "read_only",
               "disk I/O error (SQLITE_IOERR_WRITE)" + RO, True),
    # the people-facing text names the filesystem, which SQLite's own message does not
    ReasonCase("read-only on a read-only mount", READ_ONLY, True, "read_only",
               "attempt to write a readonly database (SQLITE_READONLY)" + RO, True),
    # on a writable mount SQLite's answer stands
    ReasonCase("cannot open on a writable mount", CANT_OPEN, False, "cant_open",
               "unable to open database file (SQLITE_CANTOPEN)", True),
    ReasonCase("an I/O error on a writable mount", IO_ERROR, False, "io_error", "disk I/O error (SQLITE_IOERR_WRITE)",
               True),
    # a full disk is never a read-only mount's doing: the filesystem is not even asked
    ReasonCase("a full disk", FULL, True, "disk_full", "database or disk is full (SQLITE_FULL)", False),
    # a bug: counted as unexpected, described by its type since it has no result code
    ReasonCase("a bug", ValueError("a bug in the rollup pass"), True, "unexpected",
               "ValueError: a bug in the rollup pass", False),
]


@pytest.mark.parametrize("case", REASON_CASES, ids=[case.name for case in REASON_CASES])
def test_the_reason_counted_and_the_text_shown(case):
    asked = []

    def filesystem_read_only() -> bool:
        asked.append(True)
        return case.filesystem_read_only

    assert failure_reason(case.error, filesystem_read_only) == (case.reason, case.text)
    assert bool(asked) == case.asks_the_filesystem
    assert case.reason in REASONS


def test_describe_names_sqlites_result_code_or_the_exception_type():
    assert describe(FULL) == "database or disk is full (SQLITE_FULL)"
    assert describe(OverflowError("too big")) == "OverflowError: too big"
