"""``eventlint server``: a language server over stdin and stdout (pygls).

Each folder of the workspace is a project of its own (a folder inside another is checked
with it).  Each run analyses a whole folder with ``api.analyse_project`` (the files on
disk; the facts of the files unchanged since its last run are kept in memory) and
publishes the diagnostics of every file whose findings changed, an empty list for a file
whose findings all went away: a finding that lands in one file because of another
(EVT001's outside users, EVT003's handler chains) is refreshed when either file is saved.
Runs start, for every folder, when the client has initialised, and for a folder the
workspace gains; for a file's folder, when the file is saved, or opened when the folder's
last run did not see it.  A folder the workspace loses has its diagnostics cleared.  One bad file is its EVT000; a run that fails is logged (``window/logMessage``)
and the server goes on with the diagnostics it had."""

from __future__ import annotations

import re
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from . import __version__, api
from .checks import all_rules
from .fixer import split_lines
from .model import Finding, Span
from .report.sarif import rule_page

SOURCE = "eventlint"
RUN_DONE = "eventlint: checked"  # how every finished run's log line begins


@dataclass(frozen=True, slots=True)
class Options:
    """What the client asks for, in ``initializationOptions`` or its settings, either at
    the top level or under ``"eventlint"``: ``{"unsafeFixes": true}``."""

    unsafe_fixes: bool = False


def options_from(value: object, current: Options = Options()) -> Options:
    if not isinstance(value, dict):
        return current
    if isinstance(value.get(SOURCE), dict):
        value = value[SOURCE]
    unsafe = value.get("unsafeFixes", value.get("unsafe-fixes", current.unsafe_fixes))
    return Options(unsafe_fixes=unsafe is True)


def _units(text: str, encoding: str) -> int:
    if encoding == types.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8"))
    if encoding == types.PositionEncodingKind.Utf32:
        return len(text)
    return len(text.encode("utf-16-le")) // 2


class Lines:
    """A file's lines (as Python numbers them), to turn code-point columns into the
    client's position units."""

    def __init__(self, text: str | None, encoding: str):
        self.lines = split_lines(text, keepends=False) if text else []
        self.encoding = encoding

    def position(self, line: int, column: int) -> types.Position:
        number = max(line - 1, 0)
        text = self.lines[number] if number < len(self.lines) else ""
        return types.Position(number, _units(text[: max(column - 1, 0)], self.encoding))

    def range(self, span: Span) -> types.Range:
        return types.Range(self.position(span.line, span.column), self.position(span.end_line, span.end_column))


def _read_text(path: Path) -> str | None:
    from .fixer import read_original

    try:
        original = read_original(path.name, path)
    except OSError:
        return None
    if original.text is not None:
        return original.text
    return original.raw.decode("utf-8", "replace")  # undecodable: positions stay on the right lines


def rule_summary(code: str) -> str | None:
    """The hover text of a rule: its name, one-line summary and the first paragraph of
    its page's "What it does"."""
    rule = {r.code: r for r in all_rules()}.get(code)
    if rule is None:
        return None
    text = f"**{rule.code} {rule.name}**\n\n{rule.summary}"
    page = rule_page(code)
    match = re.search(r"^## What it does\n+(.+?)(?:\n\n|\n#|\Z)", page or "", re.S | re.M)
    if match:
        text += "\n\n" + " ".join(match.group(1).split())
    return text + f"\n\n`eventlint explain {rule.code}` shows the whole page."


@dataclass
class Run:
    """What the last successful run found."""

    project: api.Project
    analysed: object  # api's analysis result: files, graph, findings
    by_file: dict[str, tuple[Finding, ...]]
    files: frozenset[str]
    edits: dict[str, list[Finding]] = field(default_factory=dict)  # file -> its findings, fixes spelled out


class Folder:
    """One folder of the workspace, checked as a project of its own, and what its last
    run found and published."""

    def __init__(self, server: "EventlintServer", folder: Path):
        self.server = server
        self.folder = folder
        self.run: Run | None = None
        self.published: dict[str, tuple[Finding, ...]] = {}  # root-relative path -> what its diagnostics show
        self.lines: dict[str, Lines] = {}
        self.left_out: set[str] = set()  # files opened that a run did not analyse
        self.facts: dict = {}  # the last run's facts by cache key, for the next run (``analyze_files``'s memo)

    # ---- paths -------------------------------------------------------------------------

    def uri(self, rel: str) -> str:
        return (self.run.project.root / rel).as_uri()

    def rel(self, uri: str) -> str | None:
        if self.run is None:
            return None
        path = to_fs_path(uri)
        if path is None:
            return None
        try:
            return Path(path).resolve().relative_to(self.run.project.root.resolve()).as_posix()
        except ValueError:
            return None

    def file_lines(self, rel: str) -> Lines:
        if rel not in self.lines:
            self.lines[rel] = Lines(_read_text(self.run.project.root / rel), self.server.encoding())
        return self.lines[rel]

    # ---- runs --------------------------------------------------------------------------

    def check(self, reason: str) -> None:
        """Analyse the folder and publish what changed; a failure is logged, and the
        diagnostics already shown stay.

        A run happens inside the handler, on the thread that reads the client's messages,
        and not in a thread of its own: pygls reads the next message only once a handler
        has returned, and writes each message whole from this thread, so no other thread
        holds a stream's lock while the analysis forks its worker processes (a lock held in
        the parent at the fork would never be released in the child)."""
        started = time.monotonic()
        try:
            project = api.load_project([str(self.folder)])
            analysed = api.analyse_project(project, memo=self.facts)
        except api.UsageError as error:
            self.server.log(f"eventlint: error: {error}", types.MessageType.Error)
            self.server.window_show_message(types.ShowMessageParams(types.MessageType.Error, f"eventlint: {error}"))
            return
        except Exception as error:  # noqa: BLE001 - one failed run must not end the server
            self.server.log(f"eventlint: internal error ({reason}): {type(error).__name__}: {error}\n"
                     f"{traceback.format_exc()}", types.MessageType.Error)
            return
        by_file: dict[str, list[Finding]] = {}
        for finding in analysed.findings:
            by_file.setdefault(finding.path, []).append(finding)
        self.run = Run(project, analysed, {rel: tuple(found) for rel, found in by_file.items()},
                       frozenset(facts.path for facts in analysed.files))
        self.lines = {}
        self.publish()
        took = time.monotonic() - started
        count = len(analysed.findings)
        self.server.log(f"{RUN_DONE} {len(analysed.files)} files ({reason}): {count} finding{'' if count == 1 else 's'} "
                 f"in {took:.2f} s")

    def clear(self) -> None:
        for rel in sorted(self.published):
            self.server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=self.uri(rel),
                                                                                         diagnostics=[]))
        self.published = {}

    def publish(self) -> None:
        run = self.run
        for rel in sorted(set(self.published) | set(run.by_file)):
            found = run.by_file.get(rel, ())
            if self.published.get(rel, ()) == found:
                continue
            diagnostics = [self.diagnostic(finding) for finding in found]
            self.server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=self.uri(rel),
                                                                                  diagnostics=diagnostics))
            if found:
                self.published[rel] = found
            else:
                self.published.pop(rel, None)

    def diagnostic(self, finding: Finding) -> types.Diagnostic:
        related = [types.DiagnosticRelatedInformation(
            location=types.Location(uri=self.uri(location.path),
                                    range=self.file_lines(location.path).range(location.span)),
            message=location.message or finding.message) for location in finding.related]
        severity = types.DiagnosticSeverity.Error if finding.code == "EVT000" else types.DiagnosticSeverity.Warning
        return types.Diagnostic(
            range=self.file_lines(finding.path).range(finding.span), message=finding.message, severity=severity,
            code=finding.code, source=SOURCE, related_information=related or None,
            data={"fix": finding.fix.safety if finding.fix is not None else None})

    # ---- requests ----------------------------------------------------------------------

    def findings_at(self, uri: str) -> tuple[str | None, tuple[Finding, ...]]:
        rel = self.rel(uri)
        if rel is None or self.run is None:
            return rel, ()
        return rel, self.run.by_file.get(rel, ())

    def hover(self, params: types.HoverParams) -> types.Hover | None:
        rel, found = self.findings_at(params.text_document.uri)
        position = (params.position.line, params.position.character)
        for finding in found:
            where = self.file_lines(rel).range(finding.span)
            if (where.start.line, where.start.character) <= position <= (where.end.line, where.end.character):
                text = rule_summary(finding.code)
                if text is not None:
                    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
                                       range=where)
        return None

    def unchanged_on_disk(self, rel: str, uri: str) -> bool:
        """Fixes are spelled out against the file on disk: none for an edited buffer."""
        document = self.server.workspace.text_documents.get(uri)
        return document is None or document.source == self.file_lines_text(rel)

    def file_lines_text(self, rel: str) -> str | None:
        return _read_text(self.run.project.root / rel)

    def code_actions(self, params: types.CodeActionParams) -> list[types.CodeAction]:
        rel, found = self.findings_at(params.text_document.uri)
        wanted = params.range
        start, end = (wanted.start.line, wanted.start.character), (wanted.end.line, wanted.end.character)
        allowed = [f for f in found if f.fix is not None and (self.server.options.unsafe_fixes or f.fix.safety == "safe")]
        if params.context.only and not any(kind == types.CodeActionKind.QuickFix or
                                           types.CodeActionKind.QuickFix.startswith(kind)
                                           for kind in params.context.only):
            return []
        hits = []
        for finding in allowed:
            where = self.file_lines(rel).range(finding.span)
            if (where.start.line, where.start.character) <= end and start <= (where.end.line, where.end.character):
                hits.append(finding)
        if not hits or not self.unchanged_on_disk(rel, params.text_document.uri):
            return []
        spelled = self.spelled_out(rel)
        actions = []
        for finding in hits:
            edits = next((f.fix.edits for f in spelled if _same_site(f, finding)), ())
            if not edits:
                continue
            changes: dict[str, list[types.TextEdit]] = {}
            for edit in edits:
                changes.setdefault(self.uri(edit.path), []).append(
                    types.TextEdit(range=self.file_lines(edit.path).range(edit.span), new_text=edit.replacement))
            actions.append(types.CodeAction(
                title=f"{finding.code}: {finding.fix.description} ({finding.fix.safety} fix)",
                kind=types.CodeActionKind.QuickFix, diagnostics=[self.diagnostic(finding)],
                edit=types.WorkspaceEdit(changes=changes), is_preferred=finding.fix.safety == "safe"))
        return actions

    def spelled_out(self, rel: str) -> list[Finding]:
        run = self.run
        if rel not in run.edits:
            fixable = [f for f in run.by_file.get(rel, ()) if f.fix is not None]
            spelled, warnings = api.spell_out_fixes(run.analysed, run.project, fixable)
            for warning in warnings:
                self.server.log(f"eventlint: warning: {warning.message}\n{warning.details}", types.MessageType.Warning)
            run.edits[rel] = spelled
        return run.edits[rel]


class EventlintServer(LanguageServer):
    def __init__(self):
        super().__init__("eventlint", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full)
        self.options = Options()
        self.folders: list[Folder] = []

    def encoding(self) -> str:
        try:
            return self.workspace.position_encoding or types.PositionEncodingKind.Utf16
        except RuntimeError:
            return types.PositionEncodingKind.Utf16

    def log(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_log_message(types.LogMessageParams(type=kind, message=message))

    def add_folder(self, path: Path) -> Folder:
        """A folder of the workspace to check; one inside another is checked with it."""
        path = path.resolve()
        for folder in self.folders:
            if path.is_relative_to(folder.folder):
                return folder
        self.folders = [f for f in self.folders if not f.folder.is_relative_to(path)]
        self.folders.append(Folder(self, path))
        return self.folders[-1]

    def remove_folder(self, path: Path) -> None:
        """A folder the workspace no longer has: its diagnostics are cleared."""
        path = path.resolve()
        for folder in [f for f in self.folders if f.folder == path]:
            folder.clear()
            self.folders.remove(folder)

    def folder_of(self, uri: str) -> Folder | None:
        path = to_fs_path(uri)
        if path is None:
            return None
        resolved = Path(path).resolve()
        return next((folder for folder in self.folders if resolved.is_relative_to(folder.folder)), None)

    def check(self, reason: str) -> None:
        for folder in self.folders:
            folder.check(reason)


def _same_site(a: Finding, b: Finding) -> bool:
    return (a.code, a.path, a.span, a.message) == (b.code, b.path, b.span, b.message)


def create_server() -> EventlintServer:
    server = EventlintServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: EventlintServer, params: types.InitializeParams) -> None:
        ls.options = options_from(params.initialization_options)
        roots = [to_fs_path(folder.uri) for folder in params.workspace_folders or ()]
        if not roots:
            roots = [ls.workspace.root_path]
        for root in roots:
            if root:
                ls.add_folder(Path(root))

    @server.feature(types.INITIALIZED)
    def initialized(ls: EventlintServer, params: types.InitializedParams) -> None:
        ls.check("start")

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def folders_changed(ls: EventlintServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        for removed in params.event.removed or ():
            path = to_fs_path(removed.uri)
            if path:
                ls.remove_folder(Path(path))
        # the workspace's folders as they are now (a folder that was inside a removed one
        # is checked on its own from now on)
        for known in list(ls.workspace.folders.values()):
            path = to_fs_path(known.uri)
            if path:
                folder = ls.add_folder(Path(path))
                if folder.run is None:
                    folder.check("folder added")

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def configuration(ls: EventlintServer, params: types.DidChangeConfigurationParams) -> None:
        ls.options = options_from(params.settings, ls.options)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: EventlintServer, params: types.DidOpenTextDocumentParams) -> None:
        uri = params.text_document.uri
        folder = ls.folder_of(uri)
        if folder is None:
            path = to_fs_path(uri)
            if ls.folders or path is None:
                return  # a file outside the workspace's folders
            folder = ls.add_folder(Path(path).parent)  # no folder: the file's own
        rel = folder.rel(uri)
        if folder.run is None or (rel is not None and rel.endswith(".py") and rel not in folder.run.files
                                  and rel not in folder.left_out):
            folder.check("open")
            if folder.run is not None and rel is not None and rel not in folder.run.files:
                folder.left_out.add(rel)  # excluded by the settings: opening it again starts no run

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: EventlintServer, params: types.DidSaveTextDocumentParams) -> None:
        folder = ls.folder_of(params.text_document.uri)
        if folder is not None:
            folder.check("save")
        else:
            ls.check("save")

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: EventlintServer, params: types.HoverParams) -> types.Hover | None:
        folder = ls.folder_of(params.text_document.uri)
        return folder.hover(params) if folder is not None else None

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
    def code_action(ls: EventlintServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        folder = ls.folder_of(params.text_document.uri)
        return folder.code_actions(params) if folder is not None else []

    return server


def serve() -> None:
    """Serve on this process's stdin and stdout.  Everything else that would write to
    stdout (a stray print) goes to stderr instead, where it cannot corrupt a message; and
    ``sys.stdin`` is let go of, so that a forked analysis worker does not try to close the
    stream the server is reading (``multiprocessing`` closes ``sys.stdin`` in each child)."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout, sys.stdin = sys.stderr, None
    create_server().start_io(stdin, stdout)
