"""The template set and its rendering: gotpl (Go's text/template and html/template in Python) behind the
few calls the hub makes.

As Alertmanager's ``template.FromGlobs``: the default templates come first (fleetmon's own default.tmpl
beside this module, defining every name Alertmanager's defaults define), then each ``templates:`` glob's
files in sorted order; a later non-empty ``define`` replaces an earlier one. A receiver field is a
template of its own, parsed at config load against the set (so a typo fails ``check-config`` with its
key path) and executed per notification with ``missingkey=zero``: as text, or, for email HTML, with
html/template's contextual escaping.

Every render runs under a budget (``Budget``): loop iterations, function calls, nested template depth,
output size and wall-clock time. A template that exceeds one fails with RenderError naming the limit,
instead of holding the integration's thread: a runaway ``range`` or a recursive ``template`` cannot hang
the hub. The time is checked at every write and function call.
"""

import functools
import glob as globbing
import os
import time
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from gotpl import (
    BudgetExceededError,
    ExecutionBudget,
    HTMLTemplate,
    Template,
    TemplateError,
    TemplateExecutionError,
    TemplateSyntaxError,
)

from fleetmon.hub.alerting.templates.data import Data
from fleetmon.hub.alerting.templates.functions import FUNCTIONS

DEFAULT_FILE = Path(__file__).with_name("default.tmpl")


class TemplateLoadError(Exception):
    """A template file that cannot be read or parsed; the message names the file and the place."""


class RenderError(Exception):
    """A template that failed while executing (a function's error, a missing template, the budget)."""


@dataclass(frozen=True, slots=True)
class Budget:
    """Bounds on one render. Alertmanager's own templates use a small fraction of each."""

    seconds: float = 5.0
    iterations: int = 100_000  # range iterations, all loops together
    function_calls: int = 100_000
    depth: int = 100  # nested {{ template }} calls
    output_chars: int = 4 * 1024 * 1024

    def limits(self) -> ExecutionBudget:
        return ExecutionBudget(max_output_chars=self.output_chars, max_iterations=self.iterations,
                               max_template_depth=self.depth, max_function_calls=self.function_calls)


@dataclass(slots=True)
class _Render:
    """The render in progress on this thread (or task): what routeLabels reads and when time runs out."""

    data: object
    deadline: float
    seconds: float

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise BudgetExceededError(f"time budget exceeded: the render ran longer than {self.seconds:g}s")


_CURRENT: ContextVar[_Render | None] = ContextVar("fleetmon_template_render", default=None)


def _timed(function: Callable[..., object]) -> Callable[..., object]:
    @functools.wraps(function)
    def call(*args: object) -> object:
        render = _CURRENT.get()
        if render is not None:
            render.check()
        return function(*args)
    return call


def route_labels(name: str) -> str:
    """The notification's route label ``name`` (Alertmanager 0.34's routeLabels), "" when it has none."""
    render = _CURRENT.get()
    data = render.data if render is not None else None
    if isinstance(data, Data):
        return data.route_labels.get(name, "")
    return ""


_FUNCTIONS = {name: _timed(function) for name, function in {**FUNCTIONS, "routeLabels": route_labels}.items()}


class _Writer:
    """Collects the output, checking the clock on every write."""

    __slots__ = ("parts", "render")

    def __init__(self, render: _Render) -> None:
        self.parts: list[str] = []
        self.render = render

    def write(self, text: str) -> int:
        self.render.check()
        self.parts.append(text)
        return len(text)


class Field:
    """One receiver field's template, parsed against a template set; ``render(data)`` executes it."""

    __slots__ = ("_template", "budget", "source")

    def __init__(self, source: str, template: Template | HTMLTemplate | None, budget: Budget) -> None:
        self.source = source
        self._template = template
        self.budget = budget

    def render(self, data: object) -> str:
        """The text; RenderError when execution fails. An empty source renders "" (as Alertmanager's)."""
        if self._template is None:
            return ""
        return _execute(lambda writer: self._template.render_to(writer, data), data, self.budget)


def _execute(run: Callable[[_Writer], None], data: object, budget: Budget) -> str:
    render = _Render(data, time.monotonic() + budget.seconds, budget.seconds)
    writer = _Writer(render)
    token = _CURRENT.set(render)
    try:
        run(writer)
    except TemplateError as exc:
        raise RenderError(str(exc)) from exc
    except RecursionError as exc:
        raise RenderError("template nesting too deep") from exc
    finally:
        _CURRENT.reset(token)
    return "".join(writer.parts)


def read_glob(pattern: str, base_dir: str = "") -> list[tuple[str, str]]:
    """(base name, source) of each file ``pattern`` matches, in sorted order, each checked to parse;
    TemplateLoadError naming the file otherwise."""
    full = pattern if os.path.isabs(pattern) or not base_dir else os.path.join(base_dir, pattern)
    files = []
    for path in sorted(globbing.glob(full)):
        try:
            source = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TemplateLoadError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from exc
        try:
            Template(source, name=os.path.basename(path), functions=_FUNCTIONS)
        except TemplateSyntaxError as exc:
            raise TemplateLoadError(f"{path}: {syntax_error(exc)}") from exc
        files.append((os.path.basename(path), source))
    return files


class TemplateSet:
    """Alertmanager's defaults (ours) and the config's template files, parsed once; immutable."""

    def __init__(self, files: Mapping[str, str] | None = None, budget: Budget | None = None) -> None:
        """``files``: name (the file's base name, as Go names a parsed file) to source, in load order."""
        self.budget = budget or Budget()
        sources = {DEFAULT_FILE.name: DEFAULT_FILE.read_text(encoding="utf-8"), **(files or {})}
        self.files = tuple(sources)
        options = {"functions": _FUNCTIONS, "missing_key": "zero", "budget": self.budget.limits()}
        try:
            self._text = Template.from_sources(sources, **options)
            self._html = HTMLTemplate.from_sources(sources, **options)
        except TemplateSyntaxError as exc:  # pragma: no cover - load() reports the file first
            raise TemplateLoadError(str(exc)) from exc

    @classmethod
    def load(cls, patterns: Iterable[str], base_dir: str = "", budget: Budget | None = None) -> "TemplateSet":
        """The set from ``templates:`` globs, relative ones taken from ``base_dir`` (the config file's
        directory), as Alertmanager resolves them. A glob that matches nothing is no error; a file that
        cannot be read or parsed raises TemplateLoadError naming it."""
        files: dict[str, str] = {}
        for pattern in patterns:
            for name, source in read_glob(pattern, base_dir):
                files.pop(name, None)  # a later file of the same name replaces it, in load order
                files[name] = source
        return cls(files, budget)

    def text(self, source: str) -> Field:
        """A text field's template; TemplateSyntaxError (gotpl's) with line and column when it does not
        parse."""
        return Field(source, self._text.with_source(source, name="") if source else None, self.budget)

    def html(self, source: str) -> Field:
        return Field(source, self._html.with_source(source, name="") if source else None, self.budget)

    def render_text(self, source: str, data: object) -> str:
        return self.text(source).render(data)

    def render_html(self, source: str, data: object) -> str:
        return self.html(source).render(data)


@functools.cache
def default_templates() -> TemplateSet:
    """The set without any ``templates:`` file: fleetmon's defaults alone (immutable, so shared)."""
    return TemplateSet()


def syntax_error(exc: TemplateSyntaxError) -> str:
    """gotpl's 'template:L:C: message' as 'line L, column C: message'."""
    message = str(exc).split(": ", 1)[-1]
    return f"line {exc.line}, column {exc.column}: {message}"


__all__ = ["Budget", "Field", "RenderError", "TemplateExecutionError", "TemplateLoadError", "TemplateSet",
           "TemplateSyntaxError", "default_templates", "syntax_error"]
