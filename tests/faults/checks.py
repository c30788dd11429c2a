"""What must hold after a run, read from the database and from what the clients saw, and
the tables the rig prints."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.faults.load import Tally

if TYPE_CHECKING:
    from tests.faults.cluster import Cluster
    from tests.faults.scenario import FaultWindow

FINAL = {"completed", "failed", "blocked", "cancelled"}
KEEPS_UNIT = {"completed", "blocked"}
"""A failed or cancelled reply gives its unit back; the rig never asks again while a reply
is pending (which cancels it without giving back), so this is exact."""
READY_AGAIN_SECONDS = 30.0
EXAMPLES = 3


@dataclass
class Rule:
    name: str
    broken: list[str] = field(default_factory=list)
    checked: int = 0

    @property
    def held(self) -> bool:
        return not self.broken


@dataclass
class FaultRow:
    name: str
    lasted: float
    recovered_after: float | None
    ready_after: float | None
    not_ready_seen: str


@dataclass
class Outcome:
    rules: list[Rule]
    faults: list[FaultRow]
    counts: dict[str, int]

    @property
    def passed(self) -> bool:
        return all(rule.held for rule in self.rules)

    def report(self, tally: Tally, windows: Sequence[FaultWindow]) -> str:
        lines = ["", "rule                                                   checked  result"]
        for rule in self.rules:
            result = "held" if rule.held else f"BROKEN ({len(rule.broken)})"
            lines.append(f"{rule.name:<55}{rule.checked:>7}  {result}")
            lines.extend(f"    {example}" for example in rule.broken[:EXAMPLES])
        lines += ["", f"{'fault':<48}lasted  recovered  ready  not ready seen"]
        for row in self.faults:
            lines.append(
                f"{row.name:<48}{row.lasted:>5.1f}s {_seconds(row.recovered_after):>9}  "
                f"{_seconds(row.ready_after):>5}  {row.not_ready_seen}"
            )
        lines += ["", "  ".join(f"{name} {value}" for name, value in self.counts.items())]
        lines.append("PASSED: every rule held" if self.passed else "FAILED: a rule broke")
        return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f}s"


async def check(cluster: Cluster, tally: Tally, windows: Sequence[FaultWindow]) -> Outcome:
    connection = await cluster.connect()
    try:
        replies = [dict(row) for row in await connection.fetch(
            "SELECT id::text, in_reply_to::text AS question, user_id::text, status, content, "
            "attempts FROM messages WHERE role = 'model'"
        )]  # fmt: skip
        questions = {row["id"]: dict(row) for row in await connection.fetch(
            "SELECT id::text, content, user_id::text FROM messages WHERE role = 'user'"
        )}  # fmt: skip
        writes = [dict(row) for row in await connection.fetch(
            "SELECT reply_id::text, old_status, new_status FROM rig_final_writes ORDER BY at"
        )]  # fmt: skip
        usage = await connection.fetch(
            "SELECT user_id::text, sum(used) AS used FROM daily_usage GROUP BY user_id"
        )
    finally:
        await connection.close()
    by_id = {reply["id"]: reply for reply in replies}
    rules = [
        _accepted_posts_answered(tally, by_id),
        _one_reply_per_accepted_request(tally, replies, questions),
        _stored_once(replies, writes),
        _streams_hold_the_stored_text(tally, by_id),
        _streams_done(tally),
        _quota(replies, {row["user_id"]: int(row["used"]) for row in usage}),
        Rule("no answer 500 (or other 5xx but 503)", list(tally.server_errors), tally.requests),
        Rule(
            "every 503 says Retry-After",
            list(tally.unavailable_without_retry_after),
            tally.statuses[503],
        ),
        _refused_posts_not_stored(tally, questions),
        Rule(
            "every simulated person lasts to the end",
            list(tally.people_failed),
            tally.people,
        ),
        _no_unhandled_exception(cluster),
        _every_process_up(cluster),
        *_readiness_rules(tally, windows),
    ]
    rows = [_fault_row(tally, window) for window in windows]
    rules.append(
        Rule(
            "the service recovers after each fault",
            [
                f"{row.name}: no post accepted after it"
                for row in rows
                if row.recovered_after is None
            ],
            len(rows),
        )
    )
    counts = {
        "requests": tally.requests,
        "posts": tally.posts,
        "regenerates": tally.regenerates,
        "stops": tally.stops,
        "streams": len(tally.followed),
        "resumes": tally.resumes,
        "503s": tally.statuses[503],
        "broken connections": tally.transport_errors,
        "replies claimed again": sum(1 for reply in replies if reply["attempts"] > 1),
        "longest stream (s)": round(max((f.seconds for f in tally.followed), default=0)),
        "proxy cuts": cluster.proxy.cuts if cluster.proxy else 0,
    }
    return Outcome(rules, rows, counts)


def _accepted_posts_answered(tally: Tally, by_id: dict[str, dict[str, Any]]) -> Rule:
    rule = Rule("every accepted post or regenerate has a final reply", checked=len(tally.accepted))
    for reply_id in tally.accepted:
        reply = by_id.get(reply_id)
        if reply is None:
            rule.broken.append(f"reply {reply_id} answered 202 but not stored")
        elif reply["status"] not in FINAL:
            rule.broken.append(f"reply {reply_id} still {reply['status']} after the settle time")
    return rule


def _one_reply_per_accepted_request(
    tally: Tally, replies: list[dict[str, Any]], questions: dict[str, dict[str, Any]]
) -> Rule:
    """A question has one reply per accepted request for it (its post, its regenerates):
    none lost, none made twice; the newest is the current one."""
    wanted = Counter(tally.accepted.values())
    stored: Counter[str] = Counter()
    for reply in replies:
        question = questions.get(reply["question"])
        if question is not None:
            stored[question["content"]] += 1
    rule = Rule("each accepted question has exactly one reply per request", checked=len(wanted))
    for content, count in wanted.items():
        if stored[content] != count:
            rule.broken.append(f"{content!r}: {count} accepted, {stored[content]} replies stored")
    return rule


def _stored_once(replies: list[dict[str, Any]], writes: list[dict[str, Any]]) -> Rule:
    per_reply: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for write in writes:
        per_reply[write["reply_id"]].append(write)
    final = [reply for reply in replies if reply["status"] in FINAL]
    rule = Rule("each reply is stored once (no late write changes it)", checked=len(final))
    for reply in final:
        seen = per_reply.get(reply["id"], [])
        if len(seen) != 1:
            steps = ", ".join(f"{w['old_status']}->{w['new_status']}" for w in seen)
            rule.broken.append(f"reply {reply['id']}: {len(seen)} final writes ({steps})")
    return rule


def _streams_hold_the_stored_text(tally: Tally, by_id: dict[str, dict[str, Any]]) -> Rule:
    done = [stream for stream in tally.followed if stream.done is not None]
    rule = Rule("every stream followed to done holds the stored text", checked=len(done))
    for stream in done:
        stored = by_id.get(stream.reply_id, {}).get("content")
        assert stream.done is not None
        if stream.text != stored:
            rule.broken.append(
                f"reply {stream.reply_id} (resumed {stream.resumes}x): streamed "
                f"{stream.text[-80:]!r}, stored {str(stored)[-80:]!r}"
            )
        elif stream.done.get("content") != stored:
            rule.broken.append(f"reply {stream.reply_id}: done carries other text than stored")
    return rule


def _streams_done(tally: Tally) -> Rule:
    rule = Rule("every stream followed reaches done", checked=len(tally.followed))
    for stream in tally.followed:
        if stream.done is None:
            rule.broken.append(
                f"reply {stream.reply_id}: no done after {stream.resumes} resumes "
                f"({len(stream.events)} events)"
            )
    return rule


def _quota(replies: list[dict[str, Any]], used: dict[str, int]) -> Rule:
    kept: Counter[str] = Counter(
        reply["user_id"] for reply in replies if reply["status"] in KEEPS_UNIT
    )
    users = set(kept) | set(used)
    rule = Rule("the day's quota counts equal the replies that keep a unit", checked=len(users))
    for user in sorted(users):
        if kept[user] != used.get(user, 0):
            rule.broken.append(f"user {user}: {used.get(user, 0)} units used, {kept[user]} kept")
    return rule


def _refused_posts_not_stored(tally: Tally, questions: dict[str, dict[str, Any]]) -> Rule:
    stored = {question["content"] for question in questions.values()}
    rule = Rule("a post answered with an error is not stored", checked=len(tally.refused_posts))
    for content, status in tally.refused_posts.items():
        if content in stored:
            rule.broken.append(f"{content!r} was answered {status} yet stored")
    return rule


UNHANDLED = (
    "Exception in ASGI application",
    "Task exception was never retrieved",
    "unhandled error",
    "Traceback (most recent call last)",
)
"""What a process logs when an exception escaped the code that should have handled it."""


def _no_unhandled_exception(cluster: Cluster) -> Rule:
    from tests.faults.cluster import APIS, WORKERS

    rule = Rule("no process logs an unhandled exception", checked=len(APIS) + len(WORKERS))
    for name in (*APIS, *WORKERS):
        for line in cluster.log(name).splitlines():
            try:
                event = str(json.loads(line).get("event", ""))
            except ValueError:
                event = line
            if any(marker in event for marker in UNHANDLED):
                rule.broken.append(f"{name}: {_unhandled_summary(line)}".replace("\n", " "))
    return rule


def _every_process_up(cluster: Cluster) -> Rule:
    """No API or worker ended by itself (the rig starts again the ones it kills)."""
    from tests.faults.cluster import APIS, WORKERS

    rule = Rule("every API and worker process is still running", checked=len(APIS) + len(WORKERS))
    for name in (*APIS, *WORKERS):
        process = cluster.processes.get(name)
        if process is None or process.poll() is not None:
            code = None if process is None else process.returncode
            rule.broken.append(f"{name} exited by itself (code {code}); its log says why")
    return rule


def _unhandled_summary(line: str) -> str:
    """The event and the last frame of the service's own code, for the table."""
    try:
        record = json.loads(line)
    except ValueError:
        return line[:200]
    trace = str(record.get("exception", "")) + str(record.get("event", ""))
    frames = re.findall(r'gemini_clone/([\w/]+\.py)", line (\d+), in (\w+)', trace)
    where = " <- ".join(f"{path}:{number} {function}" for path, number, function in frames[-3:])
    reason = trace.strip().splitlines()[-1][:160] if trace.strip() else ""
    return f"{str(record.get('event', '')).strip()[:60]} [{where}] {reason}"


def _readiness_rules(tally: Tally, windows: Sequence[FaultWindow]) -> list[Rule]:
    during = Rule("/readyz is not ready while a dependency is down")
    after = Rule(f"/readyz is ready again within {READY_AGAIN_SECONDS:.0f} s of the fault's end")
    for window in windows:
        apis = sorted({api for _, api, _, _ in tally.readiness})
        if window.fault.down is not None:
            for api in apis:
                during.checked += 1
                if not _not_ready_seen(tally, window, api):
                    during.broken.append(
                        f"{window.fault.name}: {api} never said {window.fault.down} was down"
                    )
        for api in apis:
            after.checked += 1
            ready_at = _ready_after(tally, window, api)
            if ready_at is None or ready_at > READY_AGAIN_SECONDS:
                after.broken.append(f"{window.fault.name}: {api} ready after {_seconds(ready_at)}")
    return [during, after]


def _not_ready_seen(tally: Tally, window: FaultWindow, api: str) -> bool:
    down = window.fault.down
    return any(
        name == api
        and window.began <= at <= window.ended
        and status == 503
        and not checks.get(str(down), True)
        for at, name, status, checks in tally.readiness
    )


def _ready_after(tally: Tally, window: FaultWindow, api: str) -> float | None:
    for at, name, status, _ in tally.readiness:
        if name == api and at >= window.ended and status == 200:
            return at - window.ended
    return None


def _fault_row(tally: Tally, window: FaultWindow) -> FaultRow:
    recovered = next((at - window.ended for at in tally.probed if at >= window.ended), None)
    ready = [_ready_after(tally, window, api) for api in sorted({r[1] for r in tally.readiness})]
    both_ready = None if not ready or None in ready else max(r for r in ready if r is not None)
    seen = "-"
    if window.fault.down is not None:
        apis = sorted({r[1] for r in tally.readiness})
        seen = "yes" if all(_not_ready_seen(tally, window, api) for api in apis) else "NO"
    return FaultRow(
        f"{window.fault.number}. {window.fault.name}"[:47],
        window.ended - window.began,
        recovered,
        both_ready,
        seen,
    )
