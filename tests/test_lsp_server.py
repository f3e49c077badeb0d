"""``eventlint server`` end to end: a real LSP client (pytest-lsp) drives the server in a
subprocess over stdio, on small workspaces made in ``tmp_path``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig

REPO = Path(__file__).resolve().parent.parent
SERVER = [sys.executable, "-m", "eventlint", "server"]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
RUN_DONE = "eventlint: checked"

HUB = """\
import queue


class Hub:
    def __init__(self):
        self.inbox = queue.Queue()


hub = Hub()
"""

WORKERS = """\
import threading

import requests

from app.hub import hub


def handle():
    while True:
        item = hub.inbox.get()
        requests.post("https://example.invalid/hook", json=item)


threading.Thread(target=handle).start()
"""


def make_workspace(root: Path, settings: str = "") -> Path:
    (root / "app").mkdir(parents=True)
    (root / "pyproject.toml").write_text(f"[tool.eventlint]\n{settings}", encoding="utf-8")
    (root / "app" / "__init__.py").write_text("", encoding="utf-8")
    (root / "app" / "hub.py").write_text(HUB, encoding="utf-8")
    (root / "app" / "workers.py").write_text(WORKERS, encoding="utf-8")
    return root


def runs(client) -> int:
    return sum(1 for m in client.log_messages if m.message.startswith(RUN_DONE))


async def wait_for_runs(client, count: int, limit: float = 120.0) -> None:
    """Until the server has logged ``count`` finished runs (each run publishes its
    diagnostics before its log line, in order)."""
    deadline = asyncio.get_running_loop().time() + limit
    while runs(client) < count:
        assert client.error is None, client.error
        assert asyncio.get_running_loop().time() < deadline, [m.message for m in client.log_messages]
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def session(root: Path, options: dict | None = None, command: list[str] | None = None):
    client = await ClientServerConfig(server_command=command or SERVER, server_env=ENV).start()
    try:
        client.initialize_result = await client.initialize_session(types.InitializeParams(
            capabilities=types.ClientCapabilities(), root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options=options))
        await wait_for_runs(client, 1)
        yield client
    finally:
        with contextlib.suppress(Exception):
            await client.shutdown_session()
        await client.stop()


def shown(client, root: Path) -> dict[str, list[tuple[str, int, int]]]:
    """Every file's diagnostics as (code, 1-based line, 1-based column), by root-relative path."""
    out = {}
    for uri, diagnostics in client.diagnostics.items():
        rel = Path(uri.removeprefix("file://")).relative_to(root).as_posix()
        out[rel] = [(d.code, d.range.start.line + 1, d.range.start.character + 1) for d in diagnostics]
    return out


def diagnostics_of(client, path: Path) -> list[types.Diagnostic]:
    return list(client.diagnostics[path.as_uri()])


async def save(client, path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    client.text_document_did_save(types.DidSaveTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=path.as_uri())))


async def code_actions(client, path: Path, diagnostic: types.Diagnostic) -> list[types.CodeAction]:
    return await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=path.as_uri()), range=diagnostic.range,
        context=types.CodeActionContext(diagnostics=[diagnostic])))


def apply_edits(text: str, edits: list[types.TextEdit]) -> str:
    """The text after ``edits`` (positions in UTF-16 units; the fixtures are ASCII)."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(position: types.Position) -> int:
        return starts[position.line] + position.character

    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[:offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end):]
    return text


def fixed_by_cli(root: Path, copy: Path, *args: str) -> dict[str, str]:
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".eventlint_cache"))
    subprocess.run([sys.executable, "-m", "eventlint", "fix", "--no-cache", *args, "."], cwd=copy, env=ENV,
                   capture_output=True, check=False)
    return {rel: (copy / rel).read_text(encoding="utf-8") for rel in ("app/hub.py", "app/workers.py")}


@pytest.mark.asyncio
async def test_diagnostics_for_the_whole_workspace_with_related_information(tmp_path):
    root = make_workspace(tmp_path / "ws")
    async with session(root) as client:
        assert shown(client, root) == {"app/hub.py": [("EVT001", 6, 9)], "app/workers.py": [("EVT003", 11, 9)]}
        [exposed] = diagnostics_of(client, root / "app" / "hub.py")
        assert exposed.source == "eventlint"
        assert exposed.severity == types.DiagnosticSeverity.Warning
        assert (exposed.range.end.line, exposed.range.end.character) == (5, 34)
        [related] = exposed.related_information
        assert related.location.uri == (root / "app" / "workers.py").as_uri()
        assert (related.location.range.start.line, related.location.range.start.character) == (9, 15)
        assert related.message == "handle gets from it directly (.get())"
        [blocking] = diagnostics_of(client, root / "app" / "workers.py")
        assert [(r.location.range.start.line, r.message) for r in blocking.related_information] == [
            (13, "handle registered here (threading.Thread)")]


@pytest.mark.asyncio
async def test_the_server_announces_save_hover_and_quick_fixes_and_checks_a_new_file_when_opened(tmp_path):
    root = make_workspace(tmp_path / "ws")
    async with session(root) as client:
        capabilities = client.initialize_result.capabilities
        assert capabilities.text_document_sync.save is True
        assert capabilities.hover_provider is True
        assert list(capabilities.code_action_provider.code_action_kinds) == [types.CodeActionKind.QuickFix]
        assert client.initialize_result.server_info.name == "eventlint"
        extra = root / "app" / "extra.py"
        extra.write_text("from app.hub import hub\n\nhub.inbox.put(1)\n", encoding="utf-8")
        client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
            uri=extra.as_uri(), language_id="python", version=1, text=extra.read_text(encoding="utf-8"))))
        await wait_for_runs(client, 2)
        [exposed] = diagnostics_of(client, root / "app" / "hub.py")
        assert [r.location.uri for r in exposed.related_information] == [
            extra.as_uri(), (root / "app" / "workers.py").as_uri()]
        # opening a file the last run saw starts no run
        client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
            uri=extra.as_uri(), language_id="python", version=2, text=extra.read_text(encoding="utf-8"))))
        await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=extra.as_uri()), position=types.Position(0, 0)))
        assert runs(client) == 2
        # a file the settings exclude is checked for once, not at every opening
        (root / "pyproject.toml").write_text('[tool.eventlint]\nexclude = ["gen"]\n', encoding="utf-8")
        (root / "gen").mkdir()
        generated = root / "gen" / "made.py"
        generated.write_text("import queue\nEVENTS = queue.Queue()\n", encoding="utf-8")
        for version in (1, 2):
            client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
                uri=generated.as_uri(), language_id="python", version=version, text=generated.read_text())))
            await client.text_document_hover_async(types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=generated.as_uri()), position=types.Position(0, 0)))
        assert runs(client) == 3
        assert generated.as_uri() not in client.diagnostics


@pytest.mark.asyncio
async def test_each_workspace_folder_is_checked_as_a_project_of_its_own(tmp_path):
    first, second = make_workspace(tmp_path / "one"), make_workspace(tmp_path / "two")
    inner = make_workspace(first / "nested")  # inside a folder: checked with it, not again
    folders = [types.WorkspaceFolder(uri=path.as_uri(), name=path.name) for path in (first, second, inner)]
    client = await ClientServerConfig(server_command=SERVER, server_env=ENV).start()
    try:
        await client.initialize_session(types.InitializeParams(
            capabilities=types.ClientCapabilities(), root_uri=first.as_uri(), workspace_folders=folders))
        await wait_for_runs(client, 2)
        assert shown(client, tmp_path) == {
            f"{where}/app/{name}": found for where in ("one", "two", "one/nested")
            for name, found in (("hub.py", [("EVT001", 6, 9)]), ("workers.py", [("EVT003", 11, 9)]))}
        # a save checks the saved file's folder alone
        workers = second / "app" / "workers.py"
        await save(client, workers, WORKERS.replace("json=item)", "json=item, timeout=5)"))
        await wait_for_runs(client, 3)
        assert [m.message.split("(")[1].split(")")[0] for m in client.log_messages
                if m.message.startswith(RUN_DONE)] == ["start", "start", "save"]
        assert diagnostics_of(client, workers) == []
        assert [d.code for d in diagnostics_of(client, first / "app" / "workers.py")] == ["EVT003"]
        # hover and quick fixes answer in every folder
        [exposed] = diagnostics_of(client, second / "app" / "hub.py")
        hover = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=(second / "app" / "hub.py").as_uri()),
            position=exposed.range.start))
        assert hover.contents.value.startswith("**EVT001 exposed-raw-queue**")
        [blocking] = diagnostics_of(client, first / "app" / "workers.py")
        [action] = await code_actions(client, first / "app" / "workers.py", blocking)
        assert list(action.edit.changes) == [(first / "app" / "workers.py").as_uri()]
        assert runs(client) == 3
    finally:
        with contextlib.suppress(Exception):
            await client.shutdown_session()
        await client.stop()


@pytest.mark.asyncio
async def test_a_folder_the_workspace_gains_is_checked_and_one_it_loses_is_cleared(tmp_path):
    first, second = make_workspace(tmp_path / "one"), make_workspace(tmp_path / "two")
    async with session(first) as client:
        assert set(shown(client, tmp_path)) == {"one/app/hub.py", "one/app/workers.py"}
        client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(
                added=[types.WorkspaceFolder(uri=second.as_uri(), name="two")], removed=[])))
        await wait_for_runs(client, 2)
        assert client.log_messages[-1].message.startswith(f"{RUN_DONE} 3 files (folder added)")
        assert shown(client, tmp_path)["two/app/workers.py"] == [("EVT003", 11, 9)]
        client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(
                added=[], removed=[types.WorkspaceFolder(uri=first.as_uri(), name="one")])))
        await client.text_document_hover_async(types.HoverParams(  # a request: the notification is handled by then
            text_document=types.TextDocumentIdentifier(uri=(second / "app" / "hub.py").as_uri()),
            position=types.Position(0, 0)))
        shown_now = shown(client, tmp_path)
        assert shown_now["one/app/hub.py"] == [] and shown_now["one/app/workers.py"] == []
        assert shown_now["two/app/hub.py"] == [("EVT001", 6, 9)]
        assert runs(client) == 2


@pytest.mark.asyncio
async def test_a_save_refreshes_the_findings_it_changes_in_other_files_and_clears_fixed_ones(tmp_path):
    root = make_workspace(tmp_path / "ws")
    hub, workers = root / "app" / "hub.py", root / "app" / "workers.py"
    async with session(root) as client:
        before = diagnostics_of(client, hub)
        assert "1 place outside Hub" in before[0].message
        # the outside get goes, and the blocking call gets its timeout
        repaired = WORKERS.replace("hub.inbox.get()", "{}").replace("json=item)", "json=item, timeout=5)")
        await save(client, workers, repaired)
        await wait_for_runs(client, 2)
        assert shown(client, root) == {"app/hub.py": [("EVT001", 6, 9)], "app/workers.py": []}
        [after] = diagnostics_of(client, hub)
        assert after.message != before[0].message and "outside Hub" not in after.message
        assert after.related_information is None
        # it comes back in hub.py when another file uses the queue again
        await save(client, workers, WORKERS)
        await wait_for_runs(client, 3)
        assert shown(client, root) == {"app/hub.py": [("EVT001", 6, 9)], "app/workers.py": [("EVT003", 11, 9)]}
        assert diagnostics_of(client, hub)[0].message == before[0].message


@pytest.mark.asyncio
async def test_code_actions_are_safe_fixes_unless_unsafe_ones_are_asked_for(tmp_path):
    root = make_workspace(tmp_path / "ws")
    hub, workers = root / "app" / "hub.py", root / "app" / "workers.py"
    async with session(root) as client:
        [blocking] = diagnostics_of(client, workers)
        [action] = await code_actions(client, workers, blocking)
        assert action.title == ("EVT003: pass timeout=10 (requests raises Timeout, a RequestException callers "
                                "already handle) (safe fix)")
        assert action.kind == types.CodeActionKind.QuickFix
        assert [d.code for d in action.diagnostics] == ["EVT003"]
        assert list(await code_actions(client, hub, diagnostics_of(client, hub)[0])) == []
        expected = fixed_by_cli(root, tmp_path / "cli-safe")
        assert set(action.edit.changes) == {workers.as_uri()}
        assert apply_edits(WORKERS, action.edit.changes[workers.as_uri()]) == expected["app/workers.py"]
        assert expected["app/workers.py"] != WORKERS
        # an edited buffer differs from the file the fix was spelled out for: no fix until it matches again
        client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
            uri=workers.as_uri(), language_id="python", version=1, text="# edited\n" + WORKERS)))
        assert list(await code_actions(client, workers, blocking)) == []
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=workers.as_uri(), version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=WORKERS)]))
        assert [a.title for a in await code_actions(client, workers, blocking)] == [action.title]
        # the settings can ask for unsafe fixes later too
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
            settings={"eventlint": {"unsafeFixes": True}}))
        [unsafe] = await code_actions(client, hub, diagnostics_of(client, hub)[0])
        assert unsafe.title.endswith("(unsafe fix)")


@pytest.mark.asyncio
async def test_unsafe_fixes_when_the_client_asks_and_their_edits_match_eventlint_fix(tmp_path):
    root = make_workspace(tmp_path / "ws")
    hub, workers = root / "app" / "hub.py", root / "app" / "workers.py"
    async with session(root, options={"unsafeFixes": True}) as client:
        [action] = await code_actions(client, hub, diagnostics_of(client, hub)[0])
        assert action.title == "EVT001: privatize-queues: rename to a private name and add methods (unsafe fix)"
        expected = fixed_by_cli(root, tmp_path / "cli-unsafe", "--unsafe-fixes", "--select", "EVT001")
        changes = action.edit.changes
        assert set(changes) == {hub.as_uri(), workers.as_uri()}
        assert apply_edits(HUB, changes[hub.as_uri()]) == expected["app/hub.py"]
        assert apply_edits(WORKERS, changes[workers.as_uri()]) == expected["app/workers.py"]
        assert "self._inbox = queue.Queue()" in expected["app/hub.py"]
        [safe] = await code_actions(client, workers, diagnostics_of(client, workers)[0])
        assert safe.title.endswith("(safe fix)")


@pytest.mark.asyncio
async def test_hover_on_a_finding_shows_its_rule_summary(tmp_path):
    root = make_workspace(tmp_path / "ws")
    hub = root / "app" / "hub.py"
    async with session(root) as client:
        async def hover(line: int, character: int):
            return await client.text_document_hover_async(types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=hub.as_uri()),
                position=types.Position(line=line, character=character)))

        found = await hover(5, 20)
        assert found.contents.kind == types.MarkupKind.Markdown
        text = found.contents.value
        assert text.startswith("**EVT001 exposed-raw-queue**\n\n")
        assert "\n\nFinds a raw channel — `queue.Queue` and its variants" in text
        assert text.endswith("`eventlint explain EVT001` shows the whole page.")
        assert (found.range.start.line, found.range.start.character) == (5, 8)
        assert await hover(0, 0) is None
        assert await hover(5, 40) is None


@pytest.mark.asyncio
async def test_a_file_that_does_not_parse_is_evt000_and_the_others_are_still_checked(tmp_path):
    root = make_workspace(tmp_path / "ws")
    (root / "app" / "broken.py").write_text("def broken(:\n    pass\n", encoding="utf-8")
    (root / "app" / "latin.py").write_bytes(b"x = '\xff\xfe'\n")
    async with session(root) as client:
        assert shown(client, root) == {"app/broken.py": [("EVT000", 1, 12)], "app/hub.py": [("EVT001", 6, 9)],
                                       "app/latin.py": [("EVT000", 1, 6)], "app/workers.py": [("EVT003", 11, 9)]}
        [problem] = diagnostics_of(client, root / "app" / "broken.py")
        assert problem.severity == types.DiagnosticSeverity.Error
        # the file is repaired: its EVT000 goes, the rest stays
        await save(client, root / "app" / "broken.py", "def broken():\n    pass\n")
        await wait_for_runs(client, 2)
        assert shown(client, root)["app/broken.py"] == []
        assert shown(client, root)["app/hub.py"] == [("EVT001", 6, 9)]


@pytest.mark.asyncio
async def test_settings_come_from_the_workspace_pyproject_and_are_read_again_on_save(tmp_path):
    root = make_workspace(tmp_path / "ws", settings='ignore = ["EVT003"]\n')
    async with session(root) as client:
        assert shown(client, root) == {"app/hub.py": [("EVT001", 6, 9)]}
        (root / "pyproject.toml").write_text('[tool.eventlint]\nselect = ["EVT003"]\n', encoding="utf-8")
        await save(client, root / "app" / "workers.py", WORKERS)
        await wait_for_runs(client, 2)
        assert shown(client, root) == {"app/hub.py": [], "app/workers.py": [("EVT003", 11, 9)]}


@pytest.mark.asyncio
async def test_a_settings_mistake_is_shown_and_the_next_save_after_the_repair_checks_again(tmp_path):
    root = make_workspace(tmp_path / "ws", settings='selec = ["EVT001"]\n')
    client = await ClientServerConfig(server_command=SERVER, server_env=ENV).start()
    try:
        await client.initialize_session(types.InitializeParams(capabilities=types.ClientCapabilities(),
                                                               root_uri=root.as_uri()))
        problem = f"{root / 'pyproject.toml'}: [tool.eventlint] unknown setting `selec` (did you mean `select`?)"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        while not client.messages:
            assert loop.time() < deadline
            await asyncio.sleep(0.02)
        assert [(m.type, m.message) for m in client.messages] == [(types.MessageType.Error, f"eventlint: {problem}")]
        assert [(m.type, m.message) for m in client.log_messages] == [
            (types.MessageType.Error, f"eventlint: error: {problem}")]
        assert client.diagnostics == {}
        (root / "pyproject.toml").write_text('[tool.eventlint]\nselect = ["EVT001"]\n', encoding="utf-8")
        await save(client, root / "app" / "hub.py", HUB)
        await wait_for_runs(client, 1)
        assert shown(client, root) == {"app/hub.py": [("EVT001", 6, 9)]}
    finally:
        with contextlib.suppress(Exception):
            await client.shutdown_session()
        await client.stop()


CRASH_ONCE = """\
import sys
from eventlint import api
real = api.analyse_project
calls = []
def analyse_project(project, **options):
    calls.append(1)
    if len(calls) == 1:
        raise RuntimeError("injected failure")
    return real(project, **options)
api.analyse_project = analyse_project
from eventlint.cli import main
sys.exit(main(["server"]))
"""


@pytest.mark.asyncio
async def test_a_run_that_fails_is_logged_and_the_server_goes_on(tmp_path):
    root = make_workspace(tmp_path / "ws")
    client = await ClientServerConfig(server_command=[sys.executable, "-c", CRASH_ONCE], server_env=ENV).start()
    try:
        await client.initialize_session(types.InitializeParams(capabilities=types.ClientCapabilities(),
                                                               root_uri=root.as_uri()))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        while not any("injected failure" in m.message for m in client.log_messages):
            assert loop.time() < deadline
            await asyncio.sleep(0.02)
        [failure] = [m for m in client.log_messages if "injected failure" in m.message]
        assert failure.type == types.MessageType.Error
        assert failure.message.startswith("eventlint: internal error (start): RuntimeError: injected failure\n")
        assert client.diagnostics == {}
        await save(client, root / "app" / "workers.py", WORKERS)
        await wait_for_runs(client, 1)
        assert shown(client, root) == {"app/hub.py": [("EVT001", 6, 9)], "app/workers.py": [("EVT003", 11, 9)]}
    finally:
        with contextlib.suppress(Exception):
            await client.shutdown_session()
        await client.stop()


def editor_snippets() -> dict[str, str]:
    """The code blocks of the README's "Editors" section, by language."""
    section = (REPO / "README.md").read_text(encoding="utf-8").split("\n## Editors\n", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^```(\w+)\n(.*?)^```$", section, re.S | re.M))


def _lua_table(text: str, key: str) -> str:
    return re.search(rf"\b{key} = (\{{[^}}]*\}})", text).group(1)


def snippet_commands() -> dict[str, tuple[list[str], dict]]:
    """What each editor's snippet starts, and the initialisation options it sends."""
    blocks = editor_snippets()
    assert set(blocks) == {"json", "lua", "toml"}
    vscode = json.loads(blocks["json"])
    helix = tomllib.loads(blocks["toml"])
    [python] = [language for language in helix["language"] if language["name"] == "python"]
    assert "eventlint" in python["language-servers"] and vscode["glspc.server.languageId"] == ["python"]
    lua = blocks["lua"]
    assert 'pattern = "python"' in lua and "vim.lsp.start(" in lua
    neovim_options = dict(re.findall(r"(\w+) = (true|false)", _lua_table(lua, "init_options")))
    server = helix["language-server"]["eventlint"]
    return {
        "vscode": ([vscode["glspc.server.command"], *vscode["glspc.server.commandArguments"]],
                   vscode["glspc.server.initializationOptions"]),
        "neovim": (re.findall(r'"([^"]*)"', _lua_table(lua, "cmd")),
                   {key: value == "true" for key, value in neovim_options.items()}),
        "helix": ([server["command"], *server["args"]], server["config"]),
    }


def test_every_editor_snippet_starts_eventlint_server():
    commands = snippet_commands()
    assert {editor: command for editor, (command, _) in commands.items()} == {
        "vscode": ["eventlint", "server"], "neovim": ["eventlint", "server"], "helix": ["eventlint", "server"]}
    assert {editor: options for editor, (_, options) in commands.items()} == {
        "vscode": {"unsafeFixes": False}, "neovim": {"unsafeFixes": False}, "helix": {"unsafeFixes": False}}
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "Its dependencies are an extra, `lsp`: `pip install '.[lsp]'` in a\nclone of this repository" in \
        readme.split("\n## Editors\n")[1]


@pytest.mark.asyncio
@pytest.mark.parametrize("editor", ["vscode", "neovim", "helix"])
async def test_the_server_as_each_editor_snippet_starts_it(tmp_path, editor):
    """The snippet's command (``eventlint`` run as this checkout's module) and options,
    with unsafe fixes turned on as the README says to."""
    command, options = snippet_commands()[editor]
    root = make_workspace(tmp_path / "ws")
    server = [sys.executable, "-m", "eventlint", *command[1:]]
    async with session(root, options={**options, "unsafeFixes": True}, command=server) as client:
        assert shown(client, root) == {"app/hub.py": [("EVT001", 6, 9)], "app/workers.py": [("EVT003", 11, 9)]}
        hub = root / "app" / "hub.py"
        [action] = await code_actions(client, hub, diagnostics_of(client, hub)[0])
        assert action.title.endswith("(unsafe fix)")
