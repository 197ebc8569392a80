"""`flowdesk` on the command line: what --help tells, and the commands that work on the
data, run as a person runs them (a subprocess) against the real database."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pty
import select
import signal
import sys
from pathlib import Path

import pytest

from api.cli import COMMAND_SETTINGS, parser
from api.services.users import UserService
from api.settings import Settings
from tests.client import GraphQLClient, GraphQLError
from tests.factories import fresh_key, one_task, start
from tests.kit.people import as_user, make_user

FLOWDESK = Path(sys.executable).parent / "flowdesk"
BPMN = Path(__file__).resolve().parent / "bpmn" / "leave_request_camunda7.bpmn"


async def flowdesk(
    settings: Settings, *argv: str | Path, stdin: bytes = b""
) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        FLOWDESK,
        *map(str, argv),
        env={**os.environ, "FLOWDESK_DATABASE_URL": settings.database_url},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _subcommand(path: str) -> argparse.ArgumentParser:
    found = parser()
    for name in path.split():
        [choices] = [a.choices for a in found._actions if isinstance(a, argparse._SubParsersAction)]
        found = choices[name]
    return found


@pytest.mark.parametrize("command", sorted(COMMAND_SETTINGS))
def test_help_lists_every_option_and_the_environment_variables_it_reads(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args([*command.split(), "--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    for action in _subcommand(command)._actions:
        for flag in action.option_strings or [str(action.metavar or action.dest)]:
            assert flag in shown, flag
    for name in ("log_level", *COMMAND_SETTINGS[command]):
        assert f"FLOWDESK_{name.upper()}" in shown


def test_every_setting_is_listed_by_the_commands_that_read_it() -> None:
    listed = {name for names in COMMAND_SETTINGS.values() for name in names}
    assert listed == set(Settings.model_fields)


async def test_user_add_reads_the_password_from_stdin(
    settings: Settings, users: UserService, unique: str
) -> None:
    code, out, err = await flowdesk(
        settings, "user", "add", f"cli-{unique}", "--group", f"g-{unique}", stdin=b"from stdin 1\n"
    )
    assert (code, err) == (0, "")
    assert out.startswith(f"created user cli-{unique} (")
    _, user = await users.login(f"cli-{unique}", "from stdin 1")
    assert (await users.principal(user.id)).groups == {f"g-{unique}"}


async def test_user_add_prompts_twice_on_a_terminal(
    settings: Settings, users: UserService, unique: str
) -> None:
    """getpass reads from the terminal, so the test gives the command one (a pty)."""

    def read(fd: int) -> bytes:
        ready, _, _ = select.select([fd], [], [], 60)
        assert ready, "the command wrote nothing for 60 s"
        try:
            return os.read(fd, 1024)
        except OSError:  # the child closed the terminal
            return b""

    def run() -> bytes:
        pid, fd = pty.fork()
        if pid == 0:  # the child: the command, with the pty as its terminal
            os.environ["FLOWDESK_DATABASE_URL"] = settings.database_url
            os.execv(str(FLOWDESK), [str(FLOWDESK), "user", "add", f"tty-{unique}"])
        try:
            seen = b""
            for prompt in (b"Password: ", b"Password again: "):
                # Answer only once the prompt is out: getpass flushes what was typed
                # before it asks.
                while not seen.endswith(prompt):
                    chunk = read(fd)
                    assert chunk, seen
                    seen += chunk
                os.write(fd, b"typed secret 1\n")
            while chunk := read(fd):
                seen += chunk
            _, status = os.waitpid(pid, 0)
        except BaseException:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise
        assert os.waitstatus_to_exitcode(status) == 0, seen
        return seen

    seen = await asyncio.to_thread(run)
    assert b"Password: " in seen and b"Password again: " in seen
    assert b"typed secret 1" not in seen  # not echoed
    await users.login(f"tty-{unique}", "typed secret 1")


async def test_user_add_refusal_is_one_line_and_exit_status_1(
    settings: Settings, users: UserService
) -> None:
    taken = await make_user(users)
    code, out, err = await flowdesk(settings, "user", "add", taken.username, stdin=b"another 1\n")
    assert code == 1 and out == ""
    assert err.startswith("flowdesk user: ") and err.count("\n") == 1 and "Traceback" not in err
    code, _, err = await flowdesk(settings, "user", "add", "short-one", stdin=b"short\n")
    assert (code, err) == (1, "flowdesk user: password must have at least 8 characters\n")


async def test_deploy_takes_json_and_bpmn_and_prints_every_problem_of_what_it_refuses(
    settings: Settings, client: GraphQLClient, users: UserService, tmp_path: Path
) -> None:
    good = one_task()
    (tmp_path / "good.json").write_text(json.dumps(good))
    bpmn_key = fresh_key("leave")
    (tmp_path / "leave.bpmn").write_text(
        BPMN.read_text().replace('"leave_request"', f'"{bpmn_key}"')
    )
    bad = one_task()
    bad["nodes"].append({"id": "lost", "type": "userTask", "priority": 500})
    bad["flows"].append({"from": "work", "to": "nowhere"})
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    (tmp_path / "broken.json").write_text("{not json")

    designer = await make_user(users)
    code, out, err = await flowdesk(
        settings,
        "deploy",
        "--as",
        designer.username,
        *(tmp_path / f for f in ("good.json", "leave.bpmn", "bad.json", "broken.json")),
    )
    assert code == 1
    assert out.splitlines() == [
        f"{tmp_path / 'good.json'}: deployed {good['key']} version 1",
        f"{tmp_path / 'leave.bpmn'}: deployed {bpmn_key} version 1",
    ]
    problems = [line for line in err.splitlines() if line.startswith(str(tmp_path / "bad.json"))]
    assert len(problems) >= 3, err  # the flow's missing target, the priority, the lost node
    assert any("nowhere" in line for line in problems)
    assert any("(node lost)" in line and "priority" in line for line in problems)
    assert any(
        line.startswith(f"{tmp_path / 'broken.json'}: cannot read it") for line in err.splitlines()
    )
    # Nothing of what was refused was deployed.
    admin = await as_user(client, users, admin=True)
    with pytest.raises(GraphQLError) as missing:
        await admin.execute(
            "query($k: String!) { processDefinition(key: $k) { key } }", {"k": bad["key"]}
        )
    assert missing.value.codes == ["NOT_FOUND"]


async def test_instances_and_tasks_show_what_graphql_shows(
    settings: Settings, client: GraphQLClient, users: UserService, unique: str
) -> None:
    group = f"team-{unique}"
    alice = await make_user(users, groups=[group])
    as_alice = await client.login(alice.username)
    definition = one_task(group=group)
    await as_alice.execute(
        "mutation($d: JSON!) { deployDefinition(definition: $d) { key } }", {"d": definition}
    )
    started = await start(as_alice, definition["key"], business_key=f"BK-{unique}")
    [task] = started["tasks"]

    code, out, err = await flowdesk(settings, "instances", "--key", definition["key"])
    assert (code, err) == (0, "")
    header, row = out.splitlines()
    assert header.split()[:3] == ["ID", "DEFINITION", "STATUS"]
    assert row.split()[:4] == [started["id"], f"{definition['key']}", "v1", "RUNNING"]
    assert f"BK-{unique}" in row

    code, out, err = await flowdesk(settings, "tasks", "--user", alice.username)
    assert (code, err) == (0, "")
    [row] = out.splitlines()[1:]
    assert row.split()[0] == task["id"] and "Do the work" in row and group in row

    stranger = await make_user(users)
    code, out, _ = await flowdesk(
        settings, "tasks", "--user", stranger.username, "--key", definition["key"]
    )
    assert (code, out) == (0, "(none)\n")
    code, out, _ = await flowdesk(
        settings, "tasks", "--key", definition["key"], "--status", "CREATED"
    )
    assert task["id"] in out
    code, _, err = await flowdesk(settings, "tasks", "--user", f"nobody-{unique}")
    assert (code, err) == (1, f"flowdesk tasks: no user 'nobody-{unique}'\n")
