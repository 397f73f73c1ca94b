from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.settings import load_settings
from bot.web.links import (
    LinkFailure,
    LinkRejected,
    PostmortemLinks,
    WebSecretError,
    sign_link,
    verify_link,
)

SECRET = "web-secret-for-tests-only-0123456789"
NOW = datetime(2024, 5, 14, 6, 0, 0, tzinfo=UTC)


def signed(incident_id: str = "pd-QA0449E", *, ttl: timedelta = timedelta(days=7), secret: str = SECRET) -> dict:
    url = sign_link(base_url="https://coroner.example.com", incident_id=incident_id, secret=secret,
                    expires_at=NOW + ttl)
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return {"path": parts.path, "exp": query["exp"], "sig": query["sig"]}


def check(incident_id: str, link: dict, *, now: datetime = NOW, secret: str = SECRET) -> None:
    verify_link(incident_id=incident_id, exp=link["exp"], sig=link["sig"], secret=secret, now=now)


def reason(incident_id: str, link: dict, **kwargs) -> LinkFailure:
    with pytest.raises(LinkRejected) as err:
        check(incident_id, link, **kwargs)
    return err.value.reason


def test_link_has_the_base_the_path_an_expiry_and_a_hex_signature():
    url = sign_link(base_url="https://coroner.example.com/", incident_id="pd-QA0449E", secret=SECRET,
                    expires_at=NOW + timedelta(hours=1))
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "coroner.example.com", "/postmortems/pd-QA0449E")
    query = parse_qs(parts.query)
    assert query["exp"] == [str(int((NOW + timedelta(hours=1)).timestamp()))]
    assert len(query["sig"][0]) == 64 and int(query["sig"][0], 16) >= 0


def test_a_fresh_link_verifies_until_it_expires():
    link = signed(ttl=timedelta(minutes=10))
    check("pd-QA0449E", link)
    check("pd-QA0449E", link, now=NOW + timedelta(minutes=9, seconds=59))
    assert reason("pd-QA0449E", link, now=NOW + timedelta(minutes=10)) is LinkFailure.EXPIRED


def test_tampered_path_is_a_bad_signature():
    assert reason("pd-OTHER", signed("pd-QA0449E")) is LinkFailure.BAD_SIGNATURE


def test_tampered_expiry_is_a_bad_signature_not_an_extension():
    link = signed(ttl=timedelta(minutes=1))
    longer = {**link, "exp": str(int(link["exp"]) + 86400)}
    assert reason("pd-QA0449E", longer) is LinkFailure.BAD_SIGNATURE


def test_another_secret_is_a_bad_signature():
    assert reason("pd-QA0449E", signed(), secret="another-secret-of-the-same-length!!") is LinkFailure.BAD_SIGNATURE


def test_an_expired_forgery_is_a_bad_signature():
    # The expiry is only judged on a link we signed: a forged one never hears "expired".
    link = {**signed(), "sig": "0" * 64, "exp": "1"}
    assert reason("pd-QA0449E", link) is LinkFailure.BAD_SIGNATURE


@pytest.mark.parametrize(("exp", "sig"), [(None, "a" * 64), ("1716271200", None), ("", ""), (None, None)])
def test_missing_parts_are_missing(exp, sig):
    assert reason("pd-QA0449E", {"exp": exp, "sig": sig}) is LinkFailure.MISSING


@pytest.mark.parametrize(("exp", "sig"), [
    ("17e8", "a" * 64),             # not digits
    ("-1", "a" * 64),
    ("1" * 13, "a" * 64),           # past any plausible expiry, and big-number parsing stays bounded
    ("1716271200", "A" * 64),       # upper-case hex is not what we sign
    ("1716271200", "a" * 63),
    ("1716271200", "g" * 64),
])
def test_malformed_parts_are_malformed(exp, sig):
    assert reason("pd-QA0449E", {"exp": exp, "sig": sig}) is LinkFailure.MALFORMED


def test_rejection_messages_are_one_line_and_never_name_the_secret():
    for link in ({"exp": None, "sig": None}, {"exp": "x", "sig": "y"}, {**signed(), "sig": "1" * 64},
                 signed(ttl=timedelta(seconds=-1))):
        with pytest.raises(LinkRejected) as err:
            check("pd-QA0449E", link)
        assert "\n" not in str(err.value) and SECRET not in str(err.value)
        assert "Slack" in str(err.value)


def test_empty_secret_signs_nothing_and_verifies_nothing():
    with pytest.raises(WebSecretError, match="CORONER_WEB_SECRET"):
        sign_link(base_url="http://x", incident_id="pd-1", secret="", expires_at=NOW)
    with pytest.raises(WebSecretError):
        verify_link(incident_id="pd-1", exp="1", sig="a" * 64, secret="", now=NOW)


def test_incident_id_is_percent_encoded_into_one_path_segment():
    link = signed("pd-Q1/../admin?x=1")
    assert link["path"] == "/postmortems/pd-Q1%2F..%2Fadmin%3Fx%3D1"
    check("pd-Q1/../admin?x=1", link)


@given(incident_id=st.text(min_size=1, max_size=40), other=st.text(min_size=1, max_size=40))
def test_a_signature_opens_exactly_its_own_incident(incident_id, other):
    link = signed(incident_id)
    check(incident_id, link)
    if other != incident_id:
        assert reason(other, link) is LinkFailure.BAD_SIGNATURE


def test_links_from_settings_are_off_without_a_secret_and_keep_it_out_of_repr(monkeypatch):
    monkeypatch.delenv("CORONER_WEB_SECRET", raising=False)
    assert PostmortemLinks.from_settings(load_settings()) is None
    monkeypatch.setenv("CORONER_WEB_SECRET", SECRET)
    monkeypatch.setenv("CORONER_PUBLIC_URL", "https://coroner.example.com/")
    monkeypatch.setenv("CORONER_WEB_LINK_TTL_SECONDS", "3600")
    links = PostmortemLinks.from_settings(load_settings())
    assert links is not None and SECRET not in repr(links)
    url = links.url("pd-QA0449E", now=NOW)
    assert url.startswith("https://coroner.example.com/postmortems/pd-QA0449E?exp=")
    link = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    check("pd-QA0449E", link, now=NOW + timedelta(seconds=3599))
    assert reason("pd-QA0449E", link, now=NOW + timedelta(seconds=3600)) is LinkFailure.EXPIRED
