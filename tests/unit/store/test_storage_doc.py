"""docs/storage.md's table of tables is the schema: an operator reading the database, or writing a query
for stuck work, finds every table there."""

import re
from pathlib import Path

from bot.store.models import Base

DOC = (Path(__file__).resolve().parents[3] / "docs" / "storage.md").read_text()


def test_every_table_is_in_the_storage_doc_and_no_other():
    section = DOC.split("## Tables", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE))
    assert documented == set(Base.metadata.tables), documented ^ set(Base.metadata.tables)
