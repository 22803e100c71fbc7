"""Where calculus itself has no answer: points where f is undefined, kinks, domain edges.

Why: frameworks disagree most exactly where the derivative does not exist (abs'(0) is 0
in PyTorch and 1 in JAX; sqrt'(0) is inf; 1/x at 0). Such rows are labelled
(``undefined``, ``nondifferentiable``) and explained, and do not count as mismatches
unless ``--strict``: gradcheck explains rather than cries wolf.

How. OUR tree is walked, never SymPy's: SymPy simplifies ``sqrt(x)**2`` to ``x`` for a
real x, which would make f defined where every framework computes NaN. Each node's
argument is checked against its function's domain and kinks (abs at 0, sqrt and log at
<= 0, a zero denominator, asin/acos at |u| >= 1, tan at odd multiples of pi/2, a
negative base to a non-integer power, 0 to a negative one, and the places of the ML
and special functions below):

* a screen over all points at once, in float64 with a running first-order error bound,
  settles the clear cases at numpy speed (``x < 0`` under sqrt by a margin, a
  denominator far from 0), so sweeps of millions of points pay little;
* points within the error bound of a critical value are decided exactly: the tree is
  evaluated in mpmath at three precisions, and a quantity is exactly zero when it is
  0 or shrinks with the precision (``sin(pi)`` is ~2^-190 at 192 bits, ~2^-766 at 768);
* at a kink or a domain edge the one-sided derivatives decide. They are *evaluated*:
  SymPy's derivative in adaptive mpmath at x0 ± h for h = 2^-32, 2^-64, 2^-96, 2^-128
  (relative to |x0|), on each side where our tree says f is defined; differences that
  shrink give the limit, values that grow give ±inf. ``sympy.limit`` was not chosen:
  it can take seconds or hang on derivatives with Abs and sign, and it knows SymPy's
  domain, not ours. Where both sides exist and agree (``x*abs(x)`` at 0) the point is
  differentiable and is judged as usual.

The ML and special functions have places of their own (:mod:`.places`): kinks (relu,
leaky_relu, elu, selu, softsign at 0), corners (relu6 at 6, hard_sigmoid at ±3, clip
at lo and hi), ties (minimum, maximum: x = y), jumps (floor at integers, sign at 0,
atan2 across the negative x axis: f itself is discontinuous, unless the expression
around it is continuous, x*sign(x)), poles (lgamma, digamma at non-positive integers,
erfinv and atanh at ±1, log1p at -1, rsqrt at 0), edges (acosh at 1), the origin
(atan2 undefined, hypot kinked) and xlogy's line x = 0 with y <= 0. Parameters are
judged at their dtype values (``classify(..., dtype=)``: clip(x, 0.1, 0.9) in float32
has its corner at float32(0.1)). A point is non-differentiable for the order asked only
if that order's derivative fails: elu(x) (alpha = 1) and softsign are C1 at 0, labelled
at order 2 only. Each labelled place carries its function and kind
(``Special.func``, ``Special.kind``), and :mod:`.conventions` says what each
framework gives there (torch and JAX split a tie of maximum in halves, TensorFlow gives
it to x), measured with the frameworks themselves.

A kink depends on the direction: a critical argument that does not move with the
variable differentiated by makes none (x**y at x = 0 is 0**y = 0 for y > 0 along y;
its derivative there, which SymPy's x**y*log(x) cannot give, comes from the tree with
that power folded to 0 and is handed on in ``Labels.exact``).

``nan`` or ``inf`` as a point is ``undefined`` (not a point of the real line). mpmath
and SymPy are imported only when a point needs an exact look.

Apart from classify, :func:`intermediate_range` (sweeps) and
:func:`intermediate_findings` (a check's rows) find where a value or derivative inside
the computation leaves the dtype's range while the exact f' is in range
(``exp(100*x)/exp(100*x)`` at 1 in float32): a row outside tolerance there is the
dtype's range speaking, labelled ``overflow`` or ``underflow``.

The package, one job per module: :mod:`.tree` (our tree as a program of steps, and the
texts of findings), :mod:`.screen` (the float64 screen), :mod:`.exact` (the exact look
and one-sided limits), :mod:`.places` (where each ML or special function is special),
:mod:`.numeric` and :mod:`.mp_ops` (those functions in numpy and in mpmath),
:mod:`.classify` (kinks and decisions), :mod:`.labels` (what classify hands back),
:mod:`.conventions` (each framework's choice at such places), :mod:`.range_scan` and
:mod:`.range_check` (intermediate overflow and underflow), :mod:`.sweeps` (a sweep's
runs of labelled points).
"""

from autograd_cli.domain.classify import MAX_EXACT, classify
from autograd_cli.domain.conventions import convention, conventions, describe
from autograd_cli.domain.labels import Labels, Special, short
from autograd_cli.domain.range_check import in_range, intermediate_findings, intermediate_range
from autograd_cli.domain.sweeps import SpecialRuns, runs

__all__ = [
    "MAX_EXACT",
    "Labels",
    "Special",
    "SpecialRuns",
    "classify",
    "convention",
    "conventions",
    "describe",
    "in_range",
    "intermediate_findings",
    "intermediate_range",
    "runs",
    "short",
]
