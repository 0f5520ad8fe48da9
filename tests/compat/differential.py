"""The machinery of the differential test: steps, their replay against one
server, the comparison of two replays, and the allow-list.

Owns: what "the same answer" means. Two answers to the same step agree when
their status codes are equal and their JSON bodies have the same shape: the
same keys in every object, at every depth, and the same JSON type (null,
bool, number, string, array, object) for each field. Values are not
compared (ids, times and tokens differ by nature), except where clients
match on them: a 404 whose `errors` array is empty on one side only (the
mark of "nothing at this path" as opposed to "no such route"), the
`Content-Type` of an error, and the fields a step names in `Step.values`
(capabilities, granted TTLs, versions, list keys). Must not touch: the
servers (it only replays requests through the session it is handed).

A step's path, query and body may name values saved by earlier steps as
`${name}`; each server has its own saved values (its own tokens, accessors,
nonces), so the same scenario replays on both.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
_MISSING = object()


@dataclass
class Step:
    """One request of the scenario.

    `body` is sent as JSON; `raw` (bytes or str) is sent as is, for bodies
    that are not JSON. `token` names a saved value (`"root"` by default;
    None sends no token). `save` maps a name to a dotted path in the JSON
    answer (`auth.client_token`, `data.keys.0`) whose value later steps use.
    `values` lists dotted paths whose values (not only shapes) must be
    equal in both answers: for fields that carry meaning and no identity
    (capabilities, TTLs granted, versions, list keys; lists of scalars are
    compared as sets).
    """

    id: str
    method: str
    path: str
    body: Any = None
    raw: bytes | str | None = None
    token: str | None = "root"
    headers: dict[str, str] = field(default_factory=dict)
    save: dict[str, str] = field(default_factory=dict)
    values: list[str] = field(default_factory=list)


@dataclass
class Answer:
    status: int
    content_type: str
    body: Any  # parsed JSON, or _MISSING when the body is empty or not JSON
    text: str

    def short(self, limit: int = 600) -> str:
        text = self.text if len(self.text) <= limit else self.text[:limit] + "..."
        return f"{self.status} {text}".strip()


@dataclass
class Difference:
    step: str
    at: str
    bao: str
    vault_rs: str

    def __str__(self) -> str:
        return f"{self.step} @ {self.at}: bao={self.bao} vault-rs={self.vault_rs}"


def substitute(value: Any, saved: dict[str, Any]) -> Any:
    """Replaces `${name}` placeholders in strings, lists and objects."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole:
            return saved.get(whole.group(1), f"<unset {whole.group(1)}>")
        return _PLACEHOLDER.sub(lambda m: str(saved.get(m.group(1), f"<unset {m.group(1)}>")), value)
    if isinstance(value, list):
        return [substitute(v, saved) for v in value]
    if isinstance(value, dict):
        return {substitute(k, saved): substitute(v, saved) for k, v in value.items()}
    return value


def dig(body: Any, path: str) -> Any:
    cur = body
    for part in path.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return _MISSING
    return cur


def replay(session: requests.Session, url: str, steps: list[Step], saved: dict[str, Any]) -> dict[str, Answer]:
    """Sends every step in order; returns the answers by step id."""
    answers: dict[str, Answer] = {}
    for step in steps:
        assert step.id not in answers, f"duplicate step id {step.id}"
        headers = dict(step.headers)
        token = saved.get(step.token) if step.token is not None else None
        if step.token is not None:
            headers["X-Vault-Token"] = str(token if token is not None else f"<unset {step.token}>")
        kwargs: dict[str, Any] = {"headers": substitute(headers, saved), "timeout": 60, "allow_redirects": False}
        if step.raw is not None:
            kwargs["data"] = step.raw.encode() if isinstance(step.raw, str) else step.raw
        elif step.body is not None:
            kwargs["data"] = json.dumps(substitute(step.body, saved)).encode()
            kwargs["headers"].setdefault("Content-Type", "application/json")
        path = substitute(step.path, saved)
        resp = session.request(step.method, f"{url}/v1/{path}", **kwargs)
        text = resp.text
        try:
            body = resp.json() if text.strip() else _MISSING
        except ValueError:
            body = _MISSING
        answers[step.id] = Answer(resp.status_code, resp.headers.get("Content-Type", ""), body, text)
        for name, where in step.save.items():
            value = dig(body, where)
            if value is not _MISSING:
                saved[name] = value
    return answers


def json_type(value: Any) -> str:
    if value is _MISSING:
        return "no JSON body"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def shape_differences(a: Any, b: Any, at: str, status: int = 200) -> list[tuple[str, str, str]]:
    """(location, bao's, vault-rs's) for every place where the shapes of
    `a` (bao) and `b` (vault-rs) differ."""
    ta, tb = json_type(a), json_type(b)
    if ta != tb:
        return [(at, ta, tb)]
    out: list[tuple[str, str, str]] = []
    if ta == "object":
        for key in sorted(set(a) | set(b)):
            where = f"{at}.{key}" if at else key
            if key not in b:
                out.append((where, json_type(a[key]), "absent"))
            elif key not in a:
                out.append((where, "absent", json_type(b[key])))
            else:
                out.extend(shape_differences(a[key], b[key], where, status))
    elif ta == "array":
        if at == "errors" and status == 404 and (not a) != (not b):
            out.append((at, "empty" if not a else "non-empty", "empty" if not b else "non-empty"))
        elif a and b:
            types_a = sorted({json_type(v) for v in a})
            types_b = sorted({json_type(v) for v in b})
            if types_a != types_b:
                out.append((f"{at}[]", "|".join(types_a), "|".join(types_b)))
            else:
                # Elements of one array have one shape in both servers'
                # answers: compare the first of each.
                out.extend(shape_differences(a[0], b[0], f"{at}[]", status))
    return out


def _normal(value: Any) -> Any:
    if isinstance(value, list) and all(isinstance(v, (str, int, float, bool)) for v in value):
        return sorted(value, key=repr)
    return value


def _show(value: Any) -> str:
    return "absent" if value is _MISSING else json.dumps(value, sort_keys=True)


def compare(step: Step, bao: Answer, vr: Answer) -> list[Difference]:
    if bao.status != vr.status:
        return [Difference(step.id, "status", bao.short(), vr.short())]
    diffs = [Difference(step.id, at, x, y) for at, x, y in shape_differences(bao.body, vr.body, "", bao.status)]
    for path in step.values:
        va, vb = _normal(dig(bao.body, path)), _normal(dig(vr.body, path))
        if va != vb:
            diffs.append(Difference(step.id, f"value {path}", _show(va), _show(vb)))
    if bao.status >= 400 and bao.content_type != vr.content_type:
        diffs.append(Difference(step.id, "content-type", bao.content_type, vr.content_type))
    return diffs


def expand(pattern: str) -> list[str]:
    """Shell-style brace expansion: `a.{b,c}` is `a.b` and `a.c`."""
    m = re.search(r"\{([^{}]*)\}", pattern)
    if not m:
        return [pattern]
    head, tail = pattern[: m.start()], pattern[m.end() :]
    return [x for alt in m.group(1).split(",") for x in expand(head + alt + tail)]


def glob(name: str, pattern: str) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in expand(pattern))


@dataclass
class Allowed:
    """An allow-list entry: `step` and each of `at` are shell-style
    patterns (with `{a,b}` alternatives); a difference is allowed when its step matches `step` and its
    location matches one of `at`."""

    step: str
    at: list[str]
    reason: str
    fix: str

    def matches(self, d: Difference) -> bool:
        return glob(d.step, self.step) and any(glob(d.at, a) for a in self.at)

    def unused_locations(self, diffs: list[Difference]) -> list[str]:
        """The patterns of `at` that no difference matches any more."""
        return [
            a
            for a in self.at
            if not any(glob(d.step, self.step) and glob(d.at, a) for d in diffs)
        ]


@dataclass
class CliAllowed:
    """A `bao` command vault-rs does not serve yet: asserted to fail."""

    command: str
    reason: str


def load_allowlist(path: Path) -> tuple[list[Allowed], list[CliAllowed]]:
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    entries = []
    for e in doc.get("difference", []):
        missing = {"step", "at", "reason", "fix"} - set(e)
        assert not missing, f"allow-list entry {e} lacks {sorted(missing)}"
        assert e["fix"] in ("server", "deliberate"), f"allow-list entry {e}: fix must be server or deliberate"
        at = [e["at"]] if isinstance(e["at"], str) else list(e["at"])
        assert at and all(isinstance(a, str) for a in at), f"allow-list entry {e}: at must be a string or a list of them"
        entries.append(Allowed(e["step"], at, e["reason"], e["fix"]))
    cli = []
    for e in doc.get("cli", []):
        missing = {"command", "reason"} - set(e)
        assert not missing, f"allow-list cli entry {e} lacks {sorted(missing)}"
        cli.append(CliAllowed(e["command"], e["reason"]))
    return entries, cli
