"""How the noise floor builds each function of the grammar out of jets.

Which rounding model: a function that frameworks ship as one op (sin, erf, lgamma,
softplus, log_sigmoid, elu, xlogy, atan2, ...) is modelled as *correctly rounded*, its
local derivatives too, so a kernel or hand-written gradient several ULPs off (or one
that cancels, such as an elu gradient taken from its output) is reported as
inaccurate. A function whose definition *is* a composition, which every framework
evaluates as that composition, is built here from the same composition, so the floor
owes each of its roundings and nothing is cried wolf at its cancellations:

* silu = x*sigmoid(x); gelu = x/2*(1 + erf(x/sqrt(2))) (1 + erf cancels for x << 0);
  gelu_tanh = x/2*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x*x*x))); mish = x*tanh(softplus(x));
  softsign = x/(1 + |x|); hard_sigmoid = relu6(x + 3)/6; selu = scale*elu(x, alpha);
* sinc = sin(pi*x)/(pi*x) is a primitive whose argument pi*x is rounded (twice);
* the irrational constants (sqrt(2/pi), 1/sqrt(2)) and SELU's alpha and scale are held
  in the dtype, owing their rounding; a user's parameters (leaky_relu's slope, clip's
  bounds) are judged at their dtype-rounded values, as the exact reference takes them.

Inside a composition each primitive's *derivative* is still owed correctly rounded
(tanh' as 1/cosh², sigmoid' as s·sigmoid(-x)), as for tanh and sigmoid alone: a kernel
that writes them 1 - t*t or s*(1 - s) cancels in the tails (gelu_tanh below about -5,
silu and mish beyond about 6) and is reported there, a few ULPs to all digits off.

Kinks and jumps (relu, relu6, leaky_relu, elu, clip, abs, sign, floor, minimum,
maximum) add the jump of the local derivatives where the input's own error may put it
on the other side; at the kink itself the domain labels, not the floor, speak.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from autograd_cli.expr.functions import SELU_ALPHA, SELU_SCALE
from autograd_cli.truth.floor_jets import Jet, JetFloors, Kink
from autograd_cli.truth.local_derivatives import UNARY, derivatives, falling

__all__ = ["FunctionFloors"]

_GELU_KAPPA = Fraction("0.044715")

Partials = dict[tuple[int, ...], Any]


class FunctionFloors:
    """The function half of the floor's ops table; ``ops`` (the whole noted table) is
    set by its owner so that compositions note their intermediate values too."""

    def __init__(self, floors: JetFloors) -> None:
        self.floors = floors
        self.arith = floors.arith
        self.ops: Mapping[str, Callable[..., Jet]] = {}

    def table(self) -> dict[str, Callable[..., Jet]]:
        found: dict[str, Callable[..., Jet]] = {
            name: functools.partial(self.smooth, name) for name in UNARY
        }
        found.update(
            sqrt=lambda a: self.floors.power(a, Fraction(1, 2), None),
            rsqrt=lambda a: self.floors.power(a, Fraction(-1, 2), None),
            square=lambda a: self.floors.power(a, Fraction(2), None),
            abs=self.abs,
            sign=functools.partial(self.jump, "sign"),
            floor=functools.partial(self.jump, "floor"),
            relu=lambda a: self.clip(a, Fraction(0), None),
            relu6=lambda a: self.clip(a, Fraction(0), Fraction(6)),
            clip=self.clip,
            leaky_relu=self.leaky_relu,
            elu=lambda a, alpha: self.elu(a, self.floors.held_value(alpha), None),
            selu=self.selu,
            silu=lambda a: self.op("mul", a, self.op("sigmoid", a)),
            gelu=self.gelu,
            gelu_tanh=self.gelu_tanh,
            mish=lambda a: self.op("mul", a, self.op("tanh", self.op("softplus", a))),
            softsign=lambda a: self.op("div", a, self.op("add", self.num(1), self.op("abs", a))),
            hard_sigmoid=lambda a: self.op(
                "div", self.op("relu6", self.op("add", a, self.num(3))), self.num(6)
            ),
            minimum=lambda a, b: self.select(a, b, smaller=True),
            maximum=lambda a, b: self.select(a, b, smaller=False),
            atan2=self.atan2,
            hypot=self.hypot,
            xlogy=self.xlogy,
        )
        return found

    def op(self, name: str, *args: Any) -> Jet:
        return self.ops[name](*args)

    def num(self, value: int | Fraction) -> Jet:
        return self.op("num", Fraction(value))

    @property
    def orders(self) -> int:
        """Local derivatives needed: one beyond the directions, for the input's error."""
        return self.floors.k + 1

    # -- smooth primitives --------------------------------------------------------------

    def smooth(self, name: str, a: Jet) -> Jet:
        if name == "sinc":  # pi*x is rounded twice (pi, the product) before sin
            extra = 2 * self.floors.u * abs(a.c[0])
            a = Jet(a.c, [extra if a.e[0] is None else a.e[0] + extra, *a.e[1:]])
        return self.floors.unary(a, derivatives(self.arith, name, a.c[0], self.orders))

    # -- kinks and jumps ------------------------------------------------------------

    def _zeros(self, d0: Any) -> list[Any]:
        return [d0, *([0] * self.orders)]

    def abs(self, a: Jet) -> Jet:
        z = a.c[0]
        d = [abs(z), self.arith.func("sign", z), *([0] * self.orders)][: self.orders + 1]
        return self.floors.unary(a, d, kinks=self._kinks(a, (0,), (0, 2)))

    def jump(self, name: str, a: Jet) -> Jet:
        """sign and floor: piecewise constant, derivative 0; where the input's error
        straddles a jump the value itself is uncertain by the jump."""
        z, e0 = a.c[0], a.e[0]
        kinks: list[Kink] = []
        if e0 is not None:
            f = functools.partial(self.arith.func, name)
            span = f(z + e0) - f(z - e0)
            kinks.append(Kink(self.arith.truth(span != 0), [span]))
        return self.floors.unary(a, self._zeros(self.arith.func(name, z)), kinks=kinks)

    def _kinks(self, a: Jet, corners: tuple[Any, ...], jumps: tuple[Any, ...]) -> list[Kink]:
        if a.e[0] is None:
            return []
        z = a.c[0]
        return [Kink(self.arith.truth(abs(z - c) <= a.e[0]), jumps) for c in corners]

    def clip(self, a: Jet, lo: Fraction | None, hi: Fraction | None) -> Jet:
        """min(max(x, lo), hi), exact (no rounding); relu and relu6 are clips."""
        arith, z = self.arith, a.c[0]
        value, inside = z, arith.truth(z == z)
        corners = []
        for bound, below in ((lo, True), (hi, False)):
            if bound is None:
                continue
            b = self.floors.held_value(bound)
            corners.append(b)
            past = arith.truth(z < b) if below else arith.truth(z > b)
            value = arith.where(
                arith.truth(value < b) if below else arith.truth(value > b), b + 0 * z, value
            )
            inside = inside & ~past & arith.truth(z != b)
        d = self._zeros(value)
        d[1] = arith.where(inside, 1 + 0 * z, 0 * z)
        return self.floors.unary(a, d, kinks=self._kinks(a, tuple(corners), (0, 1)))

    def leaky_relu(self, a: Jet, slope: Fraction) -> Jet:
        arith, z = self.arith, a.c[0]
        s = self.floors.held_value(slope)
        right = arith.truth(z >= 0)
        d = self._zeros(arith.where(right, z, s * z))
        d[1] = arith.where(right, 1 + 0 * z, s + 0 * z)
        return self.floors.unary(a, d, kinks=self._kinks(a, (0,), (0, abs(1 - s))))

    def elu(self, a: Jet, alpha: Any, alpha_error: Any) -> Jet:
        """x for x > 0, alpha*expm1(x) below; ``alpha_error``: SELU's alpha is held in
        the dtype while the exact reference uses the exact constant."""
        arith, z = self.arith, a.c[0]
        left = arith.truth(z <= 0)
        low = arith.where(left, z, 0 * z)
        grow = arith.func("exp", low)
        d = [arith.where(left, alpha * arith.func("expm1", low), z)]
        d.append(arith.where(left, alpha * grow, 1 + 0 * z))
        d += [arith.where(left, alpha * grow, 0 * z)] * (self.orders - 1)
        moved: dict[tuple[int, ...], Any] | None = None
        if alpha_error is not None:
            shape = [arith.where(left, arith.func("expm1", low), 0 * z)]
            shape += [arith.where(left, grow, 0 * z)] * self.orders
            moved = {(j,): alpha_error * abs(v) for j, v in enumerate(shape)}
        jumps = (0, abs(1 - alpha), *([abs(alpha)] * (self.orders - 1)))
        return self.floors.chain(
            (a,), {(j,): v for j, v in enumerate(d)}, moved, self._kinks(a, (0,), jumps)
        )

    def selu(self, a: Jet) -> Jet:
        floors = self.floors
        alpha_held = floors.held(SELU_ALPHA)
        alpha = floors.held_value(SELU_ALPHA)
        error = None if alpha_held is None else floors.arith.scalar(abs(alpha_held - SELU_ALPHA))
        inner = floors.note(self.elu(a, alpha, error))
        return self.op("mul", self.op("num", SELU_SCALE), inner)

    # -- compositions -----------------------------------------------------------------

    def gelu(self, a: Jet) -> Jet:
        root_half = self.floors.irrational(self.arith.recip(self.arith.named("sqrt2")))
        phi = self.op("add", self.num(1), self.op("erf", self.op("mul", a, root_half)))
        return self.op("mul", self.op("mul", a, self.num(Fraction(1, 2))), phi)

    def gelu_tanh(self, a: Jet) -> Jet:
        arith = self.arith
        beta = self.floors.irrational(arith.named("sqrt2") / arith.named("sqrtpi"))
        cube = self.op("mul", self.op("mul", a, a), a)
        inner = self.op("add", a, self.op("mul", self.num(_GELU_KAPPA), cube))
        t = self.op("tanh", self.op("mul", beta, inner))
        return self.op(
            "mul", self.op("mul", self.num(Fraction(1, 2)), a), self.op("add", self.num(1), t)
        )

    # -- two inputs -----------------------------------------------------------------------

    def select(self, a: Jet, b: Jet, smaller: bool) -> Jet:
        """minimum/maximum: exact; where the two are within their errors of each other
        the other side's derivatives may be the ones taken."""
        arith = self.arith
        za, zb = a.c[0], b.c[0]
        take_a = arith.truth(za <= zb) if smaller else arith.truth(za >= zb)
        slack: Any = None
        for e in (a.e[0], b.e[0]):
            if e is not None:
                slack = e if slack is None else slack + e
        uncertain = None if slack is None else arith.truth(abs(za - zb) <= slack)
        c: list[Any] = [None] * self.floors.size
        errors: list[Any] = [None] * self.floors.size
        for s in range(self.floors.size):
            ca, cb, ea, eb = a.c[s], b.c[s], a.e[s], b.e[s]
            if ca is None and cb is None:
                continue
            va = 0 * za if ca is None else ca + 0 * za
            vb = 0 * zb if cb is None else cb + 0 * zb
            c[s] = arith.where(take_a, va, vb)
            if ea is not None or eb is not None:
                errors[s] = arith.where(
                    take_a,
                    0 * za if ea is None else ea + 0 * za,
                    0 * zb if eb is None else eb + 0 * zb,
                )
            if uncertain is not None:
                gap = arith.where(uncertain, abs(va - vb), 0 * za)
                errors[s] = gap if errors[s] is None else errors[s] + gap
        return Jet(c, errors)

    def xlogy(self, x: Jet, y: Jet) -> Jet:
        arith = self.arith
        zx, zy = x.c[0], y.c[0]
        inverse = arith.recip(zy)
        d: Partials = {}
        for i in range(self.orders + 1):
            for j in range(self.orders + 1 - i):
                if i >= 2:
                    d[(i, j)] = 0
                elif j == 0:
                    log = arith.func("log", zy)
                    d[(i, j)] = log if i else arith.where(arith.truth(zx == 0), 0 * zx, zx * log)
                else:
                    scale = (-1) ** (j - 1) * math.factorial(j - 1) * inverse**j
                    d[(i, j)] = scale if i else zx * scale
        return self.floors.chain((x, y), d)

    def atan2(self, y: Jet, x: Jet) -> Jet:
        """atan2 = Im log(x + iy): its Wirtinger derivatives are powers of 1/z."""
        arith = self.arith
        z = x.c[0] + 1j * y.c[0]
        inv, inv_bar = arith.complex_recip(z), arith.complex_recip(x.c[0] - 1j * y.c[0])

        def w(p: int, q: int) -> Any:
            if p and q:
                return 0
            if not p and not q:
                return arith.func2("atan2", y.c[0], x.c[0])
            m = p or q
            sign = 1 if p else -1
            scale = sign * (-1) ** (m - 1) * math.factorial(m - 1) / 2j
            return scale * (inv if p else inv_bar) ** m

        real = self._from_wirtinger(w)
        return self.floors.chain((y, x), {(j, i): v for (i, j), v in real.items()})

    def hypot(self, x: Jet, y: Jet) -> Jet:
        """|z| = (z z̄)^(1/2): d^p/dz^p d^q/dz̄^q = F_p F_q z^(q-p) r^(1-2q)."""
        arith = self.arith
        zx, zy = x.c[0], y.c[0]
        z = zx + 1j * zy
        inv = arith.complex_recip(z)
        r = arith.func2("hypot", zx, zy)
        inv_r = arith.recip(r)

        def w(p: int, q: int) -> Any:
            if not p and not q:
                return r
            fp, fq = (arith.scalar(falling(Fraction(1, 2), m)[0]) for m in (p, q))
            rotation = z ** (q - p) if q >= p else inv ** (p - q)
            return fp * fq * rotation * inv_r ** (2 * q - 1)

        return self.floors.chain((x, y), self._from_wirtinger(w))

    def _from_wirtinger(self, w: Callable[[int, int], Any]) -> Partials:
        """Real partials d^i/dx^i d^j/dy^j from the Wirtinger ones (d/dx = d + d̄,
        d/dy = i(d - d̄)), every total order up to one beyond the directions."""
        found: Partials = {}
        cache: dict[tuple[int, int], Any] = {}
        for i in range(self.orders + 1):
            for j in range(self.orders + 1 - i):
                if i + j == 0:
                    found[(0, 0)] = w(0, 0)
                    continue
                total: Any = 0
                for a in range(i + 1):
                    for b in range(j + 1):
                        key = (a + b, i - a + j - b)
                        if key not in cache:
                            cache[key] = w(*key)
                        coefficient = math.comb(i, a) * math.comb(j, b) * (-1) ** (j - b)
                        total = total + coefficient * 1j**j * cache[key]
                found[(i, j)] = self.arith.real(total)
        return found
