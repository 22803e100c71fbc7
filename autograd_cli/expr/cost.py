"""How large the exact derivatives of an expression get, estimated on our own tree.

Why: the exact reference (SymPy's ``diff``, then mpmath) has no bound on its work, and
a small expression can have an enormous derivative: the 4th derivative of 20 nested
``sin`` is half a million SymPy nodes and 25 s of ``sympy.diff``, of 40 nested ones
far more than 5 minutes. The parser's limits (depth, nodes, length) keep every *first*
derivative small; higher orders need this estimate, made before SymPy is imported.

How: every node gets, for each sub-multiset S of the variables of a requested partial
(``x,x,y`` has the sub-multisets {}, {x}, {y}, {x,x}, {x,y}, {x,x,y}), the size of its
derivative by S the way SymPy's ``diff`` writes it, as a pair (terms, nodes):

* sums add; a product is Leibniz's rule over the splits of S (equal terms merge, as in
  SymPy, so each split counts once), and equal factors are one power (``a*a``);
* a function of ``u`` is Faà di Bruno's formula: one term per multiset partition of S,
  the function's own m-th derivative (its size from :data:`_FUNCTIONS`, measured on
  SymPy) times the derivatives of ``u`` by the blocks;
* SymPy's products are flat and its product rule distributes over every factor, so a
  factor's derivative that is a single product is spread over the terms (what makes
  deep nests explode: each term of f'' of 20 nested sin repeats the other 19 cosines),
  while one that is a sum stays whole, one factor (``cos(u)*(1 + 2*x)``).

The estimate follows the nodes SymPy really builds within a factor of 1 to 4 on nests,
products and the test corpus (more for towers of powers, which SymPy folds), and the
time of ``sympy.diff`` + compiling + printing at ~0.3-1.4e-4 s a node: the limits in
:mod:`autograd_cli.inputs` were calibrated on that.

Pure Python on the frozen tree, integers capped at :data:`CAP`: microseconds per node,
well under 50 ms for the largest expression the parser admits at order 4.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from autograd_cli.expr.functions import FUNCTIONS
from autograd_cli.expr.nodes import Binary, Call, Const, Expr, Num, Unary, Var

#: Sizes saturate here: far beyond any limit, and it keeps the integers small.
CAP = 10**30

#: A function's own derivatives of order 0..4, as SymPy writes them (expanded), each as
#: (terms, other nodes, occurrences of the argument): ``tan''(t) = 2*tan(t)**3 +
#: 2*tan(t)`` is (2, 9, 2). Measured with ``sympy.expand(sympy.diff(f(t), t, m))`` on
#: the exact reference's own lowering (:func:`autograd_cli.truth.symbolic.sympy_ops`,
#: default parameters, clip at (-1, 1)); a function of two inputs f(t, s) has, per
#: order, the largest of its partials (occurrences: of the input that occurs most, as
#: both inputs are sized together, see :meth:`_Walk.inputs`). Of the terms only 0
#: matters: SymPy keeps such a sum whole, as one factor.
_FUNCTIONS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "sin": ((1, 1, 1), (1, 1, 1), (1, 3, 1), (1, 3, 1), (1, 1, 1)),
    "cos": ((1, 1, 1), (1, 3, 1), (1, 3, 1), (1, 1, 1), (1, 1, 1)),
    "tan": ((1, 1, 1), (2, 5, 1), (2, 9, 2), (3, 12, 2), (3, 14, 3)),
    "asin": ((1, 1, 1), (1, 8, 1), (1, 24, 4), (2, 62, 9), (2, 88, 14)),
    "acos": ((1, 1, 1), (1, 10, 1), (1, 25, 4), (2, 64, 9), (2, 88, 14)),
    "atan": ((1, 1, 1), (1, 6, 1), (1, 12, 3), (2, 31, 6), (2, 39, 9)),
    "sinh": ((1, 1, 1), (1, 1, 1), (1, 1, 1), (1, 1, 1), (1, 1, 1)),
    "cosh": ((1, 1, 1), (1, 1, 1), (1, 1, 1), (1, 1, 1), (1, 1, 1)),
    "tanh": ((1, 1, 1), (2, 7, 1), (2, 9, 2), (3, 12, 2), (3, 14, 3)),
    "exp": ((1, 1, 1), (1, 1, 1), (1, 1, 1), (1, 1, 1), (1, 1, 1)),
    "log": ((1, 1, 1), (1, 2, 1), (1, 4, 1), (1, 4, 1), (1, 4, 1)),
    "log2": ((1, 6, 1), (1, 7, 1), (1, 8, 1), (1, 8, 1), (1, 8, 1)),
    "log10": ((1, 6, 1), (1, 7, 1), (1, 8, 1), (1, 8, 1), (1, 8, 1)),
    "sqrt": ((1, 2, 1), (1, 4, 1), (1, 4, 1), (1, 4, 1), (1, 4, 1)),
    "abs": ((1, 1, 1), (1, 1, 1), (1, 3, 1), (1, 4, 1), (1, 4, 1)),
    "sigmoid": ((1, 7, 1), (1, 8, 2), (2, 26, 5), (3, 44, 9), (4, 71, 14)),
    "asinh": ((1, 1, 1), (1, 6, 1), (1, 20, 4), (2, 53, 9), (2, 73, 14)),
    "acosh": ((1, 1, 1), (1, 9, 2), (2, 51, 10), (3, 100, 21), (4, 197, 44)),
    "atanh": ((1, 1, 1), (1, 8, 1), (1, 12, 3), (2, 31, 6), (2, 39, 9)),
    "expm1": ((1, 1, 1), (1, 1, 1), (1, 1, 1), (1, 1, 1), (1, 1, 1)),
    "log1p": ((1, 1, 1), (1, 4, 1), (1, 10, 2), (1, 14, 3), (1, 18, 4)),
    "rsqrt": ((1, 2, 1), (1, 4, 1), (1, 4, 1), (1, 4, 1), (1, 4, 1)),
    "square": ((1, 2, 1), (1, 2, 1), (1, 1, 0), (0, 1, 0), (0, 1, 0)),
    "sign": ((1, 1, 1), (1, 3, 1), (1, 4, 1), (1, 4, 1), (1, 4, 1)),
    "floor": ((1, 1, 1), (1, 1, 1), (1, 1, 1), (1, 1, 1), (1, 1, 1)),
    "sinc": ((1, 1, 1), (1, 2, 1), (1, 2, 1), (1, 2, 1), (1, 2, 1)),
    "erf": ((1, 1, 1), (1, 10, 1), (1, 10, 2), (2, 23, 3), (2, 23, 4)),
    "erfc": ((1, 1, 1), (1, 10, 1), (1, 10, 2), (2, 23, 3), (2, 23, 4)),
    "erfinv": ((1, 1, 1), (1, 9, 1), (1, 10, 2), (2, 25, 3), (2, 27, 4)),
    "lgamma": ((1, 1, 1), (1, 2, 1), (1, 2, 1), (1, 2, 1), (1, 2, 1)),
    "digamma": ((1, 2, 1), (1, 2, 1), (1, 2, 1), (1, 2, 1), (1, 2, 1)),
    "softplus": ((1, 2, 1), (1, 7, 2), (2, 23, 5), (3, 43, 9), (4, 68, 14)),
    "log_sigmoid": ((1, 6, 1), (1, 5, 1), (2, 18, 3), (3, 35, 6), (4, 59, 10)),
    "relu": ((1, 2, 1), (1, 2, 1), (1, 1, 1), (1, 2, 1), (1, 2, 1)),
    "relu6": ((1, 4, 1), (1, 11, 2), (2, 22, 4), (3, 34, 7), (5, 58, 12)),
    "leaky_relu": ((2, 7, 2), (2, 9, 2), (1, 3, 1), (1, 4, 1), (1, 4, 1)),
    "elu": ((2, 6, 2), (2, 11, 3), (3, 18, 5), (4, 30, 8), (6, 51, 13)),
    "selu": ((2, 10, 2), (2, 14, 3), (3, 21, 5), (4, 33, 8), (6, 54, 13)),
    "silu": ((1, 8, 2), (2, 17, 4), (3, 36, 9), (5, 70, 17), (7, 116, 27)),
    "gelu": ((2, 11, 3), (3, 23, 3), (2, 28, 3), (2, 29, 4), (3, 44, 5)),
    "gelu_tanh": ((1, 26, 3), (3, 152, 12), (8, 530, 45), (19, 1539, 123), (37, 3386, 269)),
    "softsign": ((1, 6, 2), (2, 18, 5), (3, 45, 13), (5, 88, 26), (8, 162, 49)),
    "hard_sigmoid": ((1, 8, 1), (1, 16, 2), (2, 31, 4), (3, 49, 7), (5, 83, 12)),
    "mish": ((1, 4, 2), (3, 24, 8), (8, 114, 31), (16, 286, 70), (26, 557, 131)),
    "clip": ((1, 4, 1), (1, 13, 2), (2, 26, 4), (3, 42, 7), (5, 72, 12)),
    "minimum": ((1, 1, 1), (1, 5, 1), (1, 6, 1), (1, 7, 1), (1, 7, 1)),
    "maximum": ((1, 1, 1), (1, 5, 1), (1, 6, 1), (1, 7, 1), (1, 7, 1)),
    "atan2": ((1, 1, 1), (1, 9, 2), (2, 25, 4), (2, 39, 7), (4, 93, 14)),
    "hypot": ((1, 7, 1), (1, 8, 2), (2, 35, 5), (2, 66, 10), (4, 161, 22)),
    "xlogy": ((1, 1, 1), (1, 3, 1), (1, 4, 1), (1, 4, 1), (1, 4, 1)),
}
#: Beyond the table (orders above 4 are refused elsewhere): its last row, scaled.
_FALLBACK = (4, 100, 16)

#: ``t**c`` and ``1/t`` (SymPy's ``t**-1``): c*(c-1)*...*t**(c - m), one term.
_POWER = (1, 3, 1)

#: A node's derivatives: (mask of the partial's variables in it, terms per key, nodes
#: per key, whether the node is a sum). Key 0 is the node itself.
_Sizes = tuple[int, list[int], list[int], bool]


def derivative_cost(expr: Expr, partials: Iterable[Sequence[str]]) -> int:
    """Estimated nodes SymPy builds for f and each partial (a tuple of variables:
    ``("x", "x")`` is d2f/dx2), every intermediate derivative included: ``diff(f, x,
    x, x)`` builds f', f'' and f''' on the way. Grows with the order and the nesting."""
    total = _tree_size(expr)
    for partial in dict.fromkeys(tuple(p) for p in partials):
        if partial:
            total += _Walk(partial).prefixes(expr)
    return min(total, CAP)


class _Walk:
    """Sizes of every node's derivatives by each sub-multiset ("key") of one partial."""

    def __init__(self, partial: tuple[str, ...]) -> None:
        self.partial = partial
        self.shapes = _Shapes()
        names = list(dict.fromkeys(partial))
        self.bit = {name: 1 << i for i, name in enumerate(names)}
        full = tuple(partial.count(name) for name in names)
        keys: list[tuple[int, ...]] = [()]
        for count in full:
            keys = [(*key, c) for key in keys for c in range(count + 1)]
        keys.sort(key=sum)  # the empty key first; a key's parts before it
        self.keys = keys
        index = {key: i for i, key in enumerate(keys)}
        self.index = index
        #: Leibniz: for each key, its splits into (left key, right key).
        self.splits = [
            [(index[a], index[_minus(key, a)]) for a in keys if _within(a, key)] for key in keys
        ]
        #: Faà di Bruno: for each key, its multiset partitions into nonempty blocks.
        self.partitions = [
            [tuple(index[b] for b in blocks) for blocks in _partitions(key, key)] for key in keys
        ]
        #: The keys of the partial's prefixes (f', f'', ...), as SymPy builds them.
        self.chain = [
            index[tuple(partial[:j].count(name) for name in names)]
            for j in range(1, len(partial) + 1)
        ]
        #: The keys of one variable: a node whose first derivatives are single terms
        #: is merged into the product it is a factor of (see :meth:`factor`).
        self.singles = [i for i, key in enumerate(keys) if sum(key) == 1]

    def prefixes(self, expr: Expr) -> int:
        _, _, nodes, _ = self.node(expr)
        return min(sum(nodes[k] for k in self.chain), CAP)

    # -- the recurrences

    def node(self, e: Expr) -> _Sizes:
        """(variable mask, terms per key, nodes per key, whether a sum); key 0 is the
        node itself, one term."""
        n = len(self.keys)
        if isinstance(e, (Num, Const)):
            return 0, [1] + [0] * (n - 1), [1] + [0] * (n - 1), False
        if isinstance(e, Var):
            terms, nodes = [1] + [0] * (n - 1), [1] + [0] * (n - 1)
            bit = self.bit.get(e.name, 0)
            if bit:
                one = self.index[tuple(1 if b == bit else 0 for b in self.bit.values())]
                terms[one] = nodes[one] = 1
            return bit, terms, nodes, False
        if isinstance(e, Unary):
            mask, terms, nodes, is_sum = self.node(e.operand)
            if e.op == "neg":  # -a is Mul(-1, a), -(a + b) is -a - b: a node more per term
                nodes = [min(z + t, CAP) for t, z in zip(terms, nodes, strict=True)]
            return mask, terms, nodes, is_sum
        if isinstance(e, Binary):
            return self.binary(e)
        if isinstance(e, Call):
            u = self.inputs(e)
            table = _FUNCTIONS.get(e.func, ())
            terms, nodes = self.chain_rule(table, u)
            head = table[0] if table else _FALLBACK
            nodes[0] = min(head[1] + head[2] * u[2][0], CAP)
            return u[0], terms, nodes, False
        raise TypeError(f"not an expression node: {e!r}")

    def inputs(self, e: Call) -> _Sizes:
        """A call's inputs as one: two inputs are sized as their sum, each block of
        Faà di Bruno's formula going to either (the function's partials are sized by
        the largest of them); parameters are numbers, no input."""
        sizes = [self.node(arg) for arg in e.args[: FUNCTIONS[e.func].arity]]
        if len(sizes) == 1:
            return sizes[0]
        a, b = sizes
        terms = [min(x + y, CAP) for x, y in zip(a[1], b[1], strict=True)]
        nodes = [min(x + y, CAP) for x, y in zip(a[2], b[2], strict=True)]
        terms[0], nodes[0] = 1, a[2][0] + b[2][0] + 1
        return a[0] | b[0], terms, nodes, True

    def binary(self, e: Binary) -> _Sizes:
        if e.op == "mul":
            factors = _factors(e)
            same = self.shapes.group(factors)
            if len(same) < len(factors):
                return self.powers(same)
        a, b = self.node(e.left), self.node(e.right)
        mask = a[0] | b[0]
        size = a[2][0] + b[2][0] + 1
        if e.op in ("add", "sub"):  # a - b is Add(a, Mul(-1, b)): a node more per term
            neg = 1 if e.op == "sub" else 0
            terms = [min(x + y, CAP) for x, y in zip(a[1], b[1], strict=True)]
            nodes = [min(x + y + neg * t, CAP) for x, y, t in zip(a[2], b[2], b[1], strict=True)]
            terms[0], nodes[0] = 1, size + 2 * neg
            return mask, terms, nodes, True
        if e.op == "mul":
            terms, nodes = self.leibniz(a, b)
            nodes[0] = size
            return mask, terms, nodes, False
        if e.op == "div":  # a / b is Mul(a, Pow(b, -1))
            terms, nodes = self.chain_rule((_POWER,) * 5, b)
            nodes[0] = b[2][0] + 2
            terms, nodes = self.leibniz(a, (b[0], terms, nodes, False))
            nodes[0] = size + 2
            return mask, terms, nodes, False
        if not b[0]:  # a constant exponent: the power rule (x**3 has no 4th derivative)
            table: tuple[tuple[int, int, int], ...] = (_POWER,) * 5
            if isinstance(e.right, Num) and e.right.value == int(e.right.value) >= 0:
                table = tuple(_POWER if m <= e.right.value else (0, 0, 0) for m in range(5))
            terms, nodes = self.chain_rule(table, a)
        else:  # a**b as SymPy differentiates it: exp(b*log(a))
            t, z = self.chain_rule(_FUNCTIONS["log"], a)
            z[0] = a[2][0] + 1
            t, z = self.leibniz(b, (a[0], t, z, False))
            z[0] = size + 1
            terms, nodes = self.chain_rule(_FUNCTIONS["exp"], (mask, t, z, False))
        nodes[0] = size
        return mask, terms, nodes, False

    def powers(self, groups: list[tuple[Expr, int]]) -> _Sizes:
        """A product with repeated factors, as SymPy writes it: ``a*a*b`` is
        ``a**2*b`` (40 equal factors are one power, not 40 terms of a product rule)."""
        product: _Sizes | None = None
        for factor, times in groups:
            d = self.node(factor)
            if times > 1:
                table = tuple(_POWER if m <= times else (0, 0, 0) for m in range(5))
                terms, nodes = self.chain_rule(table, d)
                d = (d[0], terms, [d[2][0] + 2, *nodes[1:]], False)
            if product is None:
                product = d
            else:
                terms, nodes = self.leibniz(product, d)
                nodes[0] = product[2][0] + d[2][0] + 1
                product = (product[0] | d[0], terms, nodes, False)
        assert product is not None
        return product

    def factor(self, d: _Sizes, merged: bool) -> tuple[list[int], list[int]]:
        """A node's derivatives as a factor of a product. SymPy's products are flat and
        its product rule distributes over every factor, so a derivative that SymPy
        merged into the product contributes each of its terms separately; one that is
        a sum (``cos(u)*(1 + 2*x)``: u' is a sum) stays a single factor, and so do its
        own derivatives."""
        _, terms, nodes, _ = d
        if merged or all(terms[i] <= 1 for i in self.singles):
            return terms, nodes
        return [1 if t else 0 for t in terms], [z + 1 if t else 0 for t, z in zip(
            terms, nodes, strict=True)]

    def leibniz(self, a: _Sizes, b: _Sizes) -> tuple[list[int], list[int]]:
        """a*b: each split of a key once (equal terms merge, as in SymPy); each term
        repeats the other factor's part whole. A product factor is flat in SymPy."""
        ta, za = self.factor(a, not a[3])
        tb, zb = self.factor(b, not b[3])
        terms, nodes = [1], [za[0] + zb[0] + 1]
        for splits in self.splits[1:]:
            t = z = 0
            for i, j in splits:
                if ta[i] and tb[j]:
                    t += ta[i] * tb[j]
                    z += za[i] * tb[j] + zb[j] * ta[i]
            terms.append(min(t, CAP))
            nodes.append(min(z, CAP))
        return terms, nodes

    def chain_rule(
        self, table: Sequence[tuple[int, int, int]], u: _Sizes
    ) -> tuple[list[int], list[int]]:
        """f(u) by Faà di Bruno: a term per multiset partition of the key, f's m-th
        derivative (m blocks, one factor) times u's derivative by each block."""
        tu, zu = self.factor(u, False)
        s0 = zu[0]
        terms, nodes = [1], [s0 + 1]
        for partitions in self.partitions[1:]:
            t = z = 0
            for blocks in partitions:
                m = len(blocks)
                ft, fc, fr = table[m] if m < len(table) else _FALLBACK
                if not ft:
                    continue
                pt, pz = 1, fc + fr * s0
                for k in blocks:
                    if not tu[k]:
                        break
                    pt, pz = pt * tu[k], pz * tu[k] + zu[k] * pt
                else:
                    t += pt
                    z += pz
            terms.append(min(t, CAP))
            nodes.append(min(z, CAP))
        return terms, nodes


def _factors(e: Expr) -> list[Expr]:
    """The factors of a chain of ``*`` (SymPy's flat product)."""
    if isinstance(e, Binary) and e.op == "mul":
        return _factors(e.left) + _factors(e.right)
    return [e]


class _Shapes:
    """Equal subtrees (the same text up to spacing and spans) get the same number."""

    def __init__(self) -> None:
        self.numbers: dict[tuple[object, ...], int] = {}
        self.known: dict[int, tuple[Expr, int]] = {}  # id(node) -> (node, number)

    def of(self, e: Expr) -> int:
        found = self.known.get(id(e))
        if found is not None and found[0] is e:
            return found[1]
        key: tuple[object, ...]
        if isinstance(e, Num):
            key = ("num", e.value)
        elif isinstance(e, Const):
            key = ("const", e.name)
        elif isinstance(e, Var):
            key = ("var", e.name)
        elif isinstance(e, Unary):
            key = (e.op, self.of(e.operand))
        elif isinstance(e, Binary):
            key = (e.op, self.of(e.left), self.of(e.right))
        else:
            key = (e.func, *(self.of(a) for a in e.args))
        number = self.numbers.setdefault(key, len(self.numbers))
        self.known[id(e)] = (e, number)
        return number

    def group(self, items: list[Expr]) -> list[tuple[Expr, int]]:
        """Equal items together, with how many times each appears."""
        groups: dict[int, list[Expr]] = {}
        for item in items:
            groups.setdefault(self.of(item), []).append(item)
        return [(found[0], len(found)) for found in groups.values()]


def _tree_size(e: Expr) -> int:
    """Nodes of the expression as SymPy writes it (``a - b`` is ``a + (-1)*b``)."""
    if isinstance(e, Unary):
        return _tree_size(e.operand) + (2 if e.op == "neg" else 0)
    if isinstance(e, Binary):
        extra = {"add": 1, "sub": 3, "mul": 1, "div": 3, "pow": 1}[e.op]
        return _tree_size(e.left) + _tree_size(e.right) + extra
    if isinstance(e, Call):
        _, other, times = (_FUNCTIONS.get(e.func) or (_FALLBACK,))[0]
        return other + times * sum(_tree_size(a) for a in e.args)
    return 1


def _within(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True))


def _minus(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(x - y for x, y in zip(a, b, strict=True))


def _partitions(
    key: tuple[int, ...], largest: tuple[int, ...]
) -> list[tuple[tuple[int, ...], ...]]:
    """Multiset partitions of ``key`` into nonempty blocks, blocks in non-increasing
    order (each partition once): (2,) gives ((2,),) and ((1,), (1,))."""
    if not any(key):
        return [()]
    found = []
    for block in _blocks(key):
        if block <= largest:
            found += [(block, *rest) for rest in _partitions(_minus(key, block), block)]
    return found


def _blocks(key: tuple[int, ...]) -> list[tuple[int, ...]]:
    blocks: list[tuple[int, ...]] = [()]
    for count in key:
        blocks = [(*b, c) for b in blocks for c in range(count + 1)]
    return [b for b in blocks if any(b)]


__all__ = ["CAP", "derivative_cost"]
