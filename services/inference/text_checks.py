"""Request text that tokenizers can encode: no unpaired UTF-16 surrogates.

JSON lets a client send `"\ud800"` alone; Python keeps it as a lone surrogate, which has no UTF-8
form: the tokenizer raises TypeError deep in the decode path (a 500) and the answer could not be
encoded either. Refused where the request is parsed: a 400 naming the field (`prompt`,
`messages.0.content`, `stop`) and the code point, never the character itself.

`Text` is a checked `str`; `Annotated[T, UNICODE_ONLY]` checks every string inside a value of type T
(a union with lists: a prompt, a message's content parts, stop), after T's own validation, so the
error names the field itself rather than one member of the union.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError


def _first_surrogate(text: str) -> tuple[int, int] | None:
    """(index, code point) of the first character that has no UTF-8 form, else None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start, ord(text[exc.start])
    return None


def no_lone_surrogates(value: Any) -> Any:
    """`value` unchanged when every string in it (nested in lists, tuples, dict keys and values) is
    valid Unicode; else a validation error saying where in the string."""
    if isinstance(value, str):
        bad = _first_surrogate(value)
        if bad is not None:
            raise PydanticCustomError(
                "unpaired_surrogate",
                "contains an unpaired UTF-16 surrogate (U+{code_point} at index {index}); send valid Unicode text",
                {"code_point": f"{bad[1]:04X}", "index": bad[0]},
            )
    elif isinstance(value, list | tuple):
        for item in value:
            no_lone_surrogates(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            no_lone_surrogates(key)
            no_lone_surrogates(item)
    return value


UNICODE_ONLY = AfterValidator(no_lone_surrogates)
Text = Annotated[str, UNICODE_ONLY]
