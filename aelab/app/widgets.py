"""Settings widgets generated from the models' option declarations (aelab.models.options).

A model option becomes a widget by its shape alone: choices become a radio or a select box,
numbers with stops a select slider, continuous numbers a slider, hidden widths a text field.
Keys are ``prefix + option name`` (plus the upper bound when it depends on other settings,
so a slider never holds a value outside its new range).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from aelab import i18n
from aelab.errors import ConfigError
from aelab.models import Autoencoder, Option


def option_widget(option: Option, prefix: str, settings: dict[str, Any]) -> Any:
    """Draw one option's widget and return its value (hidden widths as typed, checked later).

    The option's label, help and choice labels are declared in English and shown translated."""
    key = f"{prefix}{option.name}"
    label = i18n._(option.label)
    common = {"help": i18n._(option.help), "disabled": not option.matters(settings)}
    if option.choices:
        def shown(choice: str) -> str:
            return i18n._(option.choice_label(choice))

        # radio or select box by the English labels' length, so that switching language keeps the widget
        if len(option.choices) <= 3 and max(map(len, map(option.choice_label, option.choices))) <= 24:
            return st.radio(label, option.choices, key=key, horizontal=True, format_func=shown, **common)
        return st.selectbox(label, option.choices, index=option.choices.index(option.default), key=key,
                            format_func=shown, **common)
    if option.type == "widths":
        return st.text_input(label, ",".join(map(str, option.default)), key=key, **common)
    low, high = option.bounds(settings)
    if option.stops:
        stops = [v for v in option.stops if option_allows(option, v, settings)]
        return st.select_slider(label, stops, value=option.default if option.default in stops else stops[0],
                                key=key, format_func=lambda v: f"{v:g}", **common)
    if callable(option.high):
        key += f"_{high:g}"
    return st.slider(label, float(low), float(high), float(option.default), option.step or None, key=key,
                     **common)


def option_allows(option: Option, value: Any, settings: dict[str, Any]) -> bool:
    try:
        option.check(value, settings)
    except ConfigError:
        return False
    return True


def model_settings(cls: type[Autoencoder], prefix: str, names: list[str] | None = None) -> dict[str, Any]:
    """Widgets for the options of a model class (all of them, or those ``names``), in declared order."""
    settings: dict[str, Any] = {}
    for option in cls.options:
        if names is None or option.name in names:
            settings[option.name] = option_widget(option, prefix, settings)
    return settings
