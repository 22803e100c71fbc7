"""What each framework gives where the derivative does not exist: its convention at a
kink, a corner, a tie, a jump, a pole or a domain edge, and what each kind of place is.

Why: at such a point no framework is wrong, they chose differently (``maximum`` at a
tie: torch and JAX give each input 0.5, TensorFlow gives x 1 and y 0), and a user
porting a model wants to read that, not a mismatch. The row stays labelled
(``nondifferentiable``, ``undefined``); this table names the choice behind each
backend's number. A place is known by the function and the kind of place that
:func:`autograd_cli.domain.classify` gives it (``Special.func``, ``Special.kind``).

Every entry was measured, not copied from documentation: torch 2.13.0, TensorFlow
2.21.0 and JAX 0.10.2 on CPU, each framework's own op (as ``backends/natives.py``
spells it), reverse mode, in float32 and float64 (the same in both unless said).
"""

from __future__ import annotations

#: The framework versions the table was measured with.
MEASURED_WITH = "torch 2.13.0, TensorFlow 2.21.0, JAX 0.10.2"

#: What each kind of place is (for a report's legend or a row's explanation).
KINDS: dict[str, str] = {
    "kink": "the graph bends: the one-sided derivatives differ, so the derivative does "
    "not exist and each framework picks a value (usually one side's)",
    "corner": "a corner where the function starts or stops saturating: the one-sided "
    "derivatives differ (one is 0), so the derivative does not exist",
    "tie": "the inputs of minimum/maximum are equal: the derivative does not exist along "
    "a direction that separates them; frameworks split it or give it to one input",
    "jump": "the function itself jumps: no derivative of any order exists; frameworks "
    "give the derivative of the flat pieces, 0",
    "cut": "atan2 jumps by 2*pi across the negative x axis: no derivative along y",
    "pole": "the function is infinite (or has no value): undefined, frameworks give inf or NaN",
    "edge": "the edge of the function's domain: it is defined on one side only, where "
    "the derivative tends to infinity",
    "origin": "the origin of a two-argument function: atan2 has no angle there, hypot "
    "has a cone's tip",
    "line": "xlogy at x = 0 with y <= 0: f is 0 on the line and undefined beside it",
    "zero": "xlogy at x = 0 with y > 0: differentiable (d/dx = log(y)), but a framework "
    "may give 0 there by construction",
    "smooth": "both one-sided derivatives agree at this kink, corner or tie, so the "
    "derivative exists (their common value); each op's own rule at the place need not "
    "give it",
}

_SAME = {"torch": "", "tensorflow": "", "jax": ""}


def _all(text: str) -> dict[str, str]:
    return dict.fromkeys(_SAME, text)


#: (function, kind of place, derivative order) -> backend -> what it gives there.
CONVENTIONS: dict[tuple[str, str, int], dict[str, str]] = {
    ("relu", "kink", 1): _all("0 at 0 (the left side)"),
    ("relu", "kink", 2): _all("0"),
    ("relu6", "kink", 1): _all("0 at 0 (the left side)"),
    ("relu6", "corner", 1): _all("0 at 6 (the right side)"),
    ("leaky_relu", "kink", 1): {
        "torch": "negative_slope at 0 (the left side)",
        "tensorflow": "alpha at 0 (the left side; alpha is a float32 attribute, so "
        "float32(0.01) even in float64)",
        "jax": "1 at 0 (the right side)",
    },
    ("elu", "kink", 1): _all("alpha at 0 (the left side; with alpha = 1 both sides agree)"),
    ("elu", "kink", 2): {
        "torch": "0 at 0 (the right side)",
        "tensorflow": "0 at 0 (the right side)",
        "jax": "alpha at 0 (the left side)",
    },
    ("selu", "kink", 1): {
        "torch": "scale*alpha = 1.7581 at 0 (the left side)",
        "tensorflow": "scale = 1.0507 at 0 (the right side)",
        "jax": "scale*alpha = 1.7581 at 0 (the left side)",
    },
    ("selu", "kink", 2): {
        "torch": "0 at 0 (the right side)",
        "tensorflow": "0 at 0 (the right side)",
        "jax": "scale*alpha = 1.7581 at 0 (the left side)",
    },
    ("softsign", "kink", 2): {
        "torch": "0 at 0 (neither side: -2 on the right, 2 on the left)",
        "tensorflow": "no second derivative (no gradient registered for SoftsignGrad)",
        "jax": "-2 at 0 (the right side)",
    },
    ("hard_sigmoid", "corner", 2): {
        "torch": "no second derivative (derivative for aten::hardsigmoid_backward is not "
        "implemented)",
        "jax": "0",
    },
    ("clip", "corner", 2): _all("0"),
    ("minimum", "tie", 2): _all("0"),
    ("maximum", "tie", 2): _all("0"),
    ("hard_sigmoid", "corner", 1): {
        "torch": "0 at -3 and 3 (the saturated side)",
        "jax": "0 at -3 and 3 (the saturated side)",
    },
    ("clip", "corner", 1): {
        "torch": "1 at lo and hi (the closed interval counts as inside)",
        "tensorflow": "1 at lo and hi (the closed interval counts as inside)",
        "jax": "0.5 at lo and hi (jnp.clip is minimum(maximum(x, lo), hi): a tie, split "
        "in halves; 0.25 where lo = hi, whose exact derivative is 0)",
    },
    ("minimum", "tie", 1): {
        "torch": "0.5 to each input (split in halves)",
        "tensorflow": "1 to x, 0 to y (the first input takes it)",
        "jax": "0.5 to each input (split in halves)",
    },
    ("maximum", "tie", 1): {
        "torch": "0.5 to each input (split in halves)",
        "tensorflow": "1 to x, 0 to y (the first input takes it)",
        "jax": "0.5 to each input (split in halves)",
    },
    ("abs", "kink", 1): {
        "torch": "0 at 0 (sign(0))",
        "tensorflow": "0 at 0 (sign(0))",
        "jax": "1 at 0 (the right side)",
    },
    ("sign", "jump", 1): _all("0 at 0 (value 0)"),
    ("floor", "jump", 1): {
        "torch": "0",
        "tensorflow": "no gradient (None: floor has no registered gradient), read as 0",
        "jax": "0",
    },
    ("lgamma", "pole", 2): {
        "torch": "inf at 0, a large finite number at -1, -2, ... (1.3e15 at -1 in "
        "float32, 6.6e32 in float64)",
        "tensorflow": "inf",
        "jax": "inf",
    },
    ("lgamma", "pole", 1): {
        "torch": "value inf; derivative -inf at 0, NaN at -1, -2, ...",
        "tensorflow": "value inf; derivative NaN",
        "jax": "value inf; derivative NaN",
    },
    ("digamma", "pole", 1): {
        "torch": "value -inf at 0, NaN at -1, -2, ...; derivative inf at 0, a large "
        "finite number at -1, -2, ... (3.2e14 at -2 in float32, 1.6e32 in float64)",
        "tensorflow": "value NaN; derivative inf",
        "jax": "value NaN; derivative inf",
    },
    ("erfinv", "pole", 1): _all("value ±inf at ±1; derivative inf"),
    ("atanh", "pole", 1): _all("value ±inf at ±1; derivative inf"),
    ("atanh", "pole", 2): {
        "torch": "±inf at ±1",
        "tensorflow": "±inf at ±1",
        "jax": "NaN at ±1",
    },
    ("log1p", "pole", 1): _all("value -inf at -1; derivative inf"),
    ("rsqrt", "pole", 1): _all("value inf at 0; derivative -inf"),
    ("acosh", "edge", 1): _all("value 0 at 1; derivative inf (the right side's limit)"),
    ("sqrt", "edge", 1): _all("value 0 at 0; derivative inf (the right side's limit)"),
    ("xlogy", "line", 1): {
        "torch": "value 0; d/dx 0, d/dy NaN at y = 0 and 0 for y < 0",
        "tensorflow": "value 0; d/dx 0, d/dy 0",
        "jax": "value 0; d/dx log(y): -inf at y = 0, NaN for y < 0; d/dy NaN at y = 0, 0 for y < 0",
    },
    ("xlogy", "zero", 1): {
        "torch": "d/dx = log(y), the exact value",
        "tensorflow": "d/dx = 0 (its gradient is xlogy(x != 0, y)): differs from the "
        "exact log(y) unless y = 1",
        "jax": "d/dx = log(y), the exact value",
    },
    ("xlogy", "pole", 1): _all("value -inf*sign(x) at y = 0; d/dx -inf*sign, d/dy inf"),
    ("atan2", "origin", 1): {
        "torch": "value 0; derivatives 0 and -0",
        "tensorflow": "value 0; derivatives NaN",
        "jax": "value 0; derivatives NaN",
    },
    ("atan2", "cut", 1): _all(
        "value pi at y = +0 (-pi at y = -0); d/dy = -1/x, one "
        "side's derivative (both sides have the same)"
    ),
    ("hypot", "origin", 2): {
        "torch": "NaN",
        "tensorflow": "no op (hypot is not in TensorFlow's core API)",
        "jax": "0",
    },
    ("hypot", "origin", 1): {
        "torch": "value 0; derivatives NaN (0/0)",
        "tensorflow": "no op (hypot is not in TensorFlow's core API)",
        "jax": "value 0; derivatives 0.5 and 0.5",
    },
}


def convention(func: str | None, kind: str | None, backend: str, order: int = 1) -> str | None:
    """What ``backend`` ("torch", "tensorflow", "jax") gives at a place of ``func`` of
    the given ``kind`` (``Special.func``, ``Special.kind``) for the derivative of
    ``order``, or None where no convention is recorded."""
    if func is None or kind is None:
        return None
    return CONVENTIONS.get((func, kind, order), {}).get(backend)


def conventions(func: str | None, kind: str | None, order: int = 1) -> dict[str, str]:
    """Every recorded backend's convention at such a place ({} where none is)."""
    if func is None or kind is None:
        return {}
    return dict(CONVENTIONS.get((func, kind, order), {}))


def describe(kind: str | None) -> str | None:
    """What a kind of place is, in a sentence (None for an unknown kind)."""
    return None if kind is None else KINDS.get(kind)
