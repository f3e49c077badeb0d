"""The libcst helpers the codemods share: an added argument follows the call's layout, an
added import goes where a person would put it."""

from __future__ import annotations

import libcst as cst
import pytest

from eventlint.codemods._cst import add_import, append_arg, keyword_arg, module_alias


def _appended(source: str) -> str:
    call = cst.parse_expression(source)
    return cst.Module([]).code_for_node(append_arg(call, keyword_arg("timeout", cst.Float("10.0"))))


@pytest.mark.parametrize("before,after", [
    ("f()", "f(timeout=10.0)"),
    ("f(a)", "f(a, timeout=10.0)"),
    ("f(a, b=1)", "f(a, b=1, timeout=10.0)"),
    ("f(a,)", "f(a, timeout=10.0,)"),
    ("f(a,\n  b)", "f(a,\n  b,\n  timeout=10.0)"),
    ("f(\n    a\n)", "f(\n    a,\n    timeout=10.0\n)"),
    ("f(\n    a,\n    b,\n)", "f(\n    a,\n    b,\n    timeout=10.0,\n)"),
    ("f(\n    a,  # first\n    b,  # second\n)", "f(\n    a,  # first\n    b,  # second\n    timeout=10.0,\n)"),
])
def test_append_arg_follows_the_layout(before, after):
    assert _appended(before) == after


@pytest.mark.parametrize("before,after", [
    ('"""Doc."""\n\nimport logging\nfrom typing import Any\n\nx = 1\n',
     '"""Doc."""\n\nimport asyncio\nimport logging\nfrom typing import Any\n\nx = 1\n'),
    ("import os\nimport zlib\n", "import asyncio\nimport os\nimport zlib\n"),
    ("import abc\n\nx = 1\n", "import abc\nimport asyncio\n\nx = 1\n"),
    ('"""Doc."""\n\n# standard library\nfrom typing import Any\n',
     '"""Doc."""\n\n# standard library\nimport asyncio\nfrom typing import Any\n'),
    ('"""Doc."""\nfrom __future__ import annotations\n\nx = 1\n',
     '"""Doc."""\nfrom __future__ import annotations\n\nimport asyncio\n\nx = 1\n'),
    ("x = 1\n", "import asyncio\n\nx = 1\n"),
])
def test_add_import_goes_where_a_person_would_put_it(before, after):
    assert add_import(cst.parse_module(before), "asyncio").code == after


def test_add_import_joins_the_section_that_imports_from_the_same_package():
    before = "import asyncio\nfrom typing import Any\n\nimport requests\nfrom aiohttp import web\n"
    after = "import asyncio\nfrom typing import Any\n\nimport aiohttp\nimport requests\nfrom aiohttp import web\n"
    assert add_import(cst.parse_module(before), "aiohttp").code == after


def test_module_alias():
    module = cst.parse_module("import asyncio as aio\nfrom os import path\n")
    assert module_alias(module, "asyncio") == "aio"
    assert module_alias(module, "os") is None
