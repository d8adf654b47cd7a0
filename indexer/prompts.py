"""Zero-shot label prompts: the default template and the one rule every template follows.

A template holds ``{}`` exactly once and the label replaces it. Every other brace is plain text
(a template is not a ``str.format`` string), so ``"a {x} of {}"`` with the label ``lung``
becomes ``"a {x} of lung"`` and ``"a {{x}} of {}"`` becomes ``"a {{x}} of lung"``. The JSON API
and the library apply this same rule, and the web page reads the default from ``/api/info``.
"""

from __future__ import annotations

from .errors import InvalidRequestError

#: the prompt of the model card's zero-shot example
DEFAULT_TEMPLATE = "this is a photo of {}"
#: where the label goes
PLACEHOLDER = "{}"
TEMPLATE_RULE = (
    'template must contain "{}" exactly once, where the label goes; other braces are plain text'
)
#: the rule as a regular expression (for JSON Schema): text without "{}", then "{}", then text
#: without "{}"; a run of "{" must end before a character other than "}"
_NO_PLACEHOLDER = r"(?:[^{]|\{+[^{}])*\{*"
TEMPLATE_PATTERN = rf"^{_NO_PLACEHOLDER}\{{\}}{_NO_PLACEHOLDER}$"


def check_template(template: str) -> str:
    """``template`` if it holds ``{}`` exactly once, else :class:`InvalidRequestError`."""
    if template.count(PLACEHOLDER) != 1:
        raise InvalidRequestError(TEMPLATE_RULE)
    return template


def fill_template(template: str, label: str) -> str:
    """The prompt for ``label``: ``template`` with its ``{}`` replaced, other braces kept."""
    return template.replace(PLACEHOLDER, label)
