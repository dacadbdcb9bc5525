from __future__ import annotations

import subprocess
import sys

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run the whole test suite (pytest); extra arguments go to pytest. No tests collected is a failure."

    def add_arguments(self, parser):
        parser.add_argument("pytest_args", nargs="*", help="Arguments passed to pytest, e.g. -k transition -x")

    def run_from_argv(self, argv):
        # Everything after "test" belongs to pytest, including options like -x or -k.
        code = subprocess.call([sys.executable, "-m", "pytest", *argv[2:]])
        if code == 5:
            sys.stderr.write("pytest collected no tests: that is a failure here\n")
            sys.exit(1)
        sys.exit(code)

    def handle(self, *args, **options):
        raise CommandError("run as: python3 manage.py test [pytest arguments]")
