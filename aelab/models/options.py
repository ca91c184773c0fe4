"""What a model kind accepts, declared once: each option's type, range, default and help.

A model class lists its own :class:`Option` s; the CLI's flags, the Train page's widgets,
validation, default names and descriptions are all generated from these declarations, so
adding an option to a kind is one line in that kind's file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import i18n
from ..errors import ConfigError
from ..i18n import N_, _

Bound = float | Callable[[Mapping[str, Any]], float]  # a number, or one that depends on other settings
_KIND_WORDS = {int: N_("a whole number"), float: N_("a number"), str: N_("text")}  # for messages


@dataclass(frozen=True)
class Option:
    """One setting of a model kind, in the user's terms.

    ``type`` is ``int``, ``float``, ``str`` or ``"widths"`` (a list of positive ints).
    ``choices`` bound a ``str``; ``low`` / ``high`` bound a number (``open_low`` excludes
    ``low`` itself; ``open_high`` excludes ``high``); either bound may depend on the other
    settings. ``stops`` are the values a slider offers (the CLI takes any value in range).
    ``tag`` and ``show`` make default names and descriptions: a model named ``my-dae-2d-n0.3``
    is described as "..., noise level 0.3".

    ``label``, ``help`` and ``choice_labels`` are English, marked with ``N_()`` where declared;
    whoever shows them translates them (``i18n._(option.label)``). Stored descriptions
    (:meth:`describe`) stay English.
    """

    name: str
    type: Any
    default: Any
    label: str
    help: str
    choices: tuple[str, ...] = ()
    low: Bound | None = None
    high: Bound | None = None
    open_low: bool = False
    open_high: bool = False
    stops: tuple = ()
    max_items: int = 0  # for "widths": the most entries allowed
    step: float = 0.0  # a continuous slider's step (0: use ``stops`` or a text field)
    choice_labels: tuple[str, ...] = ()  # what each choice means, in the same order as ``choices``
    flag: str = ""  # the CLI flag without dashes; default: the name with dashes
    tag: str = ""  # short prefix for default model names, e.g. "n" for the noise level
    show: bool = True  # mentioned in generated descriptions
    applies: Callable[[Mapping[str, Any]], bool] | None = None  # whether it matters given the others

    @property
    def cli_flag(self) -> str:
        return "--" + (self.flag or self.name.replace("_", "-"))

    def bounds(self, settings: Mapping[str, Any]) -> tuple[float | None, float | None]:
        """The numeric range given the other settings (each end None when unbounded)."""
        return tuple(b(settings) if callable(b) else b for b in (self.low, self.high))

    def matters(self, settings: Mapping[str, Any]) -> bool:
        return self.applies is None or self.applies(settings)

    def check(self, value: Any, settings: Mapping[str, Any]) -> Any:
        """The value converted to the option's type, or ConfigError saying what is wrong."""
        value = self._convert(value)
        if self.choices and value not in self.choices:
            raise ConfigError(_("unknown {what} {value!r} for {name}; choose one of {choices}",
                                what=i18n._(self.label).lower(), value=value, name=self.name,
                                choices=", ".join(self.choices)))
        if self.type in (int, float):
            low, high = self.bounds(settings)
            below = low is not None and (value <= low if self.open_low else value < low)
            above = high is not None and (value >= high if self.open_high else value > high)
            if below or above:
                raise ConfigError(_("{name} must be {range}; got {value!r}", name=self.name,
                                    range=self.range_text(settings), value=value))
        return value

    def range_text(self, settings: Mapping[str, Any]) -> str:
        """The allowed range in words, e.g. "between 0 and 1" (in the current language)."""
        low, high = self.bounds(settings)
        if low is not None and high is not None:
            if self.open_low and self.open_high:
                return _("strictly between {low:g} and {high:g}", low=low, high=high)
            return _("between {low:g} and {high:g}", low=low, high=high)
        if low is not None:
            return f"{'>' if self.open_low else '>='} {low:g}"
        return f"<= {high:g}" if high is not None else _("valid")

    def describe(self, value: Any) -> str:
        """The setting as a phrase for a model's description, e.g. "noise level 0.3"."""
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        return f"{self.label.lower()} {shown}"

    def choice_label(self, value: str) -> str:
        """What a choice means (the choice itself when no label is declared)."""
        labels = dict(zip(self.choices, self.choice_labels, strict=False))
        return labels.get(value, value)

    def name_part(self, value: Any) -> str:
        return f"-{self.tag}{value:g}" if self.tag and isinstance(value, (int, float)) else ""

    def _convert(self, value: Any) -> Any:
        try:
            if self.type == "widths":
                return self._widths(value)
            if self.type is str:
                if not isinstance(value, str):
                    raise TypeError
                return value
            if isinstance(value, bool) or isinstance(value, str) and self.type is float and not value.strip():
                raise TypeError
            number = self.type(value)
            if self.type is int and number != float(value):
                raise ValueError
            if not math.isfinite(number):
                raise ValueError
            return number
        except (TypeError, ValueError, OverflowError):
            if self.type == "widths":
                raise ConfigError(_("{name} widths must be whole numbers separated by commas (e.g. 256,128); "
                                    "got {value!r}", name=self.name, value=value)) from None
            kind = i18n._(_KIND_WORDS[self.type])
            raise ConfigError(_("{name} must be {kind}; got {value!r}", name=self.name, kind=kind,
                                value=value)) from None

    def _widths(self, value: Any) -> list[int]:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if not isinstance(value, (list, tuple)):
            raise TypeError
        widths = [int(v) for v in value]
        if any(w != float(v) for w, v in zip(widths, value, strict=True)):
            raise ValueError
        low, high = self.bounds({})
        if len(widths) > self.max_items or any(not low <= w <= high for w in widths):
            raise ConfigError(_("hidden widths must be at most {layers} layers of {low:g} to {high:g} units, "
                                "got {value}", layers=self.max_items, low=low, high=high, value=list(value)))
        return widths


def validate(options: tuple[Option, ...], settings: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """Every option's value from ``settings`` (its default when absent), checked and converted."""
    unknown = sorted(set(settings) - {o.name for o in options})
    if unknown:
        raise ConfigError(_("bad settings for a {kind} model: unknown setting(s) {unknown}; "
                            "a {kind} model takes {known}", kind=kind, unknown=", ".join(unknown),
                            known=", ".join(o.name for o in options)))
    values = {o.name: settings.get(o.name, o.default) for o in options}
    for option in options:  # bounds may read other settings, so convert the choices first
        if option.type is str:
            values[option.name] = option.check(values[option.name], values)
    for option in options:
        if option.type is not str:
            values[option.name] = option.check(values[option.name], values)
    return values
