from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management import call_command
from django.core.management.base import CommandError

from campaigns.demo import sites
from campaigns.demo.servers import DemoServerError, DemoServers
from campaigns.demo.setup import demo_load
from campaigns.management.cli import CampaignCommand

STOP_TIMEOUT_S = 30


def default_web_workers() -> int:
    """Gunicorn's rule of thumb, 2 × cores + 1, capped: the worker processes share the machine."""
    return min(2 * (os.cpu_count() or 1) + 1, 9)


def host_port(value: str) -> tuple[str, int]:
    """argparse type of --addr: HOST:PORT (an IPv6 host in brackets)."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"must be HOST:PORT with a port from 1 to 65535, e.g. 127.0.0.1:8000; got {value!r}")
    return host.strip("[]"), int(port)


def positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1; got {value!r}")
    return int(value)


def port_number(value: str) -> int:
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 0 (any free one) to 65535; got {value!r}")
    return int(value)


@dataclass
class Child:
    name: str
    process: subprocess.Popen


class Command(CampaignCommand):
    help = (
        "Run DomainFlow on this machine: migrate, ensure an admin login, start the offline demo, then serve the "
        "console with gunicorn and run one worker process until Ctrl-C."
    )
    json_flag = False

    def add_arguments(self, parser):
        parser.add_argument("--addr", type=host_port, default=("127.0.0.1", 8000), metavar="HOST:PORT",
                            help="Where the console listens (default 127.0.0.1:8000).")
        parser.add_argument("--web-workers", type=positive, default=default_web_workers(), metavar="N",
                            help=f"Gunicorn worker processes (default 2 × cores + 1, at most 9: {default_web_workers()} here).")
        parser.add_argument("--worker-concurrency", type=positive, default=8, metavar="N",
                            help="Batches the run_worker process runs at once (default 8, as run_worker).")
        demo = parser.add_argument_group("demo (a DNS server and a web server of made-up .test sites, on 127.0.0.1 only)")
        demo.add_argument("--no-demo", action="store_true",
                          help="Start no demo servers and load no demo pipeline; the worker then fetches no private addresses.")
        demo.add_argument("--demo-dns-port", type=port_number, default=8053, metavar="PORT",
                          help="The demo DNS server's UDP and TCP port (default 8053; 0: any free port).")
        demo.add_argument("--demo-web-port", type=port_number, default=8054, metavar="PORT",
                          help="The demo web server's port (default 8054; 0: any free port).")

    def handle(self, *args, **options):
        host, port = options["addr"]
        self._check_free(host, port)
        call_command("migrate", verbosity=0, interactive=False, skip_checks=False)  # prints campaigns/checks.py's warnings
        admin = self._ensure_admin()
        demo = None if options["no_demo"] else self._start_demo(admin, options)
        try:
            self._serve(host, port, options, demo_on=demo is not None)
        finally:
            if demo is not None:
                demo.stop()

    def _serve(self, host: str, port: int, options: dict, *, demo_on: bool) -> None:
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        worker_env = dict(os.environ)
        if demo_on:
            # Only this worker, and only while the demo runs, may fetch loopback addresses: the demo
            # sites live on 127.0.0.1. Other workers keep the setting's default (off).
            worker_env["DOMAINFLOW_ALLOW_PRIVATE_TARGETS"] = "1"
        children = [
            Child("web server (gunicorn)", subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "domainflow.wsgi:application", "--bind", bind,
                 "--workers", str(options["web_workers"]), "--timeout", "60", "--graceful-timeout", "10",
                 "--access-logfile", "-", "--log-level", "warning"],
                cwd=settings.BASE_DIR,
            )),
            # Plain lines from the worker: the terminal is shared with gunicorn's access log, whose
            # lines would tear a live line redrawn in place.
            Child("worker (run_worker)", subprocess.Popen(
                [sys.executable, manage, "run_worker", "--concurrency", str(options["worker_concurrency"]),
                 "--report", "text"],
                env=worker_env,
            )),
        ]
        self.stdout.write(self.style.SUCCESS(f"DomainFlow is running: http://{bind}/  (Ctrl-C stops it)"))
        stop = {"now": False}

        def request_stop(*_):
            stop["now"] = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        while not stop["now"] and all(child.process.poll() is None for child in children):
            time.sleep(0.3)
        failed = [child for child in children if child.process.poll() is not None]
        for child in children:
            if child.process.poll() is None:
                child.process.terminate()
        for child in children:
            try:
                child.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        if failed and not stop["now"]:
            first = failed[0]
            raise CommandError(f"The {first.name} exited with status {first.process.returncode}; stopped everything.")

    def _check_free(self, host: str, port: int) -> None:
        """Refuse at once, in one line, a console address that something else holds."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise CommandError(f"--addr: cannot listen on {host}:{port} ({exc.strerror}); choose another with --addr HOST:PORT") from None

    def _start_demo(self, admin: AbstractBaseUser, options: dict) -> DemoServers:
        try:
            demo = DemoServers(dns_port=options["demo_dns_port"], web_port=options["demo_web_port"]).start()
        except DemoServerError as exc:
            raise CommandError(f"{exc}; free the port, choose another (--demo-dns-port, --demo-web-port) or use --no-demo") from None
        try:
            pipeline = demo_load(owner=admin, dns_address=demo.dns_address, web_port=demo.web_port)
        except BaseException:
            demo.stop()
            raise
        host, port = options["addr"]
        self.stdout.write(self.style.WARNING(
            f"DEMO: DNS server on {demo.dns_address}, web server on 127.0.0.1:{demo.web_port}, "
            f"{len(sites.all_names())} made-up .test sites (no internet used)"
        ))
        state = "started" if pipeline.created else f"already {pipeline.campaign.status}"
        self.stdout.write(f"DEMO: pipeline {pipeline.campaign.pk} {state}: http://{host}:{port}/campaigns/{pipeline.campaign.pk}/")
        return demo

    def _ensure_admin(self) -> AbstractBaseUser:
        User = get_user_model()
        admin = User.objects.filter(username="admin").first()
        if admin is not None:
            self.stdout.write("Admin login: admin (password set earlier; change it with `manage.py changepassword admin`)")
            return admin
        password = secrets.token_urlsafe(12)
        admin = User.objects.create_superuser("admin", "admin@localhost", password)
        self.stdout.write(self.style.WARNING(f"Admin login: admin / {password}   (shown once)"))
        return admin
