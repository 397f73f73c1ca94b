from bot.images.dockerfile_map import history_instruction, map_history
from bot.images.model import HistoryEntry
from bot.images.secrets import find_secrets, redact


def test_build_arg_and_env_values_are_named_and_redacted():
    text = "|2 API_TOKEN=abc123 HTTP_PROXY=x /bin/sh -c make"
    assert [h.name for h in find_secrets(text)] == ["API_TOKEN"]
    assert "abc123" not in redact(text) and "API_TOKEN=***" in redact(text)
    assert redact("ENV DB_PASSWORD hunter2") == "ENV DB_PASSWORD ***"
    assert find_secrets("RUN echo $SECRET_TOKEN") == []
    assert "ghp_" not in redact("RUN git clone https://ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@github.com/x")


def test_history_instruction_understands_legacy_and_buildkit():
    assert history_instruction("/bin/sh -c #(nop) COPY dir:abcdef0123 in /app ") == ("COPY", "COPY . /app")
    assert history_instruction("RUN /bin/sh -c pip install . # buildkit") == ("RUN", "RUN pip install .")
    assert history_instruction("/bin/sh -c #(nop)  CMD [\"sh\"]") == ("CMD", 'CMD ["sh"]')


def test_mapping_aligns_the_final_stage_with_the_end_of_history():
    dockerfile = "FROM a AS build\nRUN make\nFROM b\nARG X\nCOPY --from=build /out /out\nRUN ls\n"
    history = [HistoryEntry("base"), HistoryEntry("/bin/sh -c #(nop) COPY file:1234abcd in /out "),
               HistoryEntry("/bin/sh -c ls")]
    mapped = map_history(history, dockerfile)
    assert [m.line for m in mapped] == [3, 5, 6]  # the base image's layer on the final stage's FROM
    assert mapped[1].instruction == "COPY --from=build /out /out"
    assert [m.base_image for m in mapped] == [True, False, False]


def test_the_base_images_entries_map_to_the_from_line_that_names_it():
    dockerfile = "# syntax=docker/dockerfile:1\nFROM python:3.12-slim\nRUN pip install flask\nCOPY . /app\n"
    history = [HistoryEntry("/bin/sh -c #(nop) ADD file:abcdef0123 in / "),
               HistoryEntry('/bin/sh -c #(nop)  CMD ["bash"]', empty_layer=True),
               HistoryEntry("/bin/sh -c apt-get update && apt-get install -y ca-certificates"),
               HistoryEntry("RUN /bin/sh -c pip install flask # buildkit"),
               HistoryEntry("COPY . /app # buildkit")]
    mapped = map_history(history, dockerfile)
    assert [m.line for m in mapped] == [2, 2, 2, 3, 4]
    assert [m.base_image for m in mapped] == [True, True, True, False, False]
    assert mapped[2].instruction == "FROM python:3.12-slim (base image: RUN apt-get update && apt-get install -y ca-certificates)"
    assert mapped[2].keyword == "RUN" and not mapped[2].from_dockerfile


def test_a_final_stage_built_from_an_earlier_stage_aligns_through_it_to_the_image_it_names():
    dockerfile = "FROM debian:12 AS deps\nRUN apt-get install -y gcc\nFROM deps\nCOPY . /app\n"
    history = [HistoryEntry("/bin/sh -c #(nop) ADD file:abcdef0123 in / "),
               HistoryEntry("/bin/sh -c apt-get install -y gcc"), HistoryEntry("COPY . /app # buildkit")]
    assert [m.line for m in map_history(history, dockerfile)] == [1, 2, 4]


def test_when_the_alignment_stops_the_entries_before_the_first_attributed_one_go_to_from():
    dockerfile = "FROM alpine\nRUN make\nCOPY . /app\n"
    history = [HistoryEntry("/bin/sh -c #(nop) ADD file:abcdef0123 in / "),
               HistoryEntry("/bin/sh -c #(nop) ADD file:0123abcdef in /opt "),  # not this Dockerfile's RUN
               HistoryEntry("COPY . /app # buildkit")]
    assert [m.line for m in map_history(history, dockerfile)] == [1, 1, 3]
    unrelated = "FROM alpine\nRUN make\n"  # nothing attributed: no anchor for anything
    assert [m.line for m in map_history(history, unrelated)] == [None, None, None]


def test_reconstructed_dockerfile_is_labelled_parseable_and_redacted():
    from bot.dockerfile.parser import parse
    from bot.images.dockerfile_map import reconstruct_dockerfile

    history = [HistoryEntry(""), HistoryEntry("/bin/sh -c #(nop)  ENV API_KEY=hunter2", empty_layer=True),
               HistoryEntry("|1 TOKEN=abc /bin/sh -c make    all"), HistoryEntry('/bin/sh -c #(nop)  CMD ["python" "main.py"]', empty_layer=True)]
    text = reconstruct_dockerfile(history)
    assert text.startswith("# RECONSTRUCTED")
    assert "hunter2" not in text and "abc" not in text
    keywords = [(i.keyword, i.original) for i in parse(text).instructions]
    assert keywords[-2:] == [("RUN", "RUN make all"), ("CMD", 'CMD ["python", "main.py"]')]


def test_names_that_only_contain_a_secret_word_are_not_secrets():
    # Same words as the Dockerfile doctor's secret-in-env: where a secret lives, or a word that merely
    # contains AUTH/TOKEN, is no finding (the value is still masked when shown).
    for text in ("ENV GITHUB_TOKEN_FILE=/run/secrets/gh", "ENV AUTHOR=me", "ENV OAUTH_CALLBACK=/cb",
                 "ENV AUTH_URL=https://auth.example.com"):
        assert find_secrets(text) == [], text
    assert [h.name for h in find_secrets("|2 DB_PASSWORD=x GITHUB_TOKEN=y /bin/sh -c make")] == ["DB_PASSWORD", "GITHUB_TOKEN"]
    assert "me" not in redact("ENV AUTHOR=me").split("=", 1)[1]


# -- multi-line created_by: one report line, the line breaks shown as \n (as file names show them) ----
# BuildKit records `RUN <<EOF` as the shell and the heredoc's body, newlines included, then ` # buildkit`;
# a RUN with a command after the heredoc (`<<EOT bash`) is recorded with the body and its terminator.
HEREDOC_RUN = "RUN /bin/sh -c apt-get update\napt-get install -y curl\n # buildkit"
HEREDOC_WITH_COMMAND = "RUN /bin/sh -c <<EOT bash\n  set -e\n  pip install -r requirements.txt\nEOT # buildkit"


def test_a_heredoc_run_is_one_line_with_its_line_breaks_escaped():
    assert history_instruction(HEREDOC_RUN) == ("RUN", r"RUN apt-get update\napt-get install -y curl")
    assert history_instruction(HEREDOC_WITH_COMMAND) == (
        "RUN", r"RUN <<EOT bash\nset -e\npip install -r requirements.txt\nEOT")


def test_every_shape_of_created_by_is_one_printable_line():
    cases = {
        # the legacy builder under SHELL ["/bin/bash", "-o", "pipefail", "-c"], a newline in a quoted string
        "/bin/bash -o pipefail -c printf 'a\nb' > /etc/motd": r"RUN /bin/bash -o pipefail -c printf 'a\nb' > /etc/motd",
        "/bin/sh -c #(nop)  LABEL description=first\nsecond": r"LABEL description=first\nsecond",
        "ENV GREETING=hello\nworld # buildkit": r"ENV GREETING=hello\nworld",
        # a terminal escape in someone's history is shown, not obeyed
        "RUN /bin/sh -c echo \x1b[2Jcleared # buildkit": r"RUN echo \x1b[2Jcleared",
        # layout whitespace still folds to one space; a backslash is escaped as in file names
        "/bin/sh -c apt-get update &&     apt-get install -y\tcurl": "RUN apt-get update && apt-get install -y curl",
        "RUN /bin/sh -c sed -i 's/\\r$//' run.sh # buildkit": r"RUN sed -i 's/\\r$//' run.sh",
    }
    for created_by, expected in cases.items():
        keyword, text = history_instruction(created_by)
        assert text == expected, created_by
        assert "\n" not in text and "\x1b" not in text


def test_a_secret_in_a_heredoc_body_is_redacted_before_it_is_escaped():
    _, text = history_instruction("RUN /bin/sh -c export API_TOKEN=abc123\nnpm ci\n # buildkit")
    assert text == r"RUN export API_TOKEN=***\nnpm ci"


def test_heredoc_runs_map_to_their_dockerfile_lines():
    dockerfile = ("# syntax=docker/dockerfile:1\nFROM debian:12\n"
                  "RUN <<EOF\napt-get update\napt-get install -y curl\nEOF\n"
                  "RUN apt-get update && \\\n    # the client only\n    apt-get install -y postgresql-client\n"
                  "COPY <<EOF /etc/app.conf\nlisten 8080\nEOF\n"
                  "RUN <<EOT bash\n  set -e\n  pip install -r requirements.txt\nEOT\n")
    history = [HistoryEntry("/bin/sh -c #(nop) ADD file:abcdef0123 in / "),
               HistoryEntry('/bin/sh -c #(nop)  CMD ["bash"]', empty_layer=True),
               HistoryEntry(HEREDOC_RUN),
               HistoryEntry("RUN /bin/sh -c apt-get update &&     apt-get install -y postgresql-client # buildkit"),
               HistoryEntry("COPY EOF /etc/app.conf # buildkit"),
               HistoryEntry(HEREDOC_WITH_COMMAND)]
    mapped = map_history(history, dockerfile)
    assert [m.line for m in mapped] == [2, 2, 3, 7, 10, 13]
    assert [m.from_dockerfile for m in mapped] == [False, False, True, True, True, True]
    assert mapped[2].instruction == r"RUN <<EOF\napt-get update\napt-get install -y curl\nEOF"
    # a comment inside a continuation is no part of the instruction (BuildKit drops it); a heredoc's is
    assert mapped[3].instruction == "RUN apt-get update && apt-get install -y postgresql-client"
    assert mapped[4].instruction == r"COPY <<EOF /etc/app.conf\nlisten 8080\nEOF"
    assert mapped[5].instruction == r"RUN <<EOT bash\nset -e\npip install -r requirements.txt\nEOT"
