"""`bot.redact`: each credential shape is masked where it stands, and ordinary text is left alone."""

from __future__ import annotations

import pytest

from bot.redact import redact, redact_json

MASKED = [
    ("RUN curl -fsSL -u admin:hunter2 https://a.example/b", "RUN curl -fsSL -u admin:*** https://a.example/b"),
    ("curl --user=admin:hunter2 x", "curl --user=admin:*** x"),
    ("git clone https://ci:tok3n@git.example.com/app.git", "git clone https://ci:***@git.example.com/app.git"),
    ("postgres://app:p@ss@db:5432/app", "postgres://app:***@db:5432/app"),
    ("git clone https://tok3n@github.com/org/app", "git clone https://***@github.com/org/app"),
    ("app-cli login --password=opt1", "app-cli login --password=***"),
    ("app-cli login --registry-password opt1 --verbose", "app-cli login --registry-password *** --verbose"),
    ("app-cli --token abc123", "app-cli --token ***"),
    ("docker login -u me -p pw registry.example.com", "docker login -u me -p *** registry.example.com"),
    ("mysql -uroot -psecret app", "mysql -uroot -p*** app"),
    ('curl -H "Authorization: Bearer eyJabc.def" x', 'curl -H "Authorization: Bearer ***" x'),
    ("curl -H 'PRIVATE-TOKEN: glp123' x", "curl -H 'PRIVATE-TOKEN: ***' x"),
    ("ENV DB_PASSWORD=hunter2 DEBUG=1", "ENV DB_PASSWORD=*** DEBUG=1"),
    ("ENV DB_PASSWORD hunter2 and more", "ENV DB_PASSWORD ***"),
    ("|2 API_TOKEN=abc123 HTTP_PROXY=x /bin/sh -c make", "|2 API_TOKEN=*** HTTP_PROXY=x /bin/sh -c make"),
    ("https://api.example.com/x?access_token=abc&page=2", "https://api.example.com/x?access_token=***&page=2"),
    ("echo ghp_" + "a" * 36, "echo ***"),
    ("key: -----BEGIN RSA PRIVATE KEY-----\nMIIabc\n-----END RSA PRIVATE KEY-----\nnext", "key: ***\nnext"),
]

KEPT = [
    "app-cli migrate --password-file=/run/secrets/db",  # where a secret lives is not the secret
    "docker login --password-stdin registry.example.com",
    "GITHUB_TOKEN_FILE=/run/secrets/gh",
    'curl -u "$USER:$PASSWORD" https://x',  # references reveal nothing
    "ENV TOKEN=${TOKEN}",
    "app-cli --token $CI_TOKEN",
    "ssh://git@github.com/org/app.git",
    "git@github.com:org/app.git",
    "useradd -u 10001 app && docker run -u 1000:1000 img",
    "mysql -p app",  # prompts for the password: `app` is the database
    "apt-get install -y --no-install-recommends libpq-dev && rm -rf /var/lib/apt/lists/*",
    "secret-in-history: Secret value of API_TOKEN visible in the image history; value redacted",
    "https://pypi.org/simple/flask/",
]


@pytest.mark.parametrize(("text", "expected"), MASKED)
def test_credentials_are_masked_where_they_stand(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert redact(expected) == expected  # idempotent


@pytest.mark.parametrize("text", KEPT)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_known_values_are_masked_anywhere() -> None:
    assert redact("RUN echo s3cr3t > /etc/app.conf", values={"s3cr3t"}) == "RUN echo *** > /etc/app.conf"


def test_every_string_of_a_json_structure_and_nothing_else() -> None:
    data = {"title": "curl -u a:pw1", "evidence": {"lines": ["--token=pw2", 3, None], "ok": True},
            "pair": ("API_KEY=pw3",), "API_KEY": 1}
    assert redact_json(data) == {"title": "curl -u a:***", "evidence": {"lines": ["--token=***", 3, None], "ok": True},
                                 "pair": ("API_KEY=***",), "API_KEY": 1}
