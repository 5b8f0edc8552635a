"""Tenants sharing one SQLite file across processes: each tenant's logs stay contiguous and
its rate limit exact while other processes write for other tenants, and a writer killed
with SIGKILL loses none of the entries it was told were committed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import agentstore
from agentstore import StorePolicy

CHILD = """
import sys, agentstore
from agentstore import StorePolicy
path, tenant, writer, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
policy = StorePolicy("sqlite", sections={"sqlite": {"path": path}})
with agentstore.open(policy) as store:
    view = store.tenant(tenant)
    log = view.log("conv", "shared")
    allowed = 0
    for i in range(n):
        log.append(f"{writer}:{i}".encode())
        view.log("conv", writer).append(b"own")
        allowed += view.rate_limits.hit("k", 50, 3600).allowed
    print(allowed)
"""

KILLED = """
import sys, agentstore
from agentstore import StorePolicy
policy = StorePolicy("sqlite", sections={"sqlite": {"path": sys.argv[1]}})
with agentstore.open(policy) as store:
    log = store.tenant("acme").log("conv", "doomed")
    while True:
        entry = log.append(b"x")
        print(entry.seq, flush=True)
"""


def _policy(path: Path) -> StorePolicy:
    return StorePolicy("sqlite", sections={"sqlite": {"path": str(path)}})


def test_tenants_across_processes_stay_apart_and_exact(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    agentstore.open(_policy(db)).close()
    jobs = [("acme", "a1"), ("acme", "a2"), ("beta", "b1"), ("beta", "b2")]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(db), tenant, writer, "40"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for tenant, writer in jobs
    ]
    allowed = {"acme": 0, "beta": 0}
    for (tenant, _), proc in zip(jobs, procs, strict=True):
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        allowed[tenant] += int(out)
    assert allowed == {"acme": 50, "beta": 50}  # exactly the limit, per tenant
    with agentstore.open(_policy(db)) as store:
        for tenant, writers in (("acme", ("a1", "a2")), ("beta", ("b1", "b2"))):
            view = store.tenant(tenant)
            shared = list(view.log("conv", "shared").entries())
            assert [e.seq for e in shared] == list(range(1, 81))
            assert {e.payload.decode().split(":")[0] for e in shared} == set(writers)
            assert view.log("conv", "shared").verify() == 80
            for writer in writers:
                assert view.log("conv", writer).verify() == 40
            assert len(list(view.feed())) == 160
        assert store.log("conv", "shared").head() is None
        assert store.rate_limits.window_stats("k", 50, 3600).remaining == 50


def test_a_tenant_writer_killed_mid_append_loses_nothing_acknowledged(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    agentstore.open(_policy(db)).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED, str(db)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    acknowledged = 0
    deadline = time.monotonic() + 60
    while acknowledged < 200 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acknowledged = int(line)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    assert acknowledged >= 200
    with agentstore.open(_policy(db)) as store:
        log = store.tenant("acme").log("conv", "doomed")
        head = log.head()
        assert head is not None and head.seq >= acknowledged
        assert log.verify() == head.seq
        assert store.tenant("beta").log("conv", "doomed").head() is None
