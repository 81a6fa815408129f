from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbadvisor.dialects.postgres import dsn
from dbadvisor.errors import UsageError


@pytest.mark.parametrize(
    "raw",
    [
        "postgresql://alice:s3cr3t@db.example.com:5432/app",
        "postgres://alice:s3cr3t@db.example.com/app?sslmode=require",
        "postgresql://db.example.com/app?user=alice&password=s3cr3t",
        "host=db.example.com user=alice password=s3cr3t dbname=app",
        "host=db.example.com user=alice password='s3 cr3t' dbname=app",
    ],
)
def test_redact_hides_password(raw: str) -> None:
    out = dsn.redact(raw)
    assert "s3cr3t" not in out and "cr3t" not in out
    assert "***" in out
    assert "db.example.com" in out


def test_describe_has_no_password() -> None:
    assert dsn.describe("postgresql://alice:pw@h:6543/app") == "alice@h:6543/app"


def test_bad_dsn_is_usage_error_without_password() -> None:
    with pytest.raises(UsageError) as exc:
        dsn.parse("host=x password=hunter2 nonsense_keyword=1")
    assert "hunter2" not in str(exc.value)
    assert "invalid DSN" in str(exc.value)


@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="'\\"),
               min_size=4, max_size=30))
def test_redact_property_keyword_dsn(secret: str) -> None:
    password = "ZQ" + secret  # a prefix that no other part of the DSN contains
    raw = f"host=h user=u password='{password}' dbname=d"
    assert password not in dsn.redact(raw).replace("***", "")


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789%!$*", min_size=4, max_size=30))
def test_redact_property_uri(secret: str) -> None:
    password = "ZQ" + secret
    raw = f"postgresql://u:{password}@h:5432/d"
    assert password not in dsn.redact(raw).replace("***", "")


def test_a_short_password_masks_nothing_else() -> None:
    # Masking each occurrence of "a" would print "c***nnot..." and reveal the password by elimination.
    message = "cannot connect to host: connection refused"
    assert dsn.scrub(message, "host=h user=u password=a dbname=d") == message
    echoed = dsn.scrub("bad: host=h password=a", "host=h password=a")
    assert "password=***" in echoed and "password=a" not in echoed


def test_an_unencoded_at_in_a_uri_password_is_refused_without_echo() -> None:
    with pytest.raises(UsageError) as exc:
        dsn.parse("postgresql://alice:p@ssw0rd@db.example.com/app")
    text = str(exc.value)
    assert "ssw0rd" not in text and "p@ss" not in text and "%40" in text


def test_a_malformed_uri_is_refused_without_echo() -> None:
    with pytest.raises(UsageError) as exc:
        dsn.parse("postgresql://alice:hunter2@db.example.com/app?hunter2=1")
    assert "hunter2" not in str(exc.value) and "invalid DSN" in str(exc.value)
