"""The language of declared targets: a closed, SQL-like expression over the curve tables' columns.

A declared target (``search.custom_targets.NAME.expression`` in params.yaml) is untrusted text:
it arrives through git and ``dvc exp run -S`` like any other file. So it is parsed here, by a
small recursive-descent parser, into a tree of a few node kinds, and only that tree is turned
into a polars expression. No general SQL engine ever sees the text, so a subquery, a table
function (``read_csv``, ``read_parquet``), a URL or a path cannot be written at all: nothing is
opened, fetched or evaluated beyond the nodes below. Length, node count and depth are bounded
before anything is built (a 10,000-term sum is refused, not handed to polars).

The language (keywords in any case)::

    expression := disjunction
    disjunction:= conjunction (OR conjunction)*
    conjunction:= negation (AND negation)*
    negation   := NOT negation | comparison
    comparison := sum [ (= | <> | != | < | <= | > | >=) sum
                      | [NOT] IN ( literal, ... ) | [NOT] BETWEEN sum AND sum
                      | IS [NOT] NULL ]
    sum        := product ((+ | -) product)*
    product    := unary ((* | / | %) unary)*
    unary      := (- | +) unary | atom
    atom       := number | 'text' | column | "column" | TRUE | FALSE | NULL
                | function ( expression, ... ) | ( expression )
                | CASE [expression] (WHEN expression THEN expression)+ [ELSE expression] END

Functions: ``ln`` (the natural logarithm), ``log10``, ``log2``, ``exp``, ``sqrt``, ``abs``,
``floor``, ``ceil``, ``sign``, ``round(x[, digits])``, ``power(x, y)``, ``mod(x, y)``,
``greatest(...)``, ``least(...)``, ``coalesce(...)``. ``/`` is true division (a float), ``%``
the remainder; a comparison with a null is null, as in SQL.

The tree's canonical text (:func:`canonical`) writes every literal out, so two expressions
with the same text mean the same question: it is what a cache keys a pair by.

The language is part of what params.yaml may say, so it sits beside the schema
(:mod:`machinery.params`), which refuses a declared target that does not parse or reads no
column (:func:`parse_declared`, :func:`declared_sources`) when params load, without loading the
models that fit it (:func:`models.targets.sql_target` makes the target of the same checks).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Union

import polars as pl

#: Bounds on a declared expression, checked before any tree is built.
MAX_LENGTH = 2000
MAX_NODES = 400
MAX_DEPTH = 40

#: The functions of the language: name -> (least, most arguments; None: any number >= least).
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "ln": (1, 1), "log10": (1, 1), "log2": (1, 1), "exp": (1, 1), "sqrt": (1, 1),
    "abs": (1, 1), "floor": (1, 1), "ceil": (1, 1), "sign": (1, 1), "round": (1, 2),
    "power": (2, 2), "mod": (2, 2), "greatest": (2, None), "least": (2, None),
    "coalesce": (2, None),
}

KEYWORDS = {"and", "or", "not", "in", "is", "null", "between", "case", "when", "then", "else",
            "end", "true", "false"}

#: Words of SQL that reach beyond one expression; named in the error when met.
SQL_BEYOND = {"select", "from", "with", "join", "union", "values", "table", "into", "insert",
              "update", "delete", "create", "drop", "copy", "attach", "install", "load", "pragma",
              "set", "cast", "exists", "over", "filter", "where", "limit", "order", "group"}

HINT = ("the language: columns, numbers, 'text', + - * / %, = <> < <= > >=, AND OR NOT, "
        "IN (...), BETWEEN, IS NULL, CASE WHEN ... THEN ... ELSE ... END, and the functions "
        + ", ".join(FUNCTIONS) + "; ln(x) is the natural logarithm")


class ExpressionError(ValueError):
    """The text is not an expression of the language; the message says where and why."""


class TargetError(ValueError):
    """A declared target (``search.custom_targets``) is not usable; the message names it."""


# --- the tree ----------------------------------------------------------------------------------

Literal = Union[int, float, str, bool, None]


@dataclass(frozen=True)
class Column:
    name: str


@dataclass(frozen=True)
class Constant:
    value: Literal


@dataclass(frozen=True)
class Unary:
    op: str                      # "-", "not"
    operand: "Node"


@dataclass(frozen=True)
class Binary:
    op: str                      # + - * / % = <> < <= > >= and or
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class Among:
    """``operand [NOT] IN (values)``."""
    operand: "Node"
    values: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True)
class IsNull:
    operand: "Node"
    negated: bool


@dataclass(frozen=True)
class Case:
    branches: tuple[tuple["Node", "Node"], ...]       # (condition, value)
    otherwise: "Node | None"


@dataclass(frozen=True)
class Call:
    function: str
    arguments: tuple["Node", ...]


Node = Union[Column, Constant, Unary, Binary, Among, IsNull, Case, Call]


# --- the tokens --------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<text>'(?:[^']|'')*')
  | (?P<quoted>"[A-Za-z_][A-Za-z0-9_]*")
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><>|!=|<=|>=|[-+*/%=<>(),])
""", re.VERBOSE)


@dataclass(frozen=True)
class Token:
    kind: str                    # number, text, name (a column or function), keyword, op, end
    text: str
    column: int                  # 1-based position in the expression


def tokens(text: str) -> list[Token]:
    """The tokens of ``text``; any character outside the language is an error naming it."""
    found, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ExpressionError(f"{_excerpt(text[position])} at column {position + 1} is not "
                                  "part of the language")
        kind, value = match.lastgroup, match.group()
        if kind == "word":
            lower = value.lower()
            if lower in SQL_BEYOND:
                raise ExpressionError(f"{value.upper()} at column {position + 1}: subqueries, "
                                      "tables and casts are outside the language")
            kind, value = ("keyword", lower) if lower in KEYWORDS else ("name", value)
        elif kind == "quoted":
            kind, value = "name", value[1:-1]
        if kind != "space":
            found.append(Token(kind, value, position + 1))
        position = match.end()
    found.append(Token("end", "", len(text) + 1))
    return found


def _excerpt(text: str, size: int = 40) -> str:
    return repr(text if len(text) <= size else text[:size] + "...")


# --- the parser --------------------------------------------------------------------------------

class _Parser:
    def __init__(self, text: str):
        self.tokens = tokens(text)
        self.at = 0
        self.nodes = 0
        self.depth = 0

    # helpers
    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.at + offset, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.peek()
        self.at += 1
        return token

    def accept(self, kind: str, *texts: str) -> Token | None:
        token = self.peek()
        if token.kind == kind and (not texts or token.text in texts):
            return self.take()
        return None

    def expect(self, kind: str, text: str) -> Token:
        token = self.accept(kind, text)
        if token is None:
            raise self.error(f"expected {text.upper() if kind == 'keyword' else text!r}")
        return token

    def error(self, message: str) -> ExpressionError:
        token = self.peek()
        where = ("at the end" if token.kind == "end"
                 else f"at column {token.column} ({token.text!r})")
        return ExpressionError(f"{message} {where}")

    def node(self, node: Node) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ExpressionError(f"more than {MAX_NODES} terms: too long for a declared target")
        return node

    def nested(self, parse):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nested more than {MAX_DEPTH} deep")
        try:
            return parse()
        finally:
            self.depth -= 1

    # grammar
    def expression(self) -> Node:
        return self.nested(self.disjunction)

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.accept("keyword", "or"):
            node = self.node(Binary("or", node, self.conjunction()))
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.accept("keyword", "and"):
            node = self.node(Binary("and", node, self.negation()))
        return node

    def negation(self) -> Node:
        if self.accept("keyword", "not"):
            return self.node(Unary("not", self.nested(self.negation)))
        return self.comparison()

    def comparison(self) -> Node:
        left = self.sum()
        operator = self.accept("op", "=", "<>", "!=", "<", "<=", ">", ">=")
        if operator:
            op = "<>" if operator.text == "!=" else operator.text
            return self.node(Binary(op, left, self.sum()))
        if self.accept("keyword", "is"):
            negated = self.accept("keyword", "not") is not None
            self.expect("keyword", "null")
            return self.node(IsNull(left, negated))
        negated = False
        if self.peek().kind == "keyword" and self.peek().text == "not" and \
                self.peek(1).kind == "keyword" and self.peek(1).text in ("in", "between"):
            self.take()
            negated = True
        if self.accept("keyword", "in"):
            return self.node(Among(left, self.literal_list(), negated))
        if self.accept("keyword", "between"):
            low = self.sum()
            self.expect("keyword", "and")
            high = self.sum()
            inside = self.node(Binary("and", self.node(Binary(">=", left, low)),
                                      self.node(Binary("<=", left, high))))
            return self.node(Unary("not", inside)) if negated else inside
        return left

    def literal_list(self) -> tuple[Literal, ...]:
        self.expect("op", "(")
        values = [self.literal()]
        while self.accept("op", ","):
            values.append(self.literal())
        self.expect("op", ")")
        kinds = {type(v) in (int, float) for v in values}
        if len(kinds) > 1:
            raise ExpressionError("an IN list mixes numbers and text")
        return tuple(values)

    def literal(self) -> Literal:
        sign = -1 if self.accept("op", "-") else 1
        token = self.take()
        self.node(Constant(None))             # an IN list's values count as terms too
        if token.kind == "number":
            return sign * _number(token)
        if token.kind == "text" and sign == 1:
            return token.text[1:-1].replace("''", "'")
        self.at -= 1
        raise self.error("an IN list holds numbers or 'text' only")

    def sum(self) -> Node:
        node = self.product()
        while operator := self.accept("op", "+", "-"):
            node = self.node(Binary(operator.text, node, self.product()))
        return node

    def product(self) -> Node:
        node = self.unary()
        while operator := self.accept("op", "*", "/", "%"):
            node = self.node(Binary(operator.text, node, self.unary()))
        return node

    def unary(self) -> Node:
        if self.accept("op", "-"):
            operand = self.nested(self.unary)
            if isinstance(operand, Constant) and type(operand.value) in (int, float):
                return Constant(-operand.value)
            return self.node(Unary("-", operand))
        if self.accept("op", "+"):
            return self.nested(self.unary)
        return self.atom()

    def atom(self) -> Node:
        token = self.peek()
        if token.kind == "number":
            self.take()
            return self.node(Constant(_number(token)))
        if token.kind == "text":
            self.take()
            return self.node(Constant(token.text[1:-1].replace("''", "'")))
        if token.kind == "keyword" and token.text in ("true", "false", "null"):
            self.take()
            return self.node(Constant({"true": True, "false": False, "null": None}[token.text]))
        if token.kind == "keyword" and token.text == "case":
            self.take()
            return self.case()
        if self.accept("op", "("):
            node = self.expression()
            self.expect("op", ")")
            return node
        if token.kind == "name":
            self.take()
            if self.peek().kind == "op" and self.peek().text == "(":
                return self.call(token)
            return self.node(Column(token.text))
        raise self.error("expected a column, a number, a function or '('")

    def call(self, name: Token) -> Node:
        function = name.text.lower()
        if function not in FUNCTIONS:
            raise ExpressionError(f"unknown function {name.text!r} at column {name.column} "
                                  "(there are no table or file functions)")
        self.expect("op", "(")
        arguments = [self.expression()]
        while self.accept("op", ","):
            arguments.append(self.expression())
        self.expect("op", ")")
        least, most = FUNCTIONS[function]
        if not least <= len(arguments) <= (most if most is not None else len(arguments)):
            count = str(least) if least == most else f"{least} to {most}" if most else \
                f"at least {least}"
            raise ExpressionError(f"{function} at column {name.column} takes {count} "
                                  f"argument{'s' if count != '1' else ''}, got {len(arguments)}")
        if function == "round" and len(arguments) == 2 and not (
                isinstance(arguments[1], Constant) and type(arguments[1].value) is int):
            raise ExpressionError(f"round at column {name.column}: the digits must be an integer")
        return self.node(Call(function, tuple(arguments)))

    def case(self) -> Node:
        operand = None
        if not (self.peek().kind == "keyword" and self.peek().text == "when"):
            operand = self.expression()
        branches = []
        while self.accept("keyword", "when"):
            condition = self.expression()
            if operand is not None:
                condition = self.node(Binary("=", operand, condition))
            self.expect("keyword", "then")
            branches.append((condition, self.expression()))
        if not branches:
            raise self.error("CASE needs at least one WHEN ... THEN ...")
        otherwise = self.expression() if self.accept("keyword", "else") else None
        self.expect("keyword", "end")
        return self.node(Case(tuple(branches), otherwise))


def _number(token: Token) -> int | float:
    text = token.text
    if re.fullmatch(r"\d+", text):
        value = int(text)
        if value >= 2 ** 63:
            raise ExpressionError(f"the integer at column {token.column} is beyond 64 bits")
        return value
    value = float(text)
    if not math.isfinite(value):
        raise ExpressionError(f"the number at column {token.column} is not finite")
    return value


def parse(text: str) -> Node:
    """The tree of ``text``, or :class:`ExpressionError` saying where it leaves the language.
    Length is checked first, then every token, then the grammar with its node and depth bounds:
    nothing is built for a text that fails."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"{len(text)} characters, more than {MAX_LENGTH}: too long for a "
                              "declared target")
    parser = _Parser(text)
    node = parser.expression()
    if parser.peek().kind != "end":
        raise parser.error("unexpected text")
    return node


# --- what a tree reads, says and computes ------------------------------------------------------

def children(node: Node) -> list[Node]:
    if isinstance(node, Unary):
        return [node.operand]
    if isinstance(node, Binary):
        return [node.left, node.right]
    if isinstance(node, (Among, IsNull)):
        return [node.operand]
    if isinstance(node, Case):
        return [part for branch in node.branches for part in branch] + (
            [node.otherwise] if node.otherwise is not None else [])
    if isinstance(node, Call):
        return list(node.arguments)
    return []


def columns(node: Node) -> tuple[str, ...]:
    """The columns ``node`` reads, in order of first appearance."""
    found: dict[str, None] = {}
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Column):
            found.setdefault(current.name)
        stack.extend(reversed(children(current)))
    return tuple(found)


def _literal_text(value: Literal) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)            # repr keeps every digit of a float, and int vs float


def canonical(node: Node) -> str:
    """The tree as fully parenthesised text with every literal written out: equal texts are
    equal questions (whitespace, keyword case, ``!=`` and redundant parentheses aside)."""
    if isinstance(node, Column):
        return f'"{node.name}"'
    if isinstance(node, Constant):
        return _literal_text(node.value)
    if isinstance(node, Unary):
        return f"({node.op.upper()} {canonical(node.operand)})"
    if isinstance(node, Binary):
        return f"({canonical(node.left)} {node.op.upper()} {canonical(node.right)})"
    if isinstance(node, Among):
        values = ", ".join(_literal_text(v) for v in node.values)
        return f"({canonical(node.operand)} {'NOT IN' if node.negated else 'IN'} ({values}))"
    if isinstance(node, IsNull):
        return f"({canonical(node.operand)} IS {'NOT NULL' if node.negated else 'NULL'})"
    if isinstance(node, Case):
        parts = " ".join(f"WHEN {canonical(c)} THEN {canonical(v)}" for c, v in node.branches)
        otherwise = f" ELSE {canonical(node.otherwise)}" if node.otherwise is not None else ""
        return f"(CASE {parts}{otherwise} END)"
    return f"{node.function}({', '.join(canonical(a) for a in node.arguments)})"


_BINARY = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: a / b, "%": lambda a, b: a % b, "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "and": lambda a, b: a & b,
    "or": lambda a, b: a | b,
}

_FLOAT = pl.Float64


def _call(function: str, arguments: list[pl.Expr], nodes: tuple[Node, ...]) -> pl.Expr:
    first = arguments[0]
    if function == "ln":
        return first.cast(_FLOAT).log()
    if function in ("log10", "log2"):
        return first.cast(_FLOAT).log(10 if function == "log10" else 2)
    if function in ("exp", "sqrt", "floor", "ceil"):
        return getattr(first.cast(_FLOAT), function)()
    if function == "abs":
        return first.abs()
    if function == "sign":
        return first.sign()
    if function == "round":
        digits = nodes[1].value if len(nodes) == 2 else 0
        return first.cast(_FLOAT).round(digits)
    if function == "power":
        return first.cast(_FLOAT).pow(arguments[1])
    if function == "mod":
        return first % arguments[1]
    if function == "greatest":
        return pl.max_horizontal(arguments)
    if function == "least":
        return pl.min_horizontal(arguments)
    return pl.coalesce(arguments)           # coalesce


def to_polars(node: Node) -> pl.Expr:
    """The polars expression computing ``node`` on a frame of the curve tables."""
    if isinstance(node, Column):
        return pl.col(node.name)
    if isinstance(node, Constant):
        return pl.lit(node.value)
    if isinstance(node, Unary):
        operand = to_polars(node.operand)
        return -operand if node.op == "-" else ~operand
    if isinstance(node, Binary):
        return _BINARY[node.op](to_polars(node.left), to_polars(node.right))
    if isinstance(node, Among):
        found = to_polars(node.operand).is_in(list(node.values))
        return ~found if node.negated else found
    if isinstance(node, IsNull):
        operand = to_polars(node.operand)
        return operand.is_not_null() if node.negated else operand.is_null()
    if isinstance(node, Case):
        (condition, value), *rest = node.branches
        chain = pl.when(to_polars(condition)).then(to_polars(value))
        for condition, value in rest:
            chain = chain.when(to_polars(condition)).then(to_polars(value))
        return chain.otherwise(to_polars(node.otherwise) if node.otherwise is not None
                               else pl.lit(None))
    return _call(node.function, [to_polars(a) for a in node.arguments], node.arguments)


# --- a declared target's expression ------------------------------------------------------------

def parse_declared(name: str, expression: str) -> Node:
    """The tree of a declared target's expression; an error names the field and the place."""
    try:
        return parse(expression)
    except ExpressionError as err:
        shown = expression if len(expression) <= 80 else expression[:80] + "..."
        raise TargetError(f"search.custom_targets.{name}.expression: {shown!r} does not parse: "
                          f"{err} ({HINT})") from None


def declared_sources(name: str, expression: str, tree: Node) -> tuple[str, ...]:
    """The columns a declared target's ``tree`` (of ``expression``) reads, its sources; one
    that reads none is refused, since its value would be the same on every curve."""
    sources = columns(tree)
    if not sources:
        raise TargetError(f"search.custom_targets.{name}.expression: {expression!r} reads no "
                          "column (a constant is no target)")
    return sources
