"""CPU time spent on this machine, by kind of process: workers, PostgreSQL, nginx, nsd, everything else.

Read from /proc: user + system time of every live process, plus, for PostgreSQL, what its reaped
backends used (the postmaster's children's times), so a connection that closed still counts. A
difference of two readings tells where the cores went during a run: whether a pipeline costs more
than its phases alone, and whether the cores were busy at all (CPU seconds against 2 × wall time).
Also the time the host took from this machine's cores ("stolen", /proc/stat): on a shared host, a
round that lost many seconds to it ran on slower cores, and its figures say so.
"""
from __future__ import annotations

import os
from pathlib import Path

KINDS = ("worker", "postgres", "nginx", "nsd", "other")
TICK = os.sysconf("SC_CLK_TCK")


def _kind(comm: str, cmdline: bytes) -> str:
    if b"run_worker" in cmdline:
        return "worker"
    for kind in ("postgres", "nginx", "nsd"):
        if comm.startswith(kind):
            return kind
    return "other"


def process_stats() -> dict[int, tuple[str, list[str]]]:
    """Every live process's name and the fields of /proc/PID/stat after it, by pid ([1] is the
    parent's pid, [11:15] the times in ticks)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        found[int(entry.name)] = (stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split())
    return found


def cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far, by kind of process."""
    seen = process_stats()
    totals = dict.fromkeys(KINDS, 0.0)
    for pid, (comm, fields) in seen.items():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            cmdline = b""  # ended meanwhile: counted by its name
        kind = _kind(comm, cmdline)
        ticks = int(fields[11]) + int(fields[12])
        if kind == "postgres" and not seen.get(int(fields[1]), ("",))[0].startswith("postgres"):
            ticks += int(fields[13]) + int(fields[14])  # the postmaster: its backends that have ended
        totals[kind] += ticks / TICK
    with open("/proc/stat") as stat:
        totals["stolen"] = int(stat.readline().split()[8]) / TICK  # cpu user nice system idle iowait irq softirq steal
    return totals


def spent(before: dict[str, float], after: dict[str, float]) -> str:
    """'worker 12.3 s, postgres 4.5 s, …; stolen 0.1 s' between two readings."""
    used = ", ".join(f"{kind} {after[kind] - before[kind]:.1f} s" for kind in KINDS)
    return f"{used}; stolen {after['stolen'] - before['stolen']:.1f} s"


def used(before: dict[str, float], after: dict[str, float]) -> float:
    """CPU seconds all processes used between two readings (not what the host took)."""
    return sum(after[kind] - before[kind] for kind in KINDS)


def around(start: dict[str, float], mid: dict[str, float], end: dict[str, float], done_mid: int, done_end: int,
           alone: tuple[dict[str, float], dict[str, float], int]) -> str:
    """nginx's CPU per request before and after `mid` (a pipeline's DNS phase ending), and every
    process's CPU per site after it against the HTTP phase alone (`alone`: its two readings and
    its sites), in all and by kind: whether a pipeline's extra is paid while DNS runs beside HTTP
    (the mix) or also in the HTTP tail that runs on its own (the cores' speed, which moves every
    kind the same way, or state the overlap left behind, which would show in one kind)."""
    tail = max(done_end - done_mid, 1)
    before = "-" if not done_mid else f"{(mid['nginx'] - start['nginx']) / done_mid * 1e6:.1f} us"
    nginx_after = (end["nginx"] - mid["nginx"]) / tail * 1e6
    sites = max(alone[2], 1)
    per_site, alone_site = used(mid, end) / tail * 1e6, used(alone[0], alone[1]) / sites * 1e6
    by_kind = ", ".join(
        f"{kind} {(end[kind] - mid[kind]) / tail * 1e6:.0f}/{(alone[1][kind] - alone[0][kind]) / sites * 1e6:.0f}"
        for kind in KINDS if kind != "nsd")  # nsd has no part in the HTTP phase
    return (f"nginx's CPU per request {before} before it ({done_mid:,} requests), {nginx_after:.1f} us after; every process"
            f" together {per_site:.0f} us per site after it, {alone_site:.0f} us in the HTTP phase alone"
            f" ({per_site / alone_site:.2f}x; us per site after it/alone: {by_kind})")
