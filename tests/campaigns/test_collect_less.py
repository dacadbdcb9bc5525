"""aio.collect_less, as run_worker calls it: start-up objects frozen, the young generation collected less often.

Measured in a fresh interpreter: the collector's settings are process-wide and would outlive the test.
"""
from __future__ import annotations

import json
import subprocess
import sys

from django.conf import settings

from campaigns.aio import YOUNG_COLLECTION_EVERY

PROBE = """
import gc, json
from campaigns import aio
before = {"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count()}
aio.collect_less()
after = {"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count()}
print(json.dumps([before, after]))
"""


def test_collect_less_freezes_what_is_alive_and_collects_young_objects_less_often():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=settings.BASE_DIR, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    before, after = json.loads(done.stdout)
    assert before["frozen"] == 0 and after["frozen"] > 1000  # the imported modules' objects
    assert after["threshold"] == [YOUNG_COLLECTION_EVERY, *before["threshold"][1:]]
    assert before["threshold"][0] < YOUNG_COLLECTION_EVERY
