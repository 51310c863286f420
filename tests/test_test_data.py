"""Tests create their data the way users do: through the services, the REST API or the Studio forms,
so every validator runs on it (a direct row write once hid that the tool API refused the
`{{ .firstName }}` shorthand the renderer supports).

A direct write (`Model.objects.create(...)`, `acreate`, `bulk_create`, `get_or_create`, …) stays only
for a state users cannot reach, and says so: the line, or the one above it, carries the comment
`# a state users cannot reach: <why>`. This test finds every other one.
"""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
MARK = "# a state users cannot reach"
DIRECT_WRITE = re.compile(r"\.objects\.a?(?:create|bulk_create|get_or_create|update_or_create)\b")

# Benchmarks are not tests; the embed bench still makes its bot with a direct write (to convert).
NOT_YET_CONVERTED = ("bench/bench_embed.py",)


def unmarked_direct_writes(root: Path = TESTS) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        name = path.relative_to(root).as_posix()
        if path == Path(__file__).resolve() or name.startswith(NOT_YET_CONVERTED):
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if not DIRECT_WRITE.search(line):
                continue
            above = lines[number - 2] if number > 1 else ""
            if MARK not in line and MARK not in above:
                found.append(f"tests/{name}:{number}: {line.strip()}")
    return found


def test_tests_write_rows_directly_only_for_states_users_cannot_reach():
    found = unmarked_direct_writes()
    assert not found, (
        "Create test data through the services, the REST API or the Studio forms (tests/user_data.py has "
        f"helpers); a direct write needs `{MARK}: <why>` on its line or the line above:\n" + "\n".join(found)
    )


def test_the_guard_sees_a_direct_write_and_accepts_a_marked_one(tmp_path):
    (tmp_path / "test_sample.py").write_text(
        "Bot.objects.create(name='x')\n"
        "await database_sync_to_async(Conversation.objects.create)(bot=bot)\n"
        f"{MARK}: a message from last year\n"
        "Message.objects.bulk_create(rows)\n"
        f"Message.objects.acreate(content='old')  {MARK}: timestamps in the past\n"
        "User.objects.create_user(username='u')\n",
        encoding="utf-8",
    )
    assert [entry.split(": ", 1)[0] for entry in unmarked_direct_writes(tmp_path)] == [
        "tests/test_sample.py:1",
        "tests/test_sample.py:2",
    ]
