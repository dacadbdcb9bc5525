from __future__ import annotations

import shutil
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

# The Debian packages the suite runs against (chromium for the browser tests, nginx for the HTTP
# conformance tests), installed when missing and the command may install them.
SYSTEM_PACKAGES = settings.BASE_DIR / ".ci" / "install-system-packages"


class Command(BaseCommand):
    help = (
        "Run the whole test suite (pytest); extra arguments go to pytest. No tests collected is a failure. "
        "Installs the Debian packages the suite needs first (chromium, nginx-light) when they are missing."
    )

    def add_arguments(self, parser):
        parser.add_argument("pytest_args", nargs="*", help="Arguments passed to pytest, e.g. -k transition -x")

    def run_from_argv(self, argv):
        if shutil.which("dpkg") and SYSTEM_PACKAGES.exists():
            subprocess.call([str(SYSTEM_PACKAGES)])
        # Everything after "test" belongs to pytest, including options like -x or -k.
        code = subprocess.call([sys.executable, "-m", "pytest", *argv[2:]])
        if code == 5:
            sys.stderr.write("pytest collected no tests: that is a failure here\n")
            sys.exit(1)
        sys.exit(code)

    def handle(self, *args, **options):
        raise CommandError("run as: python3 manage.py test [pytest arguments]")
