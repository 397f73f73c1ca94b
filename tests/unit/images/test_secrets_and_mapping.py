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
    assert [m.line for m in mapped] == [None, 5, 6]
    assert mapped[1].instruction == "COPY --from=build /out /out"
