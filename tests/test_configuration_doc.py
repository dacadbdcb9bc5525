"""docs/CONFIGURATION.md's complete example imports as written and names every field of every object."""
from __future__ import annotations

import json
import re

import pytest
from django.conf import settings

from campaigns.services.config_io import RULE_FIELDS, SECTIONS, config_document
from tests.campaigns.commands.helpers import run

DOC = settings.BASE_DIR / "docs" / "CONFIGURATION.md"


def example() -> dict:
    [block] = re.findall(r"```json\n(.*?)```", DOC.read_text(), flags=re.S)
    return json.loads(block)


def test_the_example_has_every_object_and_every_field():
    document = example()
    for section in SECTIONS:
        [item] = document[section.key]
        assert set(item) - {"rules"} == set(section.fields), section.key
    assert set(document["keyword_sets"][0]["rules"][0]) == set(RULE_FIELDS)


@pytest.mark.django_db
def test_the_example_imports_and_exports_back_unchanged(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(example()))

    output = run("import_config", str(path))

    assert output.out.startswith(f"Imported {path}: 4 created, 0 updated, 0 unchanged")
    assert config_document(include_secrets=True) == example()
