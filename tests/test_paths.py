"""One path matcher (gitignore rules, root-relative) for ``exclude``, ``extend-exclude``,
``per-file-ignores`` and the project's ``.gitignore`` files, which discovery honours
unless ``respect-gitignore = false``; a file named on the command line is always checked."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from eventlint import api
from eventlint.cli import main
from eventlint.discovery import GITIGNORE_LIMIT
from eventlint.paths import PathMatcher, PatternError, matches_pattern

FLAGGED = "import queue\nEVENTS = queue.Queue()\n"


def make_tree(root, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def discovered(root, settings: str = "", paths: tuple[str, ...] = (".",)) -> list[str]:
    (root / "pyproject.toml").write_text(f"[project]\nname = 'p'\n\n[tool.eventlint]\n{settings}\n")
    return [source.rel for source in api.load_project([str(root / p) for p in paths]).sources]


PY_FILES = [
    "a_pb2.py", "keep_pb2.py", "top.py", "sub/top.py", "local.py", "scratch.py", "tmp_script.py",
    "tmp_data/x.py", "docs/conf.py", "docs/a/b/conf.py", "other/docs/conf.py",
    "pkg/api_pb2.py", "pkg/b_pb2.py", "pkg/local.py", "pkg/main.py", "pkg/out/y.py", "out/x.py",
    "vendor/shim.py", "vendor/lib.py", "vendor/sub/shim.py", "build_out/keep.py", "build_out/gone.py",
]

ROOT_GITIGNORE = """\
# generated code
*_pb2.py
!keep_pb2.py
/top.py
out/
tmp*/
docs/**/conf.py
vendor/**
!vendor/shim.py
build_out/
!build_out/keep.py
"""


@pytest.fixture
def ignoring_tree(tmp_path):
    make_tree(tmp_path, {rel: "x = 1\n" for rel in PY_FILES})
    make_tree(tmp_path, {".gitignore": ROOT_GITIGNORE,
                         "pkg/.gitignore": "local.py\n!api_pb2.py\n",
                         ".git/info/exclude": "scratch.py\n"})
    return tmp_path


KEPT_BY_GITIGNORE = [
    "keep_pb2.py",  # `!keep_pb2.py` re-includes what `*_pb2.py` matched
    "local.py",  # pkg/.gitignore's `local.py` applies under pkg/ only
    "other/docs/conf.py",  # `docs/**/conf.py` is anchored to the root
    "pkg/api_pb2.py",  # the nested `!api_pb2.py` wins over the root's `*_pb2.py`
    "pkg/main.py",
    "sub/top.py",  # `/top.py` is anchored
    "tmp_script.py",  # `tmp*/` matches folders only
    "vendor/shim.py",  # `vendor/**` matches what is inside vendor/, not vendor itself
]


def test_gitignore_patterns_give_exact_file_lists(ignoring_tree, monkeypatch):
    monkeypatch.chdir(ignoring_tree)
    assert discovered(ignoring_tree) == KEPT_BY_GITIGNORE


def test_respect_gitignore_false_reads_every_file(ignoring_tree, monkeypatch):
    monkeypatch.chdir(ignoring_tree)
    assert discovered(ignoring_tree, "respect-gitignore = false") == sorted(PY_FILES)


def test_a_file_given_explicitly_is_checked_even_when_ignored_or_excluded(ignoring_tree, monkeypatch, capsys):
    monkeypatch.chdir(ignoring_tree)
    (ignoring_tree / "a_pb2.py").write_text(FLAGGED)
    assert discovered(ignoring_tree, 'exclude = ["a_pb2.py"]', paths=("a_pb2.py", "pkg")) == \
        ["a_pb2.py", "pkg/api_pb2.py", "pkg/main.py"]
    assert main(["check", "--no-cache", "--jobs", "1", "--format", "json", "a_pb2.py"]) == 1
    assert [f["path"] for f in json.loads(capsys.readouterr().out)["findings"]] == ["a_pb2.py"]


def test_a_given_folder_is_walked_with_the_same_rules(ignoring_tree, monkeypatch):
    """Files under a folder named on the command line keep their root-relative paths, so
    the rules that skip them from the root skip them from there too (as ``exclude`` did)."""
    monkeypatch.chdir(ignoring_tree / "pkg")
    assert discovered(ignoring_tree, paths=("pkg",)) == ["pkg/api_pb2.py", "pkg/main.py"]
    assert discovered(ignoring_tree, paths=("vendor",)) == ["vendor/shim.py"]
    assert discovered(ignoring_tree, 'exclude = ["pkg"]', paths=("pkg",)) == []


EXCLUDE_TREE = ["app/main.py", "app/migrations/0001.py", "migrations/0002.py", "app/migrations.py",
                "tests/test_a.py", "tests/unit/test_b.py", "app/tests/test_c.py", "legacy/old_bus.py",
                "legacy/new_bus.py", "generated/api.py", "generated/v2/api.py", "setup.py", "tools/setup.py",
                "src/a.py", "src/deep/b.py"]


EXCLUDE_CASES = [
    (["tests/**"], ["tests/test_a.py", "tests/unit/test_b.py"]),
    (["legacy/old_bus.py"], ["legacy/old_bus.py"]),
    (["migrations"], ["app/migrations/0001.py", "migrations/0002.py"]),  # a name at any depth; migrations.py is another name
    (["generated/**"], ["generated/api.py", "generated/v2/api.py"]),
    (["generated/"], ["generated/api.py", "generated/v2/api.py"]),
    (["/setup.py"], ["setup.py"]),
    (["setup.py"], ["setup.py", "tools/setup.py"]),
    (["src/*.py"], ["src/a.py"]),  # `*` does not cross `/`
    (["src/**/*.py"], ["src/a.py", "src/deep/b.py"]),
    (["tests/*", "!tests/unit"], ["tests/test_a.py"]),
    # what is inside a matched folder can't be re-included, as in git
    (["tests", "!tests/unit"], ["app/tests/test_c.py", "tests/test_a.py", "tests/unit/test_b.py"]),
    (["legacy/*", "!legacy/new_bus.py"], ["legacy/old_bus.py"]),
    (["#setup.py"], []),  # a comment
]


@pytest.mark.parametrize("patterns,skipped", EXCLUDE_CASES, ids=[" ".join(p) for p, _ in EXCLUDE_CASES])
def test_exclude_and_per_file_ignores_match_through_the_same_rules(tmp_path, monkeypatch, patterns, skipped):
    monkeypatch.chdir(tmp_path)
    make_tree(tmp_path, {rel: "x = 1\n" for rel in EXCLUDE_TREE})
    expected = sorted(set(EXCLUDE_TREE) - set(skipped))
    assert discovered(tmp_path, f"exclude = {json.dumps(patterns)}") == expected
    assert discovered(tmp_path, f"extend-exclude = {json.dumps(patterns)}") == expected
    if len(patterns) == 1:  # a per-file-ignores key is one pattern
        assert sorted(rel for rel in EXCLUDE_TREE if matches_pattern(rel, patterns[0])) == sorted(skipped)


def test_per_file_ignores_use_gitignore_rules(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_tree(tmp_path, {rel: FLAGGED for rel in
                         ["app/main.py", "app/migrations/m1.py", "src/a.py", "src/deep/b.py", "tests/t.py", "top.py"]})

    def flagged(table: str) -> list[str]:
        (tmp_path / "pyproject.toml").write_text(f"[tool.eventlint.per-file-ignores]\n{table}")
        return sorted(f.path for f in api.check(["."], jobs=1, use_cache=False).findings)

    assert flagged('"migrations" = ["EVT001"]\n'  # a folder name at any depth: what it holds
                   '"src/*.py" = ["ALL"]\n'  # src/a.py only: `*` does not cross `/`
                   '"/top.py" = ["EVT"]\n') == ["app/main.py", "src/deep/b.py", "tests/t.py"]
    # negated (as ruff's): every file but those under app/
    assert flagged('"!app/**" = ["EVT001"]\n') == ["app/main.py", "app/migrations/m1.py"]


def test_nested_gitignore_applies_below_its_folder_and_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_tree(tmp_path, {rel: "x = 1\n" for rel in
                         ["gen.py", "a/gen.py", "a/b/gen.py", "a/b/c/gen.py", "a/keep.py", "a/b/keep.py"]})
    make_tree(tmp_path, {".gitignore": "gen.py\n", "a/.gitignore": "!gen.py\n/keep.py\n",
                         "a/b/.gitignore": "gen.py\n!keep.py\n"})
    assert discovered(tmp_path) == ["a/b/keep.py", "a/gen.py"]


def test_an_oversized_or_linked_gitignore_is_not_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_tree(tmp_path, {"a/x.py": "", "b/x.py": "", "c/x.py": "", "rules.txt": "x.py\n"})
    (tmp_path / "a" / ".gitignore").write_text("x.py\n" + "#" * GITIGNORE_LIMIT)
    (tmp_path / "b" / ".gitignore").symlink_to(tmp_path / "rules.txt")
    (tmp_path / "c" / ".gitignore").write_text("x.py\n")
    assert discovered(tmp_path) == ["a/x.py", "b/x.py"]


@pytest.mark.parametrize("body,message", [
    ('respect-gitignore = "yes"', '`respect-gitignore` must be true or false, not "yes"'),
    ("respect-gitignore = 1", "`respect-gitignore` must be true or false, not 1"),
    ('exclude = ["src/[z-a].py"]', "`exclude`: 'src/[z-a].py' is not a valid gitignore-style pattern (bad character range z-a)"),
    ('extend-exclude = ["gen\\\\"]', "`extend-exclude`: 'gen\\\\' is not a valid gitignore-style pattern"),
    ('per-file-ignores = {"!" = ["EVT001"]}', "`per-file-ignores`: '!' is not a valid gitignore-style pattern"),
])
def test_bad_path_settings_are_config_errors(tmp_path, monkeypatch, capsys, body, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.py").write_text(FLAGGED)
    (tmp_path / "pyproject.toml").write_text(f"[tool.eventlint]\n{body}\n")
    assert main(["check", "--no-cache", "--jobs", "1"]) == 2
    assert capsys.readouterr().err == f"eventlint: error: pyproject.toml: [tool.eventlint] {message}\n"


def test_matcher_last_rule_wins_and_folders_match_their_contents():
    matcher = PathMatcher.from_patterns(["*.py", "!keep.py", "dir/**", "!dir/ok.py", "data/"])
    assert [matcher.matches(p) for p in ["a.py", "x/keep.py", "dir/ok.py", "dir/sub/ok.py", "data"]] == \
        [True, False, False, True, False]
    assert matcher.matches("data", is_dir=True) and matcher.matches("x/data/f.txt")
    assert not PathMatcher.from_patterns(["dir/**"]).matches("dir", is_dir=True)
    with pytest.raises(PatternError):
        PathMatcher.from_patterns(["a\\"])


def test_paths_outside_the_root_match_by_name_only():
    assert matches_pattern("/elsewhere/legacy.py", "legacy.py")
    assert not matches_pattern("/elsewhere/legacy.py", "elsewhere/**")
    assert not matches_pattern("/elsewhere/legacy.py", "/legacy.py")


GIT_TREE = ["a.py", "b.py", "lib/a.py", "lib/b.py", "lib/deep/a.py", "lib/deep/c.py", "gen/x.py",
            "gen/keep/y.py", "gen/z.py", "tests/t1.py", "tests/data/t2.py", "x/gen/q.py", "one/two/three/a.py"]
GIT_RULES = [
    ("*.py\n!a.py\n", {}),
    ("gen/*\n!gen/keep\n", {}),
    ("gen/\n!gen/keep/\n", {}),
    ("/gen\nlib/**/c.py\n", {}),
    ("**/deep\ntests/**\n!tests/data/\n", {}),
    ("one/**/a.py\n", {"one/two/.gitignore": "!a.py\n"}),
    ("lib\n", {"lib/.gitignore": "!b.py\n"}),
    ("b.py\n", {"lib/.gitignore": "!/b.py\n", "lib/deep/.gitignore": "*\n"}),
    ("*\n!*/\n!*.py\ngen/z.py\n", {}),  # ignore all, then re-include folders and .py files
    ("*/\n!lib/\n", {}),
    ("lib/**/\n?.py\n", {}),
    ("**/a.py  \n[gx]*/\n!/gen/\n", {}),
    ("tests/**\n!tests/data/\n", {}),  # the folder comes back, the file matched by `tests/**` does not
    ("one/*/three/\n", {"one/.gitignore": "two\n!/two/\n"}),
    ("[!a].py\nlib/*.py\n!lib/a.py\n", {}),
]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.parametrize("root_rules,nested", GIT_RULES, ids=[r.replace("\n", " ").strip() for r, _ in GIT_RULES])
def test_discovery_skips_what_git_ignores(tmp_path, monkeypatch, root_rules, nested):
    """The same tree and .gitignore files, asked of git itself."""
    monkeypatch.chdir(tmp_path)
    make_tree(tmp_path, {rel: "x = 1\n" for rel in GIT_TREE})
    make_tree(tmp_path, {".gitignore": root_rules, **nested})
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    subprocess.run(["git", "init", "-q", "."], check=True, cwd=tmp_path)
    listed = subprocess.run(["git", "ls-files", "--others", "--exclude-standard", "--", "*.py"], check=True,
                            cwd=tmp_path, capture_output=True, text=True).stdout.split()
    assert discovered(tmp_path) == sorted(listed)


def test_a_folder_whose_files_are_all_ignored_gives_a_warning_not_a_silent_pass(ignoring_tree, monkeypatch, capsys):
    """Checking a folder a .gitignore ignores (a virtualenv, a pyenv tree) finds nothing:
    the run says so, as ruff does, instead of only "All checks passed"."""
    monkeypatch.chdir(ignoring_tree)
    assert main(["check", "--no-cache", "--jobs", "1", "out"]) == 0
    captured = capsys.readouterr()
    assert "All checks passed (0 files checked)." in captured.out
    assert captured.err == ("eventlint: warning: no Python files found under the given paths (all excluded, or "
                            "ignored by a .gitignore; `respect-gitignore = false` checks ignored files)\n")
    assert main(["check", "--no-cache", "--jobs", "1", "pkg"]) == 0
    assert capsys.readouterr().err == ""
