"""Checks of the harness's own logic (no server): reading oha's JSON report
into requests/s, percentiles and errors, and the table's medians, error
sums and ratios. Run by `BENCH_SMOKE=1 scripts/bench.sh` before the smoke
run, or alone: `python3 -m unittest discover -s scripts/bench`.

Owns: nothing but these checks.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import unittest

import harness


def fake_oha(directory: str, report: dict) -> str:
    """An executable that prints `report` as oha's JSON output would, and
    records its arguments next to itself."""
    path = os.path.join(directory, "oha")
    with open(os.path.join(directory, "report.json"), "w") as f:
        json.dump(report, f)
    with open(path, "w") as f:
        f.write(
            "#!/bin/sh\n"
            f'printf "%s\\n" "$@" > "{directory}/argv"\n'
            f'cat "{directory}/report.json"\n'
        )
    os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)
    return path


def report(codes: dict[str, int], errors: dict[str, int] | None = None) -> dict:
    return {
        "summary": {"total": 2.0},
        "latencyPercentiles": {"p50": 0.0015, "p99": 0.012},
        "statusCodeDistribution": codes,
        "errorDistribution": errors or {},
    }


class OhaReport(unittest.TestCase):
    def run_fake(self, rep: dict, case: harness.Case) -> tuple[harness.Result, list[str]]:
        with tempfile.TemporaryDirectory() as d:
            oha = fake_oha(d, rep)
            server = harness.Server("vault-rs", d, url="http://127.0.0.1:1")
            r = harness.run_oha(oha, server, case, 32, 1)
            with open(os.path.join(d, "argv")) as f:
                return r, f.read().splitlines()

    def test_only_2xx_count_as_answers(self):
        r, _ = self.run_fake(report({"200": 1000, "204": 10}), harness.Case("health", "GET", "sys/health"))
        self.assertEqual(r.rps, 505.0)
        self.assertEqual(r.errors, 0)
        self.assertAlmostEqual(r.p50, 1.5)
        self.assertAlmostEqual(r.p99, 12.0)

    def test_non_2xx_and_connection_errors_are_errors(self):
        rep = report({"200": 100, "503": 7, "429": 3}, {"connection closed": 2})
        r, _ = self.run_fake(rep, harness.Case("health", "GET", "sys/health"))
        self.assertEqual(r.rps, 50.0)
        self.assertEqual(r.errors, 12)

    def test_writes_get_a_random_key_token_and_body(self):
        case = harness.Case("kv-write", "POST", "secret/data/bench/w", '{"data":{}}', "tok", random_suffix=True)
        _, argv = self.run_fake(report({"200": 1}), case)
        self.assertIn("--rand-regex-url", argv)
        self.assertEqual(argv[-1], "http://127.0.0.1:1/v1/secret/data/bench/w[a-z0-9]{24}")
        self.assertIn("X-Vault-Token: tok", argv)
        self.assertEqual(argv[argv.index("-d") + 1], '{"data":{}}')
        self.assertEqual(argv[argv.index("-m") + 1], "POST")
        self.assertIn("--wait-ongoing-requests-after-deadline", argv)

    def test_a_failed_oha_is_an_error(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "oha")
            with open(path, "w") as f:
                f.write("#!/bin/sh\necho boom >&2\nexit 3\n")
            os.chmod(path, 0o755)
            server = harness.Server("bare", d, url="http://127.0.0.1:1")
            with self.assertRaises(harness.BenchError):
                harness.run_oha(path, server, harness.Case("health", "GET", "sys/health"), 1, 1)


class Table(unittest.TestCase):
    def test_medians_error_sums_ratios_and_missing_cases(self):
        servers = [harness.Server(n, "/nonexistent") for n in ("vault-rs", "OpenBao", "bare")]
        servers[0].rss_idle = {"VmRSS": 2048}
        servers[0].rss_end = {"VmRSS": 4096, "VmHWM": 5120}
        R = harness.Result
        results = {
            ("vault-rs", "kv-read", 32): [R(100, 1, 9, 0), R(300, 3, 7, 1), R(200, 2, 8, 2)],
            ("OpenBao", "kv-read", 32): [R(50, 1, 1, 0)],
            ("bare", "kv-read", 32): [R(400, 1, 1, 0)],
            ("vault-rs", "apikey-validate", 32): [R(80, 1, 1, 0)],
            ("bare", "apikey-validate", 32): [R(160, 1, 1, 0)],
        }
        rows = harness.build_table(servers, results, ["kv-read", "apikey-validate"], [32])
        header, kv, api = rows[0], rows[1], rows[2]
        col = {name: i for i, name in enumerate(header)}
        self.assertEqual(kv[col["vault-rs req/s"]], "200")
        self.assertEqual(kv[col["vault-rs p50 ms"]], "2.00")
        self.assertEqual(kv[col["vault-rs p99 ms"]], "8.00")
        self.assertEqual(kv[col["vault-rs err"]], "3")
        self.assertEqual(kv[col["vault-rs/bare"]], "0.50")
        self.assertEqual(kv[col["vault-rs/OpenBao"]], "4.00")
        self.assertEqual(api[col["OpenBao req/s"]], "n/a")
        self.assertEqual(api[col["vault-rs/OpenBao"]], "n/a")
        self.assertEqual(api[col["vault-rs/bare"]], "0.50")
        rss = {r[0]: r for r in rows[3:]}
        self.assertEqual(rss["RSS idle MiB"][col["vault-rs req/s"]], "2.0")
        self.assertEqual(rss["RSS peak MiB"][col["vault-rs req/s"]], "5.0")
        self.assertEqual(rss["RSS after MiB"][col["vault-rs req/s"]], "4.0")
        md = harness.render_markdown(rows).splitlines()
        self.assertEqual(len(md), len(rows) + 1)
        self.assertTrue(all(line.count("|") == len(header) + 1 for line in md))


if __name__ == "__main__":
    unittest.main()
