from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run DomainFlow: migrate, ensure an admin login, then serve the console on 127.0.0.1:8000 with one worker."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--no-demo", action="store_true", help="Do not load the demo data.")

    def handle(self, *args, addr: str, no_demo: bool, **options):
        call_command("migrate", verbosity=0, interactive=False)
        self._ensure_admin()
        if not no_demo:
            try:
                call_command("load_demo", verbosity=1)
            except Exception as exc:  # noqa: BLE001 - demo data is a convenience, never a blocker
                self.stderr.write(f"demo data not loaded: {exc}")
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        processes = [
            # --insecure: serve the admin's and the console's static files with DEBUG off; this
            # is the single-machine run command (a deployment puts collectstatic behind its web server).
            subprocess.Popen([sys.executable, manage, "runserver", "--noreload", "--insecure", addr]),
            subprocess.Popen([sys.executable, manage, "run_worker", "--concurrency", "2"]),
        ]
        self.stdout.write(self.style.SUCCESS(f"DomainFlow is running: http://{addr}/  (Ctrl-C stops it)"))
        stop = {"now": False}

        def request_stop(*_):
            stop["now"] = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        while not stop["now"] and all(p.poll() is None for p in processes):
            time.sleep(0.5)
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            process.wait(timeout=30)

    def _ensure_admin(self) -> None:
        User = get_user_model()
        if User.objects.filter(username="admin").exists():
            self.stdout.write("Admin login: admin (password set earlier; change it with `manage.py changepassword admin`)")
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser("admin", "admin@localhost", password)
        self.stdout.write(self.style.WARNING(f"Admin login: admin / {password}   (shown once)"))
